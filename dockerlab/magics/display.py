"""What ``%docker`` returns: Python values that display as Docker's own output. Pure.

Each value is displayed once, as the cell's result (so nothing is printed twice), and its
``text/plain`` form is exactly what the ``dockerlab`` command prints — nbval compares it:

    Listing        a table (``ps``, ``images``, ``history``, ``volume ls``, ``top``,
                   ``stats --no-stream``, ``system df``): HTML table + Docker's text;
                   ``.columns``, ``.rows`` (dicts by column title), iterable, ``len()``
    Lines          a ``list`` of str: ``ps -q``, ``images -q``, a non-table ``--format``,
                   ``diff``; shown one per line
    Inspected      a ``dict`` (``inspect`` of one object), shown as Docker's JSON
    InspectedList  a ``list`` of dicts (``inspect`` of several)
    Output         a ``str``: any other command's output (``run -d`` → the ID), shown raw
    RunResult      ``run`` attached: ``.exit_code``, ``.stdout``, ``.stderr``, ``.id``
    BuildResult    ``build`` / ``%%dockerfile``: ``.id``, ``.tags``, ``.output``

``RunResult`` and ``BuildResult`` come from commands whose output was streamed into the cell
while they ran: they display nothing in the cell that made them, and a short summary
anywhere else.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

__all__ = [
    "BuildResult",
    "Inspected",
    "InspectedList",
    "Lines",
    "Listing",
    "Output",
    "RunResult",
    "parse_blocks",
]

_TABLE_STYLE = (
    '<table class="dockerlab-table" style="font-family:var(--jp-code-font-family,monospace);'
    'font-size:var(--jp-code-font-size,12px)">'
)


def _header_starts(header: str) -> list[int]:
    """Column starts of a tabwriter header: cells are padded with at least 3 spaces, and
    titles ("CONTAINER ID", "MEM USAGE / LIMIT") hold single spaces only."""
    starts = []
    gap = 3  # the line's start counts as a gap
    for i, ch in enumerate(header):
        if ch == " ":
            gap += 1
            continue
        if gap >= 3:
            starts.append(i)
        gap = 0
    return starts


def _split_row(line: str, starts: list[int]) -> list[str]:
    cells = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else None
        cells.append(line[start:end].rstrip())
    return cells


def _is_header(line: str) -> bool:
    return any(c.isalpha() for c in line) and line == line.upper()


def parse_blocks(text: str) -> list[tuple[str, Any]]:
    """Docker's table output as blocks: ``("table", (columns, rows))`` for each tabwriter
    table (its header in capitals) and ``("text", str)`` for anything else (the titles of
    ``system df -v``). Blank lines separate blocks."""
    blocks: list[tuple[str, Any]] = []
    chunk: list[str] = []

    def close() -> None:
        if not chunk:
            return
        if _is_header(chunk[0]) and not chunk[0].rstrip().endswith(":"):
            starts = _header_starts(chunk[0])
            columns = _split_row(chunk[0], starts)
            rows = [_split_row(line, starts) for line in chunk[1:]]
            blocks.append(("table", (columns, rows)))
        else:
            blocks.append(("text", "\n".join(chunk)))
        chunk.clear()

    for line in text.split("\n"):
        if line.strip():
            chunk.append(line)
        else:
            close()
    close()
    return blocks


class Listing:
    """A Docker table: displayed as HTML, its ``text/plain`` form is the CLI's text."""

    def __init__(self, text: str) -> None:
        self.text = text.rstrip("\n")
        self.blocks = parse_blocks(self.text)
        tables = [b[1] for b in self.blocks if b[0] == "table"]
        self.columns: list[str] = list(tables[0][0]) if tables else []
        self.rows: list[dict[str, str]] = (
            [dict(zip(self.columns, r)) for r in tables[0][1]] if tables else []
        )

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, index: int) -> dict[str, str]:
        return self.rows[index]

    def column(self, title: str) -> list[str]:
        """The cells of one column (``ps.column("NAMES")``)."""
        return [r.get(title, "") for r in self.rows]

    def _repr_html_(self) -> str:
        parts = []
        for kind, content in self.blocks:
            if kind == "text":
                parts.append(f"<p><b>{escape(content)}</b></p>")
                continue
            columns, rows = content
            head = "".join(f'<th style="text-align:left">{escape(c)}</th>' for c in columns)
            body = "".join(
                "<tr>" + "".join(
                    f'<td style="text-align:left;white-space:pre">{escape(c)}</td>'
                    for c in row) + "</tr>"
                for row in rows
            )
            parts.append(f"{_TABLE_STYLE}<thead><tr>{head}</tr></thead>"
                         f"<tbody>{body}</tbody></table>")
        return "".join(parts)


class Lines(list):
    """A list of strings (IDs, formatted lines) shown one per line, as Docker prints them."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text("\n".join(str(x) for x in self))


class Output(str):
    """A command's text output, shown as is (no quotes)."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


def _json(value: Any) -> str:
    return json.dumps(value, indent=4, ensure_ascii=False)


class Inspected(dict):
    """One ``inspect`` result; shown as ``docker inspect`` prints it (a JSON array)."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(_json([dict(self)]))


class InspectedList(list):
    """Several ``inspect`` results; shown as ``docker inspect`` prints them."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(_json(list(self)))


class _Streamed:
    """A result whose output was streamed into the cell while the command ran: the cell
    that made it shows nothing more; displayed in any later cell, it shows ``summary``."""

    _made_in: int | None = None

    def _mark(self) -> None:
        self._made_in = _execution_count()

    def _ipython_display_(self) -> None:
        count = _execution_count()
        if count is not None and count == self._made_in:
            self._made_in = None  # shown once (as nothing): later displays show it
            return
        from IPython.display import display

        display({"text/plain": repr(self)}, raw=True)


def _execution_count() -> int | None:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else shell.execution_count


class RunResult(_Streamed):
    """``%docker run`` (attached): the output already shown, kept for Python.

    ``exit_code`` is the container's (None when the cell stopped following it);
    ``stdout`` and ``stderr`` are the decoded text, ``raw_stdout``/``raw_stderr`` the bytes.
    """

    def __init__(self, cid: str, exit_code: int | None, stdout: bytes, stderr: bytes) -> None:
        self.id = cid
        self.exit_code = exit_code
        self.raw_stdout, self.raw_stderr = stdout, stderr
        self._mark()

    @property
    def stdout(self) -> str:
        return self.raw_stdout.decode(errors="replace")

    @property
    def stderr(self) -> str:
        return self.raw_stderr.decode(errors="replace")

    def __repr__(self) -> str:
        return (f"RunResult(exit_code={self.exit_code!r}, stdout={self.stdout!r}, "
                f"stderr={self.stderr!r})")


class BuildResult(_Streamed):
    """``build`` / ``%%dockerfile``: ``id`` (``sha256:…``), ``tags``, ``output`` (the
    streamed text), ``layers`` (what was displayed after the build, if anything)."""

    def __init__(self, image_id: str, tags: list[str], output: str) -> None:
        self.id = image_id
        self.tags = list(tags)
        self.output = output
        self.layers: Any = None
        self._mark()

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]

    def __repr__(self) -> str:
        tags = f", tags={self.tags!r}" if self.tags else ""
        return f"BuildResult(id={self.short_id!r}{tags})"
