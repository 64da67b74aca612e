"""What ``%docker`` returns: Python values that display as Docker's own output. Pure.

Each value is displayed once, as the cell's result (so nothing is printed twice), and its
``text/plain`` form is exactly what the ``dockerlab`` command prints — nbval compares it:

    Listing        a table (``ps``, ``images``, ``history``, ``volume ls``, ``top``,
                   ``stats --no-stream``, ``system df``): HTML table + Docker's text;
                   ``.columns``, ``.rows`` (dicts by column title), iterable, ``len()``,
                   ``.to_pandas()`` (a DataFrame with typed columns)
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
    "value_of",
]

_TABLE_STYLE = (
    '<table class="dockerlab-table" style="font-family:var(--jp-code-font-family,monospace);'
    'font-size:var(--jp-code-font-size,12px)">'
)


class Listing:
    """A Docker table: displayed as HTML, its ``text/plain`` form is the CLI's text.

    Made from a renderer's structure (:class:`~dockerlab.format.rendered.Table`, or the
    titled tables of :class:`~dockerlab.format.rendered.Sections`): the cells are the
    renderer's own, never cut back out of the text."""

    def __init__(self, rendered: Any) -> None:
        from dockerlab.format.rendered import Sections

        self.text = rendered.text.rstrip("\n")
        parts = rendered.blocks if isinstance(rendered, Sections) else [rendered]
        self.blocks: list[tuple[str, Any]] = [
            ("text", b) if isinstance(b, str) else ("table", (b.columns, b.rows)) for b in parts
        ]
        tables = [b for b in parts if not isinstance(b, str)]
        self.columns: list[str] = list(tables[0].columns) if tables else []
        self.rows: list[dict[str, str]] = tables[0].records() if tables else []
        self._sources: list[Any] = list(getattr(tables[0], "sources", [])) if tables else []

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

    def to_pandas(self) -> Any:
        """The (first) table as a pandas DataFrame with typed columns: ``ps``, ``images``,
        ``history`` sizes in bytes (int) and CREATED as UTC datetimes; ``stats`` CPU % and
        MEM % as floats, MEM USAGE / MEM LIMIT, NET RX / NET TX, BLOCK READ / BLOCK WRITE
        in bytes, PIDS. Other columns keep Docker's text. Needs pandas (the ``lab`` extra)."""
        from dockerlab.magics.frames import listing_frame

        return listing_frame(self.columns, self.rows, self._sources)

    def _repr_html_(self) -> str:
        parts = []
        for kind, content in self.blocks:
            if kind == "text":
                parts.append(f"<p><b>{escape(content)}</b></p>")
                continue
            columns, rows = content
            head = "".join(f'<th style="text-align:left">{escape(c)}</th>' for c in columns)
            body = "".join(
                "<tr>"
                + "".join(
                    f'<td style="text-align:left;white-space:pre">{escape(c)}</td>' for c in row
                )
                + "</tr>"
                for row in rows
            )
            parts.append(
                f"{_TABLE_STYLE}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            )
        return "".join(parts)


def value_of(rendered: Any, names: int = 0) -> Any:
    """What a renderer's result is in a notebook: a Table or Sections a :class:`Listing`,
    Lines a :class:`Lines` (one line, the ``inspect -f`` of one object: an
    :class:`Output`), a Document (``inspect``) a dict or a list of dicts. ``names`` is how
    many objects ``inspect`` was asked for (0 for other verbs)."""
    from dockerlab.format import rendered as r

    if isinstance(rendered, (r.Table, r.Sections)):
        return Listing(rendered)
    if isinstance(rendered, r.Document):
        if names == 1:
            return Inspected(rendered.objects[0]) if rendered.objects else None
        return InspectedList(Inspected(x) if isinstance(x, dict) else x for x in rendered.objects)
    lines = [part for line in rendered.lines for part in line.splitlines() or [""]]
    if names == 1:
        return Output("\n".join(lines)) if lines else None
    return Lines(lines)


class Lines(list):
    """A list of strings (IDs, formatted lines) shown one per line, as Docker prints them.

    Put in a line (``$ids``, ``{ids}``, f-strings) it is its words joined by spaces, as the
    shell's ``$(docker ps -q)``: ``%docker rm $ids``. ``str()`` stays the list's."""

    def __format__(self, spec: str) -> str:
        return format(" ".join(str(x) for x in self), spec)

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
        return (
            f"RunResult(exit_code={self.exit_code!r}, stdout={self.stdout!r}, "
            f"stderr={self.stderr!r})"
        )


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
