"""Pure parts of the widgets: dive's efficiency, tree building, previews, diffs, SVG."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dockerlab.widgets import _model as m
from dockerlab.widgets import svg


def f(path, kind, size=0, type_="file"):
    return {"Path": path, "Kind": kind, "Size": size, "Type": type_}


# ---- efficiency -------------------------------------------------------------------------------
def test_efficiency_of_an_image_without_repeats_is_one():
    eff = m.efficiency(
        [
            (0, [f("/bin", "A", type_="dir"), f("/bin/sh", "A", 100)]),
            (1, [f("/etc", "A", type_="dir"), f("/etc/x", "A", 50)]),
        ],
        [100, 50],
    )
    assert eff.score == 1.0
    assert eff.wasted_bytes == 0
    assert eff.inefficiencies == []


def test_efficiency_counts_a_file_rewritten_in_a_later_layer_as_dive_does():
    # /a: 100 then 300 -> min 100, all 400; /b: 50 once
    eff = m.efficiency(
        [(0, [f("/a", "A", 100), f("/b", "A", 50)]), (2, [f("/a", "C", 300)])], [150, 300]
    )
    assert eff.score == pytest.approx((100 + 50) / (400 + 50))
    assert eff.wasted_bytes == 400  # dive: the cumulative size of every repeated path
    assert [(p.path, p.count, p.layers) for p in eff.inefficiencies] == [("/a", 2, [0, 2])]
    assert eff.user_size == 300
    assert eff.wasted_user_percent == pytest.approx(400 / 300 * 100)


def test_efficiency_counts_a_removed_file_as_wasted():
    eff = m.efficiency([(0, [f("/big", "A", 1000), f("/keep", "A", 10)]), (1, [f("/big", "D")])])
    assert eff.wasted_bytes == 1000
    assert eff.score == pytest.approx(10 / 1010)


def test_efficiency_counts_a_removed_folder_as_removal_of_every_file_below():
    eff = m.efficiency(
        [
            (0, [f("/d", "A", type_="dir"), f("/d/x", "A", 30), f("/d/y", "A", 70)]),
            (1, [f("/d", "D", type_="dir")]),
        ]
    )
    assert eff.wasted_bytes == 100
    assert eff.score == 0.0
    assert sorted(p.path for p in eff.inefficiencies) == ["/d/x", "/d/y"]


def test_efficiency_visits_leaves_only():
    # a changed parent folder is listed with its file, but only the file counts
    eff = m.efficiency(
        [
            (0, [f("/etc", "A", 4096, "dir"), f("/etc/p", "A", 10)]),
            (1, [f("/etc", "C", 4096, "dir"), f("/etc/q", "A", 5)]),
        ]
    )
    assert eff.score == 1.0
    assert eff.wasted_bytes == 0


def test_efficiency_of_nothing_is_one():
    assert m.efficiency([]).score == 1.0


# ---- trees ------------------------------------------------------------------------------------
def test_build_tree_nests_paths_and_keeps_kinds():
    root = m.build_tree(
        [
            {"Path": "/etc", "Kind": 0},
            {"Path": "/etc/motd", "Kind": 1},
            {"Path": "/bin/vi", "Kind": 2},
        ]
    )
    assert set(root.children) == {"etc", "bin"}
    assert root.children["etc"].kind == "C"
    assert root.children["etc"].children["motd"].kind == "A"
    assert root.children["bin"].kind == "U"  # only there to hold /bin/vi
    assert root.children["bin"].children["vi"].kind == "D"
    assert root.count() == {"A": 1, "C": 1, "D": 1, "U": 1}


def test_build_tree_shows_an_unknown_numeric_kind_as_text():
    root = m.build_tree([{"Path": "/x", "Kind": 7}, {"Path": "/y", "Kind": "A"}])
    assert root.children["x"].kind == "7" and root.children["y"].kind == "A"


def test_tree_text_draws_folders_first_with_kind_letters():
    root = m.build_tree([f("/z", "A"), f("/a/b", "C"), f("/a/c", "D"), f("/a", "C", type_="dir")])
    assert m.tree_text(root) == ["C ├── a", "C │   ├── b", "D │   └── c", "A └── z"]
    assert m.tree_text(root, limit=2) == ["C ├── a", "C │   ├── b"]


def test_tree_html_colours_kinds_and_highlights_the_selection():
    root = m.build_tree([f("/a", "A", 10), f("/b", "C", 20), f("/c", "D")])
    out = m.tree_html(root, selected="/b")
    assert m.KIND_COLOURS["A"] in out and m.KIND_COLOURS["C"] in out
    assert "line-through" in out  # removed entries are struck through
    assert "background: rgba(255, 193, 7, 0.35)" in out
    assert "&lt;" not in m.tree_html(m.build_tree([f("/x", "A")]))
    assert "<script" not in m.tree_html(m.build_tree([f("/<script>", "A")]))


def test_tree_html_stops_at_the_limit_and_says_so():
    root = m.build_tree([f(f"/f{i}", "A") for i in range(50)])
    out = m.tree_html(root, limit=10)
    assert out.count('<div style="margin-left') == 10
    assert "only the first 10 entries" in out


def test_filter_files_by_kind_and_pattern():
    files = [f("/a/x", "A"), f("/a/y", "C"), f("/b/x", "D"), f("/c", "U")]
    assert [x["Path"] for x in m.filter_files(files, {"A", "D"})] == ["/a/x", "/b/x"]
    assert [x["Path"] for x in m.filter_files(files, set("ACDU"), "/a/")] == ["/a/x", "/a/y"]


# ---- contents ---------------------------------------------------------------------------------
def test_text_detection():
    assert m.is_text(b"hello\n")
    assert m.is_text(b"")
    assert not m.is_text(b"\x7fELF\x00\x01")
    assert not m.is_text(b"\xff\xfe\xfa")
    assert not m.is_text(None)


def test_preview_truncates_and_describes_binaries():
    assert m.preview(b"a\nb\n") == "a\nb"
    long = b"".join(b"line %d\n" % i for i in range(200))
    text = m.preview(long, max_lines=5)
    assert text.startswith("line 0\nline 1") and "truncated" in text
    assert m.preview(b"\0" * 10) == "(binary file, 10 bytes)"
    assert "not a regular file" in m.preview(None)


def test_unified_diff_between_versions():
    d = m.unified_diff(b"a\nb\n", b"a\nc\n", "layer 0/f", "layer 2/f")
    assert d.splitlines() == ["--- layer 0/f", "+++ layer 2/f", "@@ -1,2 +1,2 @@", " a", "-b", "+c"]
    assert m.unified_diff(None, b"x\n", "old", "new").startswith("--- /dev/null\n+++ new")
    assert m.unified_diff(b"x\n", None, "old", "new").startswith("--- old\n+++ /dev/null")
    assert m.unified_diff(b"\0", b"x", "a", "b") is None
    assert m.unified_diff(b"same\n", b"same\n", "a", "b") == ""
    assert "No newline at end of file" in m.unified_diff(b"a", b"b", "x", "y")


def test_diff_html_colours_lines():
    out = m.diff_html("--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new <b>\n")
    assert m.KIND_COLOURS["A"] in out and m.KIND_COLOURS["D"] in out
    assert "&lt;b&gt;" in out


def test_short_ref_hides_ids_only():
    assert m.short_ref("busybox:latest") == "busybox:latest"
    assert m.short_ref("web") == "web"
    assert m.short_ref("0123456789ab") == "<id>"
    assert m.short_ref("sha256:" + "ab" * 32) == "<id>"


# ---- SVG --------------------------------------------------------------------------------------
def test_bar_chart_scales_to_the_largest_value():
    out = svg.bar_chart(
        [("big", 100.0, "100B"), ("half", 50.0, "50B"), ("none", 0.0, "0B")],
        width=400,
        label_width=100,
    )
    area = 400 - 100 - 70
    assert f'width="{area}"' in out
    assert f'width="{area // 2}"' in out
    assert 'width="1"' in out  # an empty layer still gets a tick
    assert out.startswith("<svg") and out.endswith("</svg>")
    assert out == svg.bar_chart(
        [("big", 100.0, "100B"), ("half", 50.0, "50B"), ("none", 0.0, "0B")],
        width=400,
        label_width=100,
    )


def test_bar_chart_highlights_and_escapes():
    out = svg.bar_chart([("<x>", 1.0, "1B"), ("y", 2.0, "2B")], highlight=1)
    assert "&lt;x&gt;" in out and "#ed7d31" in out


def test_sparkline_puts_the_newest_value_at_the_right_edge():
    out = svg.sparkline([0.0, 50.0, 100.0], width=100, height=22, vmax=100.0, capacity=3)
    assert 'points="0,21 50,11 100,1"' in out
    assert '<circle cx="100" cy="1"' in out


def test_sparkline_keeps_the_last_values_and_handles_empty_and_flat_series():
    out = svg.sparkline(list(range(100)), capacity=10)
    assert out.count(",") == svg.sparkline(list(range(90, 100)), capacity=10).count(",")
    assert "polyline" not in svg.sparkline([])
    assert "polyline" in svg.sparkline([0.0, 0.0])


def test_lifecycle_svg_lights_the_current_state_and_its_edges():
    out = svg.lifecycle_svg("paused", {"unpause", "stop", "kill"}, ["created", "running"])
    assert out.count('data-current="true"') == 1
    assert 'data-state="paused" data-current="true"' in out
    for state in ("created", "running", "paused", "exited", "removed"):
        assert f'data-state="{state}"' in out
    for cmd in ("start", "pause", "unpause", "stop", "kill", "restart", "rm", "rm -f"):
        assert f"docker {cmd}<" in out
    assert 'data-from="paused" data-to="running"' in out
    lines = [seg.split("/>")[0] for seg in out.split("<line")[1:]]
    live = [line for line in lines if 'stroke="#1565c0"' in line]
    assert {seg.split('data-to="')[1].split('"')[0] for seg in live} == {"running", "exited"}


def test_lifecycle_svg_is_deterministic():
    assert svg.lifecycle_svg("running") == svg.lifecycle_svg("running")


# ---- import cost ------------------------------------------------------------------------------
def test_importing_the_package_loads_neither_the_engine_nor_ipywidgets():
    code = (
        "import sys, dockerlab.widgets; "
        "print(sorted(m for m in sys.modules if m.startswith(('dockerlab.engine', "
        "'ipywidgets', 'dockerlab.widgets.layers'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
