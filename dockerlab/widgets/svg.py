"""SVG drawn by hand (no plotting library): bar charts, sparklines, the lifecycle diagram.

Pure functions returning markup strings; deterministic for the same input, so they are
unit-tested by value.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

#: Text takes the page's colour (``currentColor``), so it reads in light and dark themes.
FONT = "font-family: sans-serif; font-size: 11px; fill: currentColor"


def _num(x: float) -> str:
    """Coordinates with at most one decimal, without trailing zeros (stable output)."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def bar_chart(
    items: list[tuple[str, float, str]],
    width: int = 560,
    bar_height: int = 16,
    label_width: int = 260,
    colour: str = "#4472c4",
    highlight: int | None = None,
) -> str:
    """Horizontal bars, one per ``(label, value, value_text)``, scaled to the largest value.
    Bars of zero are drawn as a thin tick so every row stays visible; ``highlight`` is the row
    drawn in another colour."""
    gap = 4
    height = max(1, len(items)) * (bar_height + gap) + gap
    top = max([v for _, v, _ in items] + [0.0])
    area = width - label_width - 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="{FONT}">'
    ]
    for row, (label, value, text) in enumerate(items):
        y = gap + row * (bar_height + gap)
        w = area * value / top if top > 0 else 0.0
        w = max(w, 1.0)
        fill = "#ed7d31" if row == highlight else colour
        # ~6.5 px a character at 11 px: the label is cut to fit, never clipped by the edge
        fits = max(8, int((label_width - 10) / 6.5))
        shown = label if len(label) <= fits else label[: fits - 1] + "…"
        parts.append(
            f"<g><title>{escape(label)}: {escape(text)}</title>"
            f'<text x="{label_width - 6}" y="{_num(y + bar_height - 4)}" '
            f'text-anchor="end">{escape(shown)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{_num(w)}" '
            f'height="{bar_height}" fill="{fill}"/>'
            f'<text x="{_num(label_width + w + 4)}" y="{_num(y + bar_height - 4)}">'
            f"{escape(text)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def sparkline(
    values: list[float],
    width: int = 160,
    height: int = 32,
    vmax: float | None = None,
    colour: str = "#4472c4",
    fill: bool = True,
    capacity: int = 60,
) -> str:
    """A rolling line of the last ``capacity`` values, newest at the right edge, scaled to
    ``vmax`` (or the largest value seen)."""
    vals = list(values)[-capacity:]
    top = vmax if vmax is not None and vmax > 0 else max(vals + [0.0])
    if top <= 0:
        top = 1.0
    step = width / max(1, capacity - 1)
    x0 = width - step * (len(vals) - 1)
    pts = []
    for i, v in enumerate(vals):
        v = min(max(v, 0.0), top) if not math.isnan(v) else 0.0
        pts.append((x0 + i * step, height - 1 - (height - 2) * v / top))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#888" fill-opacity="0.1"/>',
    ]
    if pts:
        line = " ".join(f"{_num(x)},{_num(y)}" for x, y in pts)
        if fill and len(pts) > 1:
            area = f"{_num(pts[0][0])},{height} {line} {_num(pts[-1][0])},{height}"
            parts.append(f'<polygon points="{area}" fill="{colour}" fill-opacity="0.2"/>')
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
        )
        x, y = pts[-1]
        parts.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="2" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


# ---- the container lifecycle ------------------------------------------------------------------
#: Where each state is drawn (centre of its box).
STATE_POSITIONS = {
    "created": (90, 60),
    "running": (340, 60),
    "paused": (590, 60),
    "removed": (90, 240),
    "exited": (340, 240),
}
BOX_W, BOX_H = 110, 40

