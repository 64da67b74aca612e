"""Tables align exactly like the docker CLI's tabwriter (minwidth 10, padding 3)."""

import pytest

from dockerlab.format.gotemplate import TemplateError
from dockerlab.format.rendered import render_table
from dockerlab.format.table import tabulate, tabwrite

CONTAINER_HEADER = {
    "ID": "CONTAINER ID",
    "Names": "NAMES",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Labels": "LABELS",
}
DEFAULT_PS = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)


def row(n, name):
    return {"ID": f"containerID{n}", "Image": "ubuntu", "Command": '""', "RunningFor": "24 hours ago",
            "Status": "", "Ports": "", "Names": name, "Size": "0B", "State": "running"}  # fmt: skip


ROWS = [row(1, "foobar_baz"), row(2, "foobar_bar")]


def test_tabulate_pads_columns_to_width_plus_three_with_minimum_ten():
    assert tabulate(["a\tbb\tc", "dddddddddddd\te\tf"]) == (
        "a              bb        c\ndddddddddddd   e         f\n"
    )


def test_last_cell_after_final_tab_is_never_padded():
    assert tabulate(["x\ty", "x\tlonger-last-cell"]) == "x         y\nx         longer-last-cell\n"


def test_line_without_a_cell_ends_the_column_block():
    # The middle line has no tab, so the lines above and below are aligned separately.
    assert tabulate(["aaaaaaaaaaaaaaa\tb", "plain", "c\td"]) == (
        "aaaaaaaaaaaaaaa   b\nplain\nc         d\n"
    )


def test_tabwrite_keeps_unterminated_last_line_and_empty_input():
    assert tabwrite("a\tb\nc") == "a         b\nc"
    assert tabulate([]) == ""


def test_render_table_matches_docker_ps_default_table():
    fmt = DEFAULT_PS + "\t{{.Size}}"
    assert render_table(fmt, CONTAINER_HEADER, ROWS) == (
        "CONTAINER ID   IMAGE     COMMAND   CREATED        STATUS    PORTS     NAMES        SIZE\n"
        'containerID1   ubuntu    ""        24 hours ago                       foobar_baz   0B\n'
        'containerID2   ubuntu    ""        24 hours ago                       foobar_bar   0B\n'
    )


def test_render_table_accepts_escaped_tabs_as_typed_on_the_command_line():
    assert render_table(r"table {{.Image}}\t{{.Size}}", CONTAINER_HEADER, []) == "IMAGE     SIZE\n"


def test_render_table_prints_header_even_without_rows():
    assert render_table("table {{.Image}}", CONTAINER_HEADER, []) == "IMAGE\n"


def test_non_table_format_prints_rows_without_header():
    assert render_table("{{.Image}}", CONTAINER_HEADER, ROWS) == "ubuntu\nubuntu\n"
    assert render_table("{{.Image}}", CONTAINER_HEADER, []) == ""


def test_header_functions_leave_column_titles_intact_but_pad_applies():
    fmt = (
        r"table {{truncate .ID 5}}\t{{json .Image}} {{.RunningFor}}/{{title .Status}}/"
        r"{{pad .Ports 2 2}}.{{upper .Names}} {{lower .Status}}"
    )
    assert render_table(fmt, CONTAINER_HEADER, ROWS) == (
        "CONTAINER ID   IMAGE CREATED/STATUS/  PORTS  .NAMES STATUS\n"
        'conta          "ubuntu" 24 hours ago//.FOOBAR_BAZ \n'
        'conta          "ubuntu" 24 hours ago//.FOOBAR_BAR \n'
    )


def test_split_in_table_header_shows_the_column_name():
    assert render_table('table {{split .Image ":"}}', CONTAINER_HEADER, ROWS) == (
        "IMAGE\n[ubuntu]\n[ubuntu]\n"
    )


def test_render_table_json_keyword_prints_one_object_per_row():
    assert render_table("json", {}, [{"b": 1, "a": "x"}]) == '{"a":"x","b":1}\n'


def test_render_table_raises_template_errors_like_docker():
    with pytest.raises(TemplateError) as exc:
        render_table("{{InvalidFunction}}", CONTAINER_HEADER, ROWS)
    assert (
        str(exc.value)
        == 'template parsing error: template: :1: function "InvalidFunction" not defined'
    )
    with pytest.raises(TemplateError, match=r"at <nil>: nil is not a command$"):
        render_table("{{nil}}", CONTAINER_HEADER, ROWS)


def test_render_table_header_error_keeps_partial_header():
    class Ctx:
        Image = "ubuntu"

        def Label(self, name):
            return {"a": "1"}.get(name, "")

    out = render_table(r'table {{.Image}}\t{{.Label "a"}}', {"Image": "IMAGE"}, [Ctx()])
    # "IMAGE\t" was written before the error: a terminated cell, so it is padded.
    assert out == "IMAGE     \nubuntu    1\n"


def test_tabwrite_rows_is_the_same_tabwriter_as_text():
    from dockerlab.format.table import tabwrite_rows

    rows = [["UID", "PID", "CMD"], ["root", "12345678901234567890123", "sleep 9"], ["x"]]
    text = "".join("\t".join(r) + "\n" for r in rows)
    assert tabwrite_rows(rows) == tabwrite(text)
    assert tabwrite_rows(rows, minwidth=20).startswith("UID" + " " * 17 + "PID")
    assert tabwrite_rows([]) == ""
