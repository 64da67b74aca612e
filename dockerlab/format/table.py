"""Docker's table output: Go's text/tabwriter as `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.

A cell is text terminated by a tab; the text after a line's last tab is not part of any
column and is never padded. A column block is a run of consecutive lines that all have
that cell; each block is as wide as its widest cell plus 3, and at least 10.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MIN_WIDTH", "PADDING", "tabulate", "tabwrite", "tabwrite_rows"]

MIN_WIDTH = 10
PADDING = 3


def _format(
    cells: list[list[str]],
    widths: list[int],
    line0: int,
    line1: int,
    out: list[str],
    minwidth: int = MIN_WIDTH,
    padding: int = PADDING,
):
    """Go's Writer.format: find column blocks left to right, recursing for the next column."""
    column = len(widths)
    this = line0
    while this < line1:
        if column >= len(cells[this]) - 1:
            this += 1
            continue
        _write(cells, widths, line0, this, out)  # lines before the block
        line0 = this
        width = minwidth
        while this < line1 and column < len(cells[this]) - 1:
            width = max(width, len(cells[this][column]) + padding)
            this += 1
        widths.append(width)
        _format(cells, widths, line0, this, out, minwidth, padding)
        widths.pop()
        line0 = this
    _write(cells, widths, line0, line1, out)


def _write(cells: list[list[str]], widths: list[int], line0: int, line1: int, out: list[str]):
    for i in range(line0, line1):
        row = cells[i]
        for j, cell in enumerate(row):
            out.append(cell.ljust(widths[j]) if j < len(widths) else cell)
        if i + 1 < len(cells):  # the last line is unterminated text: no newline
            out.append("\n")


def tabwrite(text: str, minwidth: int = MIN_WIDTH, padding: int = PADDING) -> str:
    """Everything written to a tabwriter, then Flush: aligns the tab-separated cells of `text`.

    `docker top` uses a minimum width of 20, unlike docker's tables (10)."""
    cells = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    _format(cells, [], 0, len(cells), out, minwidth, padding)
    return "".join(out)


def tabwrite_rows(
    rows: Iterable[Iterable[str]], minwidth: int = MIN_WIDTH, padding: int = PADDING
) -> str:
    """Rows of cells through the tabwriter, each row a line ending in a newline (the last
    cell of a row is not padded). ``docker top`` uses ``minwidth`` 20."""
    cells = [list(r) for r in rows]
    if not cells:
        return ""
    cells.append([""])  # the unterminated (empty) text after the last newline
    out: list[str] = []
    _format(cells, [], 0, len(cells), out, minwidth, padding)
    return "".join(out)


def tabulate(lines: Iterable[str]) -> str:
    """Align tab-separated lines; every output line ends with a newline."""
    lines = list(lines)
    return tabwrite("\n".join(lines) + "\n") if lines else ""
