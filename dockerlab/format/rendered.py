"""What a renderer returns: structure that knows its text form.

A face gets these from the renderers and chooses the form: the CLI writes ``.text`` (Docker's
bytes, exactly), the notebook draws an HTML table from ``columns`` and ``rows``. Nobody parses
the text back.

    Table     column titles and rows of cells; ``.text`` is Go's tabwriter layout
              (``NewWriter(out, minwidth, 1, padding, ' ', 0)``; Docker's tables: 10, 3)
    Lines     lines of text (``-q``, a non-table ``--format``, ``diff``); one per line
    Sections  titled tables one after the other (``system df -v``)
    Document  the JSON of ``inspect``: the objects themselves, and Docker's indented text
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from dockerlab.format.table import MIN_WIDTH, PADDING, tabwrite

__all__ = ["Document", "Lines", "Sections", "Table", "listing"]


def listing(fmt: str, header: Mapping[str, str], rows: Iterable[Any]) -> Table | Lines:
    """The docker CLI's formatter Context.Write, as structure: a ``table …`` format gives a
    Table (its header the template rendered against ``header``, field -> title, with
    docker's header functions), any other format Lines (each row rendered). Raises
    TemplateError (from parsing or from any row) before anything is shown."""
    from dockerlab.format.gotemplate import HEADER_FUNCS, TemplateError, parse, parse_format

    is_table, source = parse_format(fmt)
    template = parse(source)
    rows = list(rows)
    body = [template.execute(row) for row in rows]
    if not is_table:
        return Lines(body)
    head: list[str] = []
    try:
        template.execute(header, funcs=HEADER_FUNCS, out=head)
    except TemplateError:
        pass  # docker ignores header errors and keeps what was written
    table = Table("".join(head).split("\t"), [line.split("\t") for line in body])
    table.sources = rows  # the rows' own values, for typed frames (Listing.to_pandas)
    return table


class Table:
    """A table as Docker prints it: ``columns`` (titles) and ``rows`` (lists of cells).

    ``lines`` are the cells as written to the tabwriter, header first (an empty header when
    the table has none). A cell may hold a newline (a template's output): the text form
    keeps it where Docker's tabwriter would, the structure keeps it inside its cell.
    """

    def __init__(
        self,
        columns: Iterable[str],
        rows: Iterable[Iterable[str]],
        minwidth: int = MIN_WIDTH,
        padding: int = PADDING,
    ) -> None:
        self.columns = list(columns)
        self.rows = [list(r) for r in rows]
        self.minwidth = minwidth
        self.padding = padding
        #: The row contexts the cells were rendered from (``listing``), else empty.
        self.sources: list[Any] = []

    @property
    def text(self) -> str:
        """Go's tabwriter over the header and rows; every line ends with a newline."""
        lines = ["\t".join(self.columns)] + ["\t".join(r) for r in self.rows]
        return tabwrite("\n".join(lines) + "\n", self.minwidth, self.padding)

    def records(self) -> list[dict[str, str]]:
        """The rows as dicts by column title."""
        return [dict(zip(self.columns, r)) for r in self.rows]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Table(columns={self.columns!r}, rows={len(self.rows)})"


class Lines:
    """Lines of text, printed one per line (IDs of ``-q``, a non-table ``--format``)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = list(lines)

    @property
    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)

    def __iter__(self) -> Iterator[str]:
        return iter(self.lines)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Lines({self.lines!r})"


class Sections:
    """Titled blocks printed one after the other, a blank line between: each block is a
    title (str) or a Table (``system df -v``)."""

    def __init__(self, blocks: Iterable[str | Table]) -> None:
        self.blocks = list(blocks)

    @property
    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    @property
    def text(self) -> str:
        parts = []
        for i, block in enumerate(self.blocks):
            if isinstance(block, Table):
                parts.append(block.text)
            else:  # a title: a blank line before it (but at the top) and after it
                parts.append(("\n" if i else "") + block + "\n\n")
        return "".join(parts)

    def __str__(self) -> str:
        return self.text


class Document:
    """``inspect``'s objects; the text is Docker's JSON (an array, 4-space indent, HTML
    characters unescaped)."""

    def __init__(self, objects: Iterable[Any]) -> None:
        self.objects = list(objects)

    @property
    def text(self) -> str:
        import json

        return json.dumps(self.objects, indent=4, ensure_ascii=False) + "\n"

    def __str__(self) -> str:
        return self.text


def render_table(fmt: str, header: Mapping[str, str], rows: Iterable[Any]) -> str:
    """The docker CLI's formatter Context.Write for `ps`, `images`, `volume ls`, ...

    `fmt` is the user's --format (escapes like `\\t` allowed). For a `table ...` format the
    header line (the template rendered against `header`, a field -> column title map, with
    docker's header functions) comes first, even with no rows, and everything is aligned by
    the tabwriter; any other format prints each row rendered, one per line, no header.
    Raises TemplateError (from parsing or from any row) before printing anything.
    The text of :func:`listing`'s structure.
    """
    return listing(fmt, header, rows).text
