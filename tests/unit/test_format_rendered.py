"""Renderers' structure and its text form: Docker's tabwriter layout, exactly."""

from __future__ import annotations

from dockerlab.format import render_table
from dockerlab.format.rendered import Document, Lines, Sections, Table, listing


class Row:
    def __init__(self, **kw: str) -> None:
        self.__dict__.update(kw)


HEADER = {"ID": "CONTAINER ID", "Names": "NAMES", "Status": "STATUS"}
ROWS = [
    Row(ID="abc", Names="web", Status="Up 2 seconds"),
    Row(ID="defdefdefdefdef", Names="db", Status="Exited (0)"),
]


def test_table_text_pads_columns_to_widest_plus_3_at_least_10_and_leaves_the_last_alone():
    table = Table(["A", "LONGER TITLE", "LAST"], [["x", "y", "a very long last cell"]])
    assert table.text == (
        "A         LONGER TITLE   LAST\nx         y              a very long last cell\n"
    )


def test_header_only_table_is_one_line():
    assert Table(["DRIVER", "VOLUME NAME"], []).text == "DRIVER    VOLUME NAME\n"


def test_top_minimum_width_20():
    table = Table(["UID", "PID", "CMD"], [["root", "42", "sleep 9"]], minwidth=20)
    assert table.text.splitlines()[1] == "root" + " " * 16 + "42" + " " * 18 + "sleep 9"


def test_table_format_gives_the_structure_behind_dockers_text():
    fmt = "table {{.ID}}\t{{.Names}}\t{{.Status}}"
    table = listing(fmt, HEADER, ROWS)
    assert isinstance(table, Table)
    assert table.columns == ["CONTAINER ID", "NAMES", "STATUS"]
    assert table.rows == [["abc", "web", "Up 2 seconds"], ["defdefdefdefdef", "db", "Exited (0)"]]
    assert table.records()[1] == {
        "CONTAINER ID": "defdefdefdefdef",
        "NAMES": "db",
        "STATUS": "Exited (0)",
    }
    assert table.text == render_table(fmt, HEADER, ROWS)
    assert table.text == (
        "CONTAINER ID      NAMES     STATUS\n"
        "abc               web       Up 2 seconds\n"
        "defdefdefdefdef   db        Exited (0)\n"
    )


def test_a_cell_holding_a_newline_stays_in_its_cell_and_the_text_is_dockers():
    fmt = "table {{.ID}}\t{{.Names}}"
    rows = [Row(ID="a\nb", Names="n")]
    table = listing(fmt, HEADER, rows)
    assert table.rows == [["a\nb", "n"]]
    assert table.text == render_table(fmt, HEADER, rows)


def test_non_table_format_gives_lines_one_per_row():
    lines = listing("{{.Names}}: {{.Status}}", HEADER, ROWS)
    assert isinstance(lines, Lines)
    assert list(lines) == ["web: Up 2 seconds", "db: Exited (0)"]
    assert lines.text == "web: Up 2 seconds\ndb: Exited (0)\n"
    assert Lines([]).text == ""


def test_sections_put_a_blank_line_around_each_title():
    sections = Sections(["First:", Table(["A", "B"], [["1", "2"]]), "Second: 0B", Table(["C"], [])])
    assert sections.text == ("First:\n\nA         B\n1         2\n\nSecond: 0B\n\nC\n")
    assert [t.columns for t in sections.tables] == [["A", "B"], ["C"]]


def test_document_is_dockers_inspect_json():
    doc = Document([{"A": "<&>", "B": []}])
    assert doc.objects == [{"A": "<&>", "B": []}]
    assert doc.text == '[\n    {\n        "A": "<&>",\n        "B": []\n    }\n]\n'
