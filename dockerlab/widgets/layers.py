"""LayerTree: an image's layers and files, dive-style, with per-file history and diffs."""

from __future__ import annotations

import html
import math
from typing import Any

import ipywidgets as w
from traitlets import Bool, Int, TraitError, Unicode, observe, validate

from dockerlab.widgets import _model as m
from dockerlab.widgets import svg
from dockerlab.widgets._base import (
    BORDER,
    MUTED,
    STYLE,
    friendly_init,
    guarded,
    lookup_image,
    one_line,
    resolve_engine,
)
from dockerlab.widgets.i18n import t
from dockerlab.widgets.static import StaticPicture

#: Files bigger than this are not read to draw diffs between their versions.
DIFF_LIMIT = 1 << 20
#: At most this many versions of a file are diffed (the newest ones).
MAX_VERSIONS = 10


class LayerTree(StaticPicture, w.VBox):
    """The layers of ``image`` (numbered, 0 = base) with size and creating command; the file
    tree of the selected layer — its own changes, or everything up to it (``cumulative``) —
    coloured added / modified / removed and filterable per kind; dive's efficiency score and
    wasted bytes; and for a selected file, the layers that touched it, its content and the
    unified diffs between its versions.

    Everything a click does is a method: :meth:`select_layer`, :meth:`set_cumulative`,
    :meth:`set_filter`, :meth:`search`, :meth:`select_file`.
    """

    image = Unicode(read_only=True)
    selected_layer = Int(0)
    cumulative = Bool(False)
    show_added = Bool(True)
    show_modified = Bool(True)
    show_removed = Bool(True)
    show_unchanged = Bool(True)
    pattern = Unicode("")
    selected_file = Unicode("")

    @friendly_init
    def __init__(self, image: str, engine: Any = None, **kwargs: Any) -> None:
        self._engine = resolve_engine(engine)
        self._id = lookup_image(self._engine, image, "LayerTree")["Id"]
        self.layers: list[dict[str, Any]] = self._engine.image_layers(self._id)
        self._own: dict[int, list[dict[str, Any]]] = {}
        self._cum: dict[int, list[dict[str, Any]]] = {}
        #: The entries of the view (selected layer, mode), before filtering.
        self.files: list[dict[str, Any]] = []
        #: The entries shown (after the kind filters and the path pattern).
        self.view_files: list[dict[str, Any]] = []
        #: The selected file's ``file_history``: ``[{"Index", "Kind", "Size"}]``.
        self.file_history: list[dict[str, Any]] = []
        #: The selected file's content as shown (text, truncated, or a description).
        self.file_content = ""
        #: Unified diffs between the selected file's versions: ``[(from, to, text)]``.
        self.file_diffs: list[tuple[int, int, str]] = []
        self.efficiency = m.efficiency(
            [
                (r["Index"], self._layer_files(r["Index"]))
                for r in self.layers
                if not r["EmptyLayer"]
            ],
            [r["Size"] for r in self.layers if not r["EmptyLayer"]],
        )

        self._header = w.HTML()
        self._layer_list = w.Select(
            rows=min(max(len(self.layers), 2), 10), layout=w.Layout(width="100%")
        )
        self._layer_list.add_class("dl-mono")
        self._mode = w.ToggleButtons(
            options=[(t("this_layer"), False), (t("up_to_it"), True)],
            style={"button_width": "auto"},
        )
        self._kind_boxes = {
            kind: w.Checkbox(
                value=True,
                description=t(m.KIND_NAMES[kind]),
                indent=False,
                layout=w.Layout(width="auto"),
            )
            for kind in "ACDU"
        }
        self._search = w.Text(placeholder=t("path_contains"), layout=w.Layout(width="220px"))
        self._tree = w.HTML(
            layout=w.Layout(
                max_height="420px", overflow="auto", border=f"1px solid {BORDER}", padding="4px"
            )
        )
        self._pick = w.Combobox(
            placeholder=t("pick_path"),
            ensure_option=False,
            layout=w.Layout(width="100%"),
        )
        self._pick.add_class("dl-mono")
        self._file = w.HTML()
        self._message = w.HTML()
        self._header.add_class("dl-wrap")  # a long command wraps instead of being cut

        self._layer_list.options = [(self._layer_label(r), r["Index"]) for r in self.layers]
        super().__init__(**kwargs)
        self.set_trait("image", image)
        self.set_trait("selected_layer", self._default_layer())
        self._layer_list.value = self.selected_layer
        self._layer_list.observe(lambda ch: self._do(self.select_layer, ch["new"]), "value")
        self._mode.observe(lambda ch: self._do(self.set_cumulative, ch["new"]), "value")
        for kind, box in self._kind_boxes.items():
            box.observe(lambda ch, k=kind: self._do(self._set_kind, k, ch["new"]), "value")
        self._search.observe(lambda ch: self._do(self.search, ch["new"]), "value")
        self._pick.observe(self._on_pick, "value")
        self._pick.on_msg(self._on_pick_msg)  # Enter in the path box
        legend = w.HTML(svg.legend([(t(m.KIND_NAMES[k]), m.KIND_COLOURS[k]) for k in "ACDU"]))
        filters = w.HBox([*self._kind_boxes.values(), self._search])
        self.children = [
            w.HTML(STYLE),
            self._header,
            w.HBox(
                [
                    w.VBox(
                        [w.HTML(t("layers_heading")), self._layer_list],
                        layout=w.Layout(width="45%"),
                    ),
                    w.VBox([self._mode, filters, legend, self._tree], layout=w.Layout(width="55%")),
                ]
            ),
            self._pick,
            self._message,
            self._file,
        ]
        self._render_header()
        self._refresh_view()

    # ---- text repr ------------------------------------------------------------------------
    def __repr__(self) -> str:
        parts = [f"{len(self.layers)} layers", f"selected {self.selected_layer}"]
        if self.cumulative:
            parts.append("cumulative")
        hidden = [m.KIND_NAMES[k] for k in "ACDU" if not self._shown(k)]
        if hidden:
            parts.append("hiding " + "+".join(hidden))
        if self.selected_file:
            parts.append(f"file {self.selected_file}")
        return f"LayerTree({m.short_ref(self.image)}: {', '.join(parts)})"

    def summary(self) -> str:
        """A few stable lines: the layers and the efficiency, for notebooks and tests."""
        eff = self.efficiency
        lines = [
            f"{self.image}: {len(self.layers)} layers, efficiency "
            f"{_percent(eff.score)} %, wasted {m.human_size(eff.wasted_bytes)}"
        ]
        for r in self.layers:
            mark = ">" if r["Index"] == self.selected_layer else " "
            lines.append(
                f"{mark} {r['Index']:>2}  {m.human_size(r['Size']):>8}  "
                f"{_command(r['CreatedBy'], 70)}"
            )
        return "\n".join(lines)

    def tree_text(self, limit: int = 0) -> list[str]:
        """The shown tree as text lines (``A ├── name``)."""
        return m.tree_text(m.build_tree(self.view_files), limit)

    # ---- actions (each one what a click does) ---------------------------------------------
    def select_layer(self, index: int) -> None:
        """Show layer ``index`` (0 = base; a negative index counts from the top)."""
        if index < 0:
            index += len(self.layers)
        self.selected_layer = index

    def set_cumulative(self, cumulative: bool = True) -> None:
        """Show everything up to the layer (True) or only the layer's own changes (False)."""
        self.cumulative = bool(cumulative)

    def set_filter(
        self,
        added: bool | None = None,
        modified: bool | None = None,
        removed: bool | None = None,
        unchanged: bool | None = None,
    ) -> None:
        """Show or hide entries per kind; None leaves a kind as it is."""
        with self.hold_trait_notifications():
            for name, value in (
                ("show_added", added),
                ("show_modified", modified),
                ("show_removed", removed),
                ("show_unchanged", unchanged),
            ):
                if value is not None:
                    setattr(self, name, bool(value))

    def search(self, pattern: str) -> None:
        """Show only paths containing ``pattern`` ("" shows all)."""
        self.pattern = pattern

    def select_file(self, path: str) -> None:
        """Show which layers touched ``path``, its content at the selected layer and the diffs
        between its versions; "" clears the selection."""
        if path and not path.startswith("/"):
            path = "/" + path
        path = path.rstrip("/") or ("/" if path else "")
        if path and not self._engine.file_history(self._id, path):
            raise one_line(ValueError(t("no_file", image=self.shown_image, path=path)))
        self.selected_file = path

    # ---- traits ---------------------------------------------------------------------------
    @validate("selected_layer")
    def _check_layer(self, proposal: dict[str, Any]) -> int:
        index = proposal["value"]
        if not 0 <= index < len(self.layers):
            raise TraitError(
                f"layer {index} out of range: {self.image} has "
                f"{len(self.layers)} layers (0 to {len(self.layers) - 1})"
            )
        return index

    @observe("selected_layer")
    def _on_layer(self, change: dict[str, Any]) -> None:
        self._layer_list.value = change["new"]
        self._render_header()
        self._refresh_view()
        if self.selected_file:
            self._render_file()

    @observe("cumulative")
    def _on_mode(self, change: dict[str, Any]) -> None:
        self._mode.value = change["new"]
        self._refresh_view()

    @observe("show_added", "show_modified", "show_removed", "show_unchanged", "pattern")
    def _on_filter(self, change: dict[str, Any]) -> None:
        for kind, box in self._kind_boxes.items():
            box.value = self._shown(kind)
        self._search.value = self.pattern
        self._render_view()

    @observe("selected_file")
    def _on_file(self, change: dict[str, Any]) -> None:
        if self._pick.value != change["new"]:
            self._pick.value = change["new"]
        self._render_tree()
        self._render_file()

    # ---- data -----------------------------------------------------------------------------
    def _default_layer(self) -> int:
        """The top layer that holds files (the top one if none does)."""
        for r in reversed(self.layers):
            if not r["EmptyLayer"]:
                return r["Index"]
        return len(self.layers) - 1

    def _layer_files(self, index: int) -> list[dict[str, Any]]:
        if index not in self._own:
            self._own[index] = self._engine.layer_files(self._id, index)
        return self._own[index]

    def _view(self) -> list[dict[str, Any]]:
        """The entries of the selected layer in the current mode. In the cumulative view an
        entry keeps its kind only if the selected layer made it (as dive colours it); the
        rest is "U", and the layer's removals are added."""
        index = self.selected_layer
        own = self._layer_files(index)
        if not self.cumulative:
            return own
        if index not in self._cum:
            self._cum[index] = self._engine.layer_files(self._id, index, cumulative=True)
        kinds = {f["Path"]: f["Kind"] for f in own}
        out = []
        for f in self._cum[index]:
            item = dict(f)
            item["Kind"] = kinds.get(f["Path"], "U")
            out.append(item)
        out.extend(dict(f) for f in own if f["Kind"] == "D")
        return out

    def _shown(self, kind: str) -> bool:
        return {
            "A": self.show_added,
            "C": self.show_modified,
            "D": self.show_removed,
            "U": self.show_unchanged,
        }[kind]

    def _set_kind(self, kind: str, value: bool) -> None:
        self.set_filter(**{m.KIND_NAMES[kind]: value})

    @property
    def shown_image(self) -> str:
        """The image as the widget names it: the reference given, an ID cut to 12 digits."""
        ref = self.image
        text = ref[7:] if ref.startswith("sha256:") else ref
        return text[:12] if m.short_ref(ref) == "<id>" else ref

    def _ref_for_errors(self) -> str:
        return self.shown_image

    @guarded
    def _do(self, action: Any, *args: Any) -> Any:
        """A click's action; an error shows in the widget (see ``guarded``). What was read
        before still shows once the image is gone, and the widget says it is gone."""
        result = action(*args)
        self._engine.image_inspect(self._id)  # NoSuchImage: shown as "the image … is gone"
        return result

    def _on_pick(self, change: dict[str, Any]) -> None:
        """A path typed or picked. While it is still the start of a listed path the reader is
        typing: nothing is said until it is a whole path, no path starts so, or Enter."""
        path = change["new"]
        if path == self.selected_file:
            return
        options = self._pick.options
        if path and path not in options:
            full = path if path.startswith("/") else "/" + path
            if any(o.startswith(full) or o.startswith(path) for o in options):
                self._message.value = ""
                return
            if not path.startswith("/"):
                return
        self._do(self.select_file, path)

    def _on_pick_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("event") == "submit" and self._pick.value != self.selected_file:
            self._do(self.select_file, self._pick.value)

    def _type_at(self, history: list[dict[str, Any]], at: int) -> str:
        """The file type of the version of ``history`` in force at layer ``at`` (or of the
        first version); "" when unknown."""
        alive = [h for h in history if h["Kind"] != "D"]
        before = [h for h in alive if h["Index"] <= at]
        version = before[-1] if before else (alive[0] if alive else None)
        if version is None:
            return ""
        for f in self._layer_files(version["Index"]):
            if f["Path"] == self.selected_file:
                return f.get("Type", "")
        return ""

    # ---- rendering ------------------------------------------------------------------------
    def _layer_label(self, r: dict[str, Any]) -> str:
        size = "(empty)" if r["EmptyLayer"] else m.human_size(r["Size"])
        return f"{r['Index']:>2}  {size:>8}  {_command(r['CreatedBy'], 90)}"

    def _layer_tooltip(self) -> str:
        """The selected layer's whole command, as the layer list's tooltip."""
        r = self.layers[self.selected_layer]
        return f"{t('layer')} {r['Index']}: {_command(r['CreatedBy'], 1 << 16)}"

    def _render_header(self) -> None:
        eff = self.efficiency
        total = sum(r["Size"] for r in self.layers)
        with_files = sum(1 for r in self.layers if not r["EmptyLayer"])
        rows = [
            [
                html.escape(p.path),
                str(p.count),
                ", ".join(map(str, p.layers)),
                m.human_size(p.cumulative),
            ]
            for p in eff.inefficiencies[:20]
        ]
        waste = ""
        if rows:
            waste = (
                f"<details><summary>{html.escape(t('waste', n=len(eff.inefficiencies)))}"
                "</summary>"
                + svg.table(["path", "count", "layers", "total size"], rows, "llrr")
                + "</details>"
            )
        sel = self.layers[self.selected_layer]
        self._layer_list.tooltip = self._layer_tooltip()
        self._header.value = (
            f"<div><b>{html.escape(self.shown_image)}</b> — "
            + t(
                "tree_header",
                n=len(self.layers),
                f=with_files,
                size=m.human_size(total),
                eff=_percent(eff.score),
                w=m.human_size(eff.wasted_bytes),
            )
            + (t("above_base", p=f"{eff.wasted_user_percent:.1f}") if eff.user_size else "")
            + f"</div><div>{t('layer')} {sel['Index']}: "
            f"<code>{html.escape(sel['CreatedBy'])}</code></div>" + waste
        )

    def _refresh_view(self) -> None:
        self.files = self._view()
        self._kind_boxes["U"].layout.display = None if self.cumulative else "none"
        self._render_view()

    def _render_view(self) -> None:
        kinds = {k for k in "ACDU" if self._shown(k)}
        self.view_files = m.filter_files(self.files, kinds, self.pattern)
        paths = [f["Path"] for f in self.view_files if f.get("Type") != "dir"]
        self._pick.options = paths[:5000]
        self._render_tree()

    def _render_tree(self) -> None:
        root = m.build_tree(self.view_files)
        counts = {k: sum(1 for f in self.files if f.get("Kind", "U") == k) for k in "ACDU"}
        shown = ", ".join(
            f"{counts[k]} {t(m.KIND_NAMES[k])}" for k in "ACDU" if counts[k] or k != "U"
        )
        self._tree.value = f'<div style="color:{MUTED}">{shown}</div>' + m.tree_html(
            root, self.selected_file, open_depth=1, show_layer=self.cumulative
        )

    def _render_file(self) -> None:
        path = self.selected_file
        self.file_history, self.file_content, self.file_diffs = [], "", []
        if not path:
            self._file.value = ""
            return
        history = self._engine.file_history(self._id, path)
        self.file_history = history
        rows = []
        for h in history:
            colour = m.KIND_COLOURS[h["Kind"]]
            cmd = _command(self.layers[h["Index"]]["CreatedBy"], 60)
            mark = " ◀" if h["Index"] == self.selected_layer else ""
            rows.append(
                [
                    f"{h['Index']}{mark}",
                    f'<span style="color:{colour}">{t(m.KIND_NAMES[h["Kind"]])}</span>',
                    m.human_size(h["Size"]) if h["Kind"] != "D" else "",
                    f'<span title="{html.escape(self.layers[h["Index"]]["CreatedBy"])}">'
                    f"{html.escape(cmd)}</span>",
                ]
            )
        # the content as the image stands at the selected layer (or the latest version)
        at = self.selected_layer
        data = self._engine.file_at_layer(self._id, at, path)
        note = f"at layer {at}"
        if data is None:
            before = [h for h in history if h["Index"] <= at]
            if before and before[-1]["Kind"] == "D":
                note = f"removed at layer {before[-1]['Index']}; last version shown"
            elif not before:
                note = f"not there yet at layer {at}; first version shown"
            alive = [h for h in history if h["Kind"] != "D"]
            if alive:
                pick = (
                    alive[0]
                    if not before
                    else ([h for h in alive if h["Index"] <= at] or alive)[-1]
                )
                data = self._engine.file_at_layer(self._id, pick["Index"], path)
                note += f" (layer {pick['Index']})"
        ftype = self._type_at(history, at)
        self.file_content = (
            m.preview(data)
            if ftype in ("file", "")
            else f"({_TYPE_NAMES.get(ftype, ftype)}, no content to show)"
        )
        # diffs between consecutive versions
        diffs_html = []
        versions = history[-(MAX_VERSIONS + 1) :]
        for old, new in zip(versions, versions[1:]):
            if max(old["Size"], new["Size"]) > DIFF_LIMIT:
                diffs_html.append(
                    f"<div>layer {old['Index']} → {new['Index']}: too big to diff</div>"
                )
                continue
            a = (
                None
                if old["Kind"] == "D"
                else self._engine.file_at_layer(self._id, old["Index"], path)
            )
            b = (
                None
                if new["Kind"] == "D"
                else self._engine.file_at_layer(self._id, new["Index"], path)
            )
            text = m.unified_diff(
                a, b, f"layer {old['Index']}{path}", f"layer {new['Index']}{path}"
            )
            if text is None:
                diffs_html.append(
                    f"<div>layer {old['Index']} → {new['Index']}: binary file changed</div>"
                )
                continue
            self.file_diffs.append((old["Index"], new["Index"], text))
            diffs_html.append(
                f"<div><b>layer {old['Index']} → {new['Index']}</b></div>"
                + (m.diff_html(text) if text else "<div>(same content)</div>")
            )
        self._file.value = (
            f"<h4 style='margin:6px 0'>{html.escape(path)}</h4>"
            + svg.table(["layer", "change", "size", "created by"], rows, "llrl")
            + f"<div style='margin-top:6px'><b>{t('content')}</b> ({html.escape(note)})</div>"
            + m.pre(self.file_content)
            + (
                f"<div style='margin-top:6px'><b>{t('versions')}</b></div>" + "".join(diffs_html)
                if diffs_html
                else ""
            )
        )


_TYPE_NAMES = {
    "symlink": "symbolic link",
    "dir": "directory",
    "char": "character device",
    "block": "block device",
    "fifo": "named pipe",
    "socket": "socket",
}


def _command(created_by: str, width: int) -> str:
    """``docker history``'s CREATED BY, without the ``/bin/sh -c #(nop)`` noise."""
    text = " ".join(created_by.split())
    for prefix in ("/bin/sh -c #(nop) ", "/bin/sh -c #(nop)"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
            break
    else:
        if text.startswith("/bin/sh -c "):
            text = "RUN " + text[len("/bin/sh -c ") :]
    return text if len(text) <= width else text[: width - 1] + "…"


def _percent(score: float) -> str:
    """A score as a percentage rounded down, so that any waste shows below 100.00."""
    return f"{math.floor(score * 10000) / 100:.2f}"
