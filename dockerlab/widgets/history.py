"""HistoryView: ``docker history`` as a table, with an SVG bar chart of layer sizes."""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as w
from traitlets import Int, TraitError, Unicode, observe, validate

from dockerlab.widgets import _model as m
from dockerlab.widgets import svg
from dockerlab.widgets._base import HIGHLIGHT, STYLE, friendly_init, lookup_image, resolve_engine
from dockerlab.widgets.i18n import t
from dockerlab.widgets.static import StaticPicture


class HistoryView(StaticPicture, w.VBox):
    """``docker history IMAGE``: newest first, as Docker lists it, with each entry's layer
    number (0 = base, as in :class:`~dockerlab.widgets.LayerTree`), and a bar per entry
    scaled to its size. :meth:`select_layer` highlights one entry."""

    image = Unicode(read_only=True)
    selected_layer = Int(-1)

    @friendly_init
    def __init__(self, image: str, engine: Any = None, **kwargs: Any) -> None:
        self._engine = resolve_engine(engine)
        image_id = lookup_image(self._engine, image, "HistoryView")["Id"]
        #: ``image_layers`` (oldest first) joined with ``image_history``'s IDs and tags.
        self.rows: list[dict[str, Any]] = []
        layers = self._engine.image_layers(image_id)
        history = list(reversed(self._engine.image_history(image_id)))
        for i, r in enumerate(layers):
            h = history[i] if i < len(history) else {}
            self.rows.append(
                {
                    **r,
                    "ImageId": h.get("Id", "<missing>"),
                    "Tags": h.get("Tags") or [],
                    "CreatedTs": h.get("Created", 0),
                }
            )
        self._table = w.HTML()
        self._chart = w.HTML()
        super().__init__(**kwargs)
        self.set_trait("image", image)
        self._table.add_class("dl-wrap")
        self.children = [w.HTML(STYLE), self._table, w.HTML(t("layer_sizes")), self._chart]
        self._render()

    def __repr__(self) -> str:
        empty = sum(1 for r in self.rows if r["EmptyLayer"])
        text = f"HistoryView({m.short_ref(self.image)}: {len(self.rows)} layers, {empty} empty"
        if self.selected_layer >= 0:
            text += f", selected {self.selected_layer}"
        return text + ")"

    def table_text(self) -> str:
        """The table as text, newest first, without times or IDs (stable across runs)."""
        lines = [f"{'#':>3}  {'SIZE':>8}  CREATED BY"]
        for r in reversed(self.rows):
            lines.append(
                f"{r['Index']:>3}  {m.human_size(r['Size']):>8}  "
                f"{' '.join(r['CreatedBy'].split())[:80]}"
            )
        return "\n".join(lines)

    def chart_svg(self) -> str:
        """The bar chart of layer sizes (newest at the top, as in the table)."""
        items = [
            (f"#{r['Index']} {_short(r['CreatedBy'])}", float(r["Size"]), m.human_size(r["Size"]))
            for r in reversed(self.rows)
        ]
        highlight = None
        if self.selected_layer >= 0:
            highlight = len(self.rows) - 1 - self.selected_layer
        return svg.bar_chart(items, highlight=highlight)

    def select_layer(self, index: int) -> None:
        """Highlight entry ``index`` (0 = base; -1 clears)."""
        self.selected_layer = index

    @validate("selected_layer")
    def _check(self, proposal: dict[str, Any]) -> int:
        index = proposal["value"]
        if not -1 <= index < len(self.rows):
            raise TraitError(f"layer {index} out of range (0 to {len(self.rows) - 1})")
        return index

    @observe("selected_layer")
    def _on_select(self, change: dict[str, Any]) -> None:
        self._render()

    def _render(self) -> None:
        now = time.time()
        rows = []
        for r in reversed(self.rows):
            ident = r["ImageId"]
            ident = ident if ident == "<missing>" else ident.split(":")[-1][:12]
            created = _ago(r["CreatedTs"], now)
            by = " ".join(r["CreatedBy"].split())
            cell = (
                f'<span title="{html.escape(by)}"><code>'
                f"{html.escape(by if len(by) <= 60 else by[:59] + '…')}</code></span>"
            )
            style = f"background:{HIGHLIGHT}" if r["Index"] == self.selected_layer else ""
            rows.append(
                [
                    f'<span style="{style}">{r["Index"]}</span>',
                    html.escape(ident),
                    html.escape(created),
                    cell,
                    m.human_size(r["Size"]) + (" (empty)" if r["EmptyLayer"] else ""),
                    html.escape(r.get("Comment") or ""),
                ]
            )
        self._table.value = f"<b>docker history {html.escape(self.image)}</b>" + svg.table(
            ["#", "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows, "rlllrl"
        )
        self._chart.value = self.chart_svg()


def _ago(ts: float, now: float) -> str:
    if not ts:
        return ""
    from dockerlab.format.units import human_duration

    return human_duration(max(0.0, now - ts)) + " ago"


def _short(created_by: str) -> str:
    text = " ".join(created_by.split())
    if text.startswith("/bin/sh -c #(nop)"):
        text = text[len("/bin/sh -c #(nop)") :].strip()
    return text