#: Docker's state machine: (from, to, commands on the edge, line x1 y1 x2 y2, label x y anchor).
TRANSITIONS: list[
    tuple[str, str, tuple[str, ...], tuple[int, int, int, int], tuple[int, int, str]]
] = [
    ("created", "running", ("start",), (145, 60, 285, 60), (215, 52, "middle")),
    ("running", "paused", ("pause",), (395, 52, 535, 52), (465, 45, "middle")),
    ("paused", "running", ("unpause",), (535, 68, 395, 68), (465, 84, "middle")),
    ("running", "exited", ("stop", "kill"), (325, 80, 325, 220), (318, 142, "end")),
    ("exited", "running", ("start", "restart"), (355, 220, 355, 80), (362, 142, "start")),
    ("paused", "exited", ("stop", "kill"), (560, 80, 395, 225), (480, 165, "start")),
    ("exited", "removed", ("rm",), (285, 240, 145, 240), (215, 232, "middle")),
    ("created", "removed", ("rm",), (90, 80, 90, 220), (84, 150, "end")),
    ("running", "removed", ("rm -f",), (290, 80, 140, 220), (222, 128, "end")),
]


def lifecycle_svg(
    current: str, enabled: set[str] | None = None, visited: list[str] | None = None
) -> str:
    """The state machine with ``current`` lit; the edges leaving ``current`` are drawn bold,
    their ``docker`` commands in colour when in ``enabled``; states in ``visited`` keep a
    darker outline, to show the way the container came."""
    enabled = enabled or set()
    visited_set = set(visited or [])
    w, h = 660, 280
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" style="{FONT}">',
        '<defs><marker id="dl-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#999"/></marker>'
        '<marker id="dl-arrow-on" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#1565c0"/></marker></defs>',
    ]
    for src, dst, cmds, (x1, y1, x2, y2), (lx, ly, anchor) in TRANSITIONS:
        live = src == current
        stroke = "#1565c0" if live else "#999"
        marker = "dl-arrow-on" if live else "dl-arrow"
        parts.append(
            f'<line class="dl-edge" data-from="{src}" data-to="{dst}" '
            f'x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{stroke}" '
            f'stroke-width="{2.2 if live else 1.2}" marker-end="url(#{marker})"/>'
        )
        parts.append(f'<text x="{lx}" y="{ly}" text-anchor="{anchor}">')
        for i, cmd in enumerate(cmds):
            on = live and cmd.split()[0] in enabled
            colour = "#1565c0" if on else "#888"
            weight = ' font-weight="bold"' if on else ""
            parts.append(
                f'<tspan x="{lx}" dy="{0 if i == 0 else 14}" fill="{colour}"'
                f"{weight}>docker {escape(cmd)}</tspan>"
            )
        parts.append("</text>")
    for state, (x, y) in STATE_POSITIONS.items():
        lit = state == current
        fill = (
            {
                "running": "#c8e6c9",
                "paused": "#fff3c4",
                "exited": "#ffcdd2",
                "created": "#e3f2fd",
                "removed": "#eeeeee",
            }[state]
            if lit
            else "none"
        )
        stroke = "#1565c0" if lit else ("#555" if state in visited_set else "#bbb")
        mark = ' data-current="true"' if lit else ""
        weight = "bold" if lit else "normal"
        text_fill = ' style="fill:#222"' if lit else ""  # dark on the pale lit box
        parts.append(
            f'<g class="dl-state" data-state="{state}"{mark}>'
            f'<rect x="{x - BOX_W // 2}" y="{y - BOX_H // 2}" width="{BOX_W}" '
            f'height="{BOX_H}" rx="10" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{3 if lit else 1.2}"/>'
            f'<text x="{x}" y="{y + 5}" text-anchor="middle" font-size="13" '
            f'font-weight="{weight}"{text_fill}>{state}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def legend(items: list[tuple[str, str]]) -> str:
    """Small coloured squares with labels, as inline HTML."""
    return " ".join(
        f'<span style="display:inline-block;width:10px;height:10px;'
        f'background:{c};margin:0 3px 0 8px"></span>{escape(t)}'
        for t, c in items
    )


def table(header: list[str], rows: list[list[Any]], align: str = "") -> str:
    """A plain HTML table; ``align`` has one letter per column (l/r), left by default."""

    def cell(tag: str, i: int, v: Any) -> str:
        a = "right" if i < len(align) and align[i] == "r" else "left"
        return f'<{tag} style="text-align:{a};padding:1px 8px">{v}</{tag}>'

    head = "".join(cell("th", i, escape(str(h))) for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows
    )
    return (
        f'<table style="border-collapse:collapse;{FONT.replace("11px", "12px")}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )
