"""DiffView: ``docker diff`` of a container as a coloured tree, with content diffs."""

from __future__ import annotations

import html
import io
from typing import Any

import ipywidgets as w
from traitlets import Bool, Unicode, observe

from dockerlab.errors import DockerlabError
from dockerlab.widgets import _model as m
from dockerlab.widgets import svg
from dockerlab.widgets._base import (
    BORDER,
    STYLE,
    friendly_init,
    guarded,
    lookup_container,
    one_line,
    resolve_engine,
)
from dockerlab.widgets.i18n import t
from dockerlab.widgets.static import StaticPicture

#: Files bigger than this are not read for a content diff.
DIFF_LIMIT = 1 << 20


class DiffView(StaticPicture, w.VBox):
    """What a container changed against its image (``docker diff``: A added, C changed,
    D deleted) as a tree; selecting a changed text file shows its unified diff against the
    image's version.

    Methods for every click: :meth:`refresh`, :meth:`set_filter`, :meth:`select_file`.
    """

    container = Unicode(read_only=True)
    show_added = Bool(True)
    show_modified = Bool(True)
    show_removed = Bool(True)
    selected_file = Unicode("")

    @friendly_init
    def __init__(self, container: str, engine: Any = None, **kwargs: Any) -> None:
        self._engine = resolve_engine(engine)
        info = lookup_container(self._engine, container, "DiffView")
        self._cid = info["Id"]
        self._image = info["Image"]
        self._top = len(self._engine.image_layers(self._image)) - 1
        #: ``docker diff``'s entries with letter kinds: ``[{"Path", "Kind"}]``.
        self.changes: list[dict[str, Any]] = []
        #: The entries shown after filtering.
        self.view_changes: list[dict[str, Any]] = []
        #: The selected file's unified diff against the image ("" when none can be made).
        self.file_diff = ""
        #: Why there is no diff, or what the selection is ("" when a diff is shown).
        self.file_note = ""

        self._header = w.HTML()
        self._boxes = {
            k: w.Checkbox(
                value=True,
                description=t(m.KIND_NAMES[k]),
                indent=False,
                layout=w.Layout(width="auto"),
            )
            for k in "ACD"
        }
        self._refresh_button = w.Button(
            description=t("refresh"), icon="refresh", layout=w.Layout(width="auto")
        )
        self._tree = w.HTML(
            layout=w.Layout(
                max_height="420px", overflow="auto", border=f"1px solid {BORDER}", padding="4px"
            )
        )
        self._pick = w.Combobox(
            placeholder=t("pick_changed"), ensure_option=False, layout=w.Layout(width="100%")
        )
        self._pick.add_class("dl-mono")
        self._message = w.HTML()
        self._file = w.HTML()
        super().__init__(**kwargs)
        self.set_trait("container", container)
        for kind, box in self._boxes.items():
            box.observe(
                lambda ch, k=kind: self._do(self.set_filter, **{m.KIND_NAMES[k]: ch["new"]}),
                "value",
            )
        self._refresh_button.on_click(lambda _b: self._do(self.refresh))
        self._pick.observe(self._on_pick, "value")
        legend = w.HTML(svg.legend([(t(m.KIND_NAMES[k]), m.KIND_COLOURS[k]) for k in "ACD"]))
        self.children = [
            w.HTML(STYLE),
            self._header,
            w.HBox([*self._boxes.values(), self._refresh_button, legend]),
            self._tree,
            self._pick,
            self._message,
            self._file,
        ]
        self.refresh()

    def __repr__(self) -> str:
        counts = self.counts()
        text = (
            f"DiffView({m.short_ref(self.container)}: {counts['A']} added, "
            f"{counts['C']} changed, {counts['D']} deleted"
        )
        hidden = [m.KIND_NAMES[k] for k in "ACD" if not self._shown(k)]
        if hidden:
            text += ", hiding " + "+".join(hidden)
        if self.selected_file:
            text += f", file {self.selected_file}"
        return text + ")"

    def counts(self) -> dict[str, int]:
        out = {"A": 0, "C": 0, "D": 0}
        for c in self.changes:
            out[c["Kind"]] += 1
        return out

    def tree_text(self, limit: int = 0) -> list[str]:
        """The shown tree as text lines (``A ├── name``)."""
        return m.tree_text(m.build_tree(self.view_changes), limit)

    # ---- actions --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read ``docker diff`` again (the container may have changed more files)."""
        changes = sorted(self._engine.diff(self._cid), key=lambda c: c["Path"])
        self.changes = []
        for i, c in enumerate(changes):
            nxt = changes[i + 1]["Path"] if i + 1 < len(changes) else ""
            folder = nxt.startswith(c["Path"].rstrip("/") + "/")  # something changed below
            self.changes.append(
                {
                    "Path": c["Path"],
                    "Kind": m.DIFF_KIND_LETTERS[c["Kind"]],
                    "Type": "dir" if folder else "",
                }
            )
        self._render()
        if self.selected_file:
            self._render_file()

    def set_filter(
        self, added: bool | None = None, modified: bool | None = None, removed: bool | None = None
    ) -> None:
        """Show or hide entries per kind; None leaves a kind as it is."""
        with self.hold_trait_notifications():
            for name, value in (
                ("show_added", added),
                ("show_modified", modified),
                ("show_removed", removed),
            ):
                if value is not None:
                    setattr(self, name, bool(value))

    def select_file(self, path: str) -> None:
        """Show the diff of ``path`` (one of :attr:`changes`) against the image; "" clears."""
        if path and not path.startswith("/"):
            path = "/" + path
        if path and path not in {c["Path"] for c in self.changes}:
            raise one_line(ValueError(t("not_changed", path=path)))
        self.selected_file = path
        self._render_file()

    # ---- traits ---------------------------------------------------------------------------
    @observe("show_added", "show_modified", "show_removed")
    def _on_filter(self, change: dict[str, Any]) -> None:
        for kind, box in self._boxes.items():
            box.value = self._shown(kind)
        self._render()

    @observe("selected_file")
    def _on_file(self, change: dict[str, Any]) -> None:
        if self._pick.value != change["new"]:
            self._pick.value = change["new"]
        self._render_tree()

    def _shown(self, kind: str) -> bool:
        return {"A": self.show_added, "C": self.show_modified, "D": self.show_removed}[kind]

    def _ref_for_errors(self) -> str:
        return self.container

    @guarded
    def _do(self, action: Any, *args: Any, **kwargs: Any) -> Any:
        """A click's action; an error shows in the widget (see ``guarded``)."""
        return action(*args, **kwargs)

    def _on_pick(self, change: dict[str, Any]) -> None:
        path = change["new"]
        if path == self.selected_file or path not in self._pick.options:
            return
        self._do(self.select_file, path)

    # ---- rendering ------------------------------------------------------------------------
    def _render(self) -> None:
        kinds = {k for k in "ACD" if self._shown(k)}
        self.view_changes = m.filter_files(self.changes, kinds)
        self._pick.options = [c["Path"] for c in self.view_changes][:5000]
        counts = self.counts()
        self._header.value = t("diff_header", a=counts["A"], c=counts["C"], d=counts["D"])
        self._render_tree()

    def _render_tree(self) -> None:
        self._tree.value = m.tree_html(
            m.build_tree(self.view_changes), self.selected_file, open_depth=99
        )

    def _container_file(self, path: str) -> tuple[bytes | None, str]:
        """The container's current ``path``: (content, type); content None unless it is a
        regular file of at most :data:`DIFF_LIMIT` bytes."""
        import tarfile

        try:
            st = self._engine.path_stat(self._cid, path)
        except Exception as exc:  # noqa: BLE001 - shown to the user as the reason
            return None, f"unreadable: {exc}"
        mode = int(st.get("mode", 0))
        if mode & (1 << 31):
            return None, "directory"
        if mode & (1 << 27):
            return None, f"symbolic link to {st.get('linkTarget', '')}"
        if mode & ((1 << 26) | (1 << 25) | (1 << 24) | (1 << 21)):
            return None, "special file"
        if int(st.get("size", 0)) > DIFF_LIMIT:
            return None, f"too big to diff ({m.human_size(st.get('size', 0))})"
        buf = io.BytesIO()
        self._engine.copy_from(self._cid, path, buf)
        buf.seek(0)
        with tarfile.open(fileobj=buf) as tar:
            for member in tar:
                if member.isfile():
                    f = tar.extractfile(member)
                    return (f.read() if f else None), "file"
        return None, "not a regular file"

    def _image_file(self, path: str) -> bytes | None:
        """The image's ``path`` if it is a regular file (None otherwise)."""
        try:
            return self._engine.file_at_layer(self._image, self._top, path)
        except DockerlabError:  # unreadable (the engine converts what the host refuses)
            return None

    def _render_file(self) -> None:
        path = self.selected_file
        self.file_diff, self.file_note = "", ""
        if not path:
            self._file.value = ""
            return
        kind = next(c["Kind"] for c in self.changes if c["Path"] == path)
        new, what = (None, "deleted") if kind == "D" else self._container_file(path)
        old = None
        if kind == "D" or (kind == "C" and what == "file"):
            old = self._image_file(path)
        if kind == "A" and new == b"":
            self.file_note = t("added_empty", path=path)
        elif kind == "D":
            # the body says "removed" as the heading does; the image's text follows if any
            text = m.unified_diff(old, None, f"image{path}", f"container{path}") if old else ""
            self.file_diff = text or ""
            self.file_note = t("removed_file" if self.file_diff else "removed_plain", path=path)
        elif new is None:
            self.file_note = t("no_content_diff", path=path, what=what)
        elif kind == "C" and old is None:
            self.file_note = t("not_regular", path=path)
        else:
            text = m.unified_diff(old, new, f"image{path}", f"container{path}")
            if text is None:
                key = "binary_changed" if kind == "C" else "binary_added"
                self.file_note = t(key, path=path)
            elif not text:
                self.file_note = t("same_content", path=path)
            else:
                self.file_diff = text
        body = m.diff_html(self.file_diff) if self.file_diff else m.pre(self.file_note)
        if kind == "D":
            body = m.pre(self.file_note) + body
        self._file.value = (
            f"<h4 style='margin:6px 0'>{html.escape(path)} "
            f"<span style='color:{m.KIND_COLOURS[kind]}'>"
            f"({html.escape(t(m.KIND_NAMES[kind]))})</span></h4>" + body
        )
