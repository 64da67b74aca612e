"""What %docker returns: the renderers' tables drawn as HTML, lists and dicts shown as Docker."""

from __future__ import annotations

import subprocess
import sys

from dockerlab.cli import render
from dockerlab.format.rendered import Sections, Table
from dockerlab.magics.display import Inspected, Lines, Listing, Output

PS = {
    "Id": "a" * 64,
    "Names": ["/web"],
    "Image": "busybox",
    "Command": "sh -c 'echo   x'",
    "Created": 0,
    "State": "running",
    "Status": "Up 2 seconds",
    "Ports": [],
    "Labels": {},
    "Mounts": [],
}


def test_listing_takes_columns_and_rows_from_the_renderers_table():
    table = render.ps([PS, {**PS, "Names": ["/db"], "Status": "Exited (0) 1 second ago"}], now=10)
    text = table.text
    listing = Listing(table)
    assert listing.columns == [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    assert [r["NAMES"] for r in listing] == ["web", "db"]
    assert listing.rows[0]["COMMAND"].startswith('"sh -c')
    assert listing.rows[0]["PORTS"] == ""
    assert repr(listing) == text.rstrip("\n")


def test_listing_html_is_a_table_with_dockers_titles_and_escaped_cells():
    html = Listing(render.ps([PS], now=10))._repr_html_()
    assert html.startswith('<table class="dockerlab-table"')
    assert '<th style="text-align:left">CONTAINER ID</th>' in html
    assert "&quot;sh -c" in html
    assert "<td" in html and "aaaaaaaaaaaa" in html


def test_header_only_table_has_columns_and_no_rows():
    listing = Listing(render.volumes([]))
    assert listing.columns == ["DRIVER", "VOLUME NAME"]
    assert listing.rows == [] and len(listing) == 0


def test_sections_of_system_df_verbose_become_titles_and_tables():
    sections = Sections(
        [
            "Images space usage:",
            Table(["REPOSITORY", "TAG", "SIZE"], [["busybox", "latest", "2MB"]]),
            "Build cache usage: 0B",
            Table(["CACHE ID", "CACHE TYPE"], []),
        ]
    )
    assert sections.text == (
        "Images space usage:\n\nREPOSITORY   TAG       SIZE\nbusybox      latest    2MB\n\n"
        "Build cache usage: 0B\n\nCACHE ID   CACHE TYPE\n"
    )
    listing = Listing(sections)
    assert [k for k, _ in listing.blocks] == ["text", "table", "text", "table"]
    assert listing.columns == ["REPOSITORY", "TAG", "SIZE"]
    assert "<p><b>Images space usage:</b></p>" in listing._repr_html_()


def _pretty(value) -> str:
    from IPython.lib.pretty import pretty

    return pretty(value)


def test_lines_are_a_list_shown_one_per_line():
    ids = Lines(["abc", "def"])
    assert ids == ["abc", "def"] and isinstance(ids, list)
    assert _pretty(ids) == "abc\ndef"


def test_lines_in_a_line_are_words_as_the_shells_command_substitution():
    # %docker rm $ids: IPython formats $ids into the line, as the shell's $(docker ps -q)
    from IPython.utils.text import DollarFormatter

    ids = Lines(["abc", "def"])
    assert DollarFormatter().format("rm -f $ids", ids=ids) == "rm -f abc def"
    assert f"{ids}" == "abc def" and str(ids) == "['abc', 'def']"


def test_inspected_is_a_dict_shown_as_dockers_json_array():
    obj = Inspected({"Id": "x", "State": {"Status": "running"}})
    assert obj["State"]["Status"] == "running"
    assert (
        _pretty(obj) == '[\n    {\n        "Id": "x",\n        "State": {\n'
        '            "Status": "running"\n        }\n    }\n]'
    )


def test_output_is_a_str_shown_without_quotes():
    out = Output("4f1e")
    assert out == "4f1e" and _pretty(out) == "4f1e"


def test_importing_dockerlab_does_not_import_ipython():
    code = (
        "import sys, dockerlab; assert hasattr(dockerlab, 'load_ipython_extension'); "
        "print('IPython' in sys.modules, 'ipywidgets' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False False"
