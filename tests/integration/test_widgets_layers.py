"""LayerTree, DiffView and HistoryView on real images and containers (no browser)."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets", reason="the lab extra (ipywidgets) is not installed")

from traitlets import TraitError  # noqa: E402

pytestmark = pytest.mark.integration


def _step(engine, image, script, tag):
    cid, att = engine.run({"Image": image, "Cmd": ["sh", "-c", script]})
    code, _, err = att.collect()
    assert code == 0, err
    image_id = engine.commit(cid, tag)
    engine.remove(cid)
    return image_id


@pytest.fixture
def layered(engine):
    """lab:two = busybox (0, CMD 1) + layer 2 (motd, blob, passwd, no vi) + layer 3."""
    _step(
        engine,
        "busybox",
        "echo hello > /etc/motd; mkdir /data; "
        "head -c 5000 /dev/zero > /data/blob; echo x:1 >> /etc/passwd; rm /bin/vi",
        "lab:one",
    )
    _step(engine, "lab:one", "echo world >> /etc/motd; rm -r /data", "lab:two")
    return engine


def test_layer_tree_starts_on_the_top_layer_with_files(layered):
    from dockerlab.widgets import LayerTree

    tree = LayerTree("lab:two", engine=layered)
    assert [r["Index"] for r in tree.layers] == [0, 1, 2, 3]
    assert tree.layers[1]["EmptyLayer"]
    assert tree.selected_layer == 3
    assert repr(tree) == "LayerTree(lab:two: 4 layers, selected 3)"
    assert tree.tree_text() == ["D ├── data", "C └── etc", "C     └── motd"]


def test_selecting_a_layer_shows_its_own_changes_coloured_by_kind(layered):
    from dockerlab.widgets import LayerTree
    from dockerlab.widgets._model import KIND_COLOURS

    tree = LayerTree("lab:two", engine=layered)
    tree.select_layer(2)
    assert tree.selected_layer == 2
    kinds = {f["Path"]: f["Kind"] for f in tree.view_files}
    assert kinds["/etc/motd"] == "A"
    assert kinds["/data/blob"] == "A"
    assert kinds["/etc/passwd"] == "C"
    assert kinds["/bin/vi"] == "D"
    html = tree._tree.value
    assert all(KIND_COLOURS[k] in html for k in "ACD")
    assert tree._layer_list.value == 2  # the list follows the code
    tree._layer_list.value = 0  # and a click in the list selects
    assert tree.selected_layer == 0
    assert repr(tree) == "LayerTree(lab:two: 4 layers, selected 0)"


def test_filtering_hides_kinds_and_paths(layered):
    from dockerlab.widgets import LayerTree

    tree = LayerTree("lab:two", engine=layered)
    tree.select_layer(2)
    tree.set_filter(added=False)
    assert {f["Kind"] for f in tree.view_files} == {"C", "D"}
    assert not tree._kind_boxes["A"].value
    assert repr(tree) == "LayerTree(lab:two: 4 layers, selected 2, hiding added)"
    tree.set_filter(added=True, modified=False, removed=False)
    assert {f["Kind"] for f in tree.view_files} == {"A"}
    tree._kind_boxes["C"].value = True  # the checkbox does the same
    assert tree.show_modified
    tree.search("/etc/")
    assert sorted(f["Path"] for f in tree.view_files) == ["/etc/motd", "/etc/passwd"]
    tree.search("")
    assert len(tree.view_files) > 2


def test_cumulative_view_shows_everything_up_to_the_layer(layered):
    from dockerlab.widgets import LayerTree

    tree = LayerTree("lab:two", engine=layered)
    tree.select_layer(2)
    tree.set_cumulative(True)
    kinds = {f["Path"]: f["Kind"] for f in tree.files}
    assert kinds["/bin/sh"] == "U"  # from the base, untouched by layer 2
    assert kinds["/etc/motd"] == "A"
    assert kinds["/bin/vi"] == "D"  # the layer's removals stay visible
    assert "/bin/busybox" in kinds
    tree.set_filter(unchanged=False)
    assert {f["Kind"] for f in tree.view_files} == {"A", "C", "D"}
    assert repr(tree) == ("LayerTree(lab:two: 4 layers, selected 2, cumulative, hiding unchanged)")
    tree._mode.value = False
    assert not tree.cumulative


def test_selecting_a_file_shows_its_layers_content_and_diffs(layered):
    from dockerlab.widgets import LayerTree

    tree = LayerTree("lab:two", engine=layered)
    tree.select_file("/etc/motd")
    assert [(h["Index"], h["Kind"]) for h in tree.file_history] == [(2, "A"), (3, "C")]
    assert tree.file_content == "hello\nworld"
    assert len(tree.file_diffs) == 1
    old, new, text = tree.file_diffs[0]
    assert (old, new) == (2, 3)
    assert "+world" in text.splitlines()
    assert repr(tree).endswith("file /etc/motd)")
    tree.select_layer(2)  # the content follows the layer
    assert tree.file_content == "hello"
    tree.select_layer(0)  # not there yet: the first version is shown, and said so
    assert tree.file_content == "hello"
    assert "not there yet" in tree._file.value


def test_a_removed_file_shows_where_it_went_and_its_last_content(layered):
    from dockerlab.widgets import LayerTree

    tree = LayerTree("lab:two", engine=layered)
    tree.select_file("/data/blob")
    assert [(h["Index"], h["Kind"]) for h in tree.file_history] == [(2, "A"), (3, "D")]
    assert tree.file_content == "(binary file, 5000 bytes)"
    assert "binary file changed" in tree._file.value or tree.file_diffs == []
    tree.select_file("/bin/vi")  # a symlink of the base, removed in layer 2
    assert [h["Kind"] for h in tree.file_history] == ["A", "D"]
    assert "symbolic link" in tree.file_content


def test_efficiency_counts_the_removed_blob_and_the_rewritten_files(layered):
    from dockerlab.widgets import LayerTree

    tree = LayerTree("lab:two", engine=layered)
    eff = tree.efficiency
    wasted = {p.path: p for p in eff.inefficiencies}
    assert wasted["/data/blob"].cumulative == 5000
    assert wasted["/data/blob"].layers == [2, 3]
    assert wasted["/etc/motd"].layers == [2, 3]
    assert "/etc/passwd" in wasted
    assert eff.wasted_bytes >= 5000
    assert 0.0 < eff.score < 1.0
    assert "efficiency" in tree._header.value and "wasted" in tree._header.value
    assert tree.summary().splitlines()[0].startswith("lab:two: 4 layers, efficiency ")


def test_bad_selections_are_refused(layered):
    from dockerlab.widgets import LayerTree

    tree = LayerTree("lab:two", engine=layered)
    with pytest.raises(TraitError, match="out of range"):
        tree.select_layer(4)
    with pytest.raises(ValueError, match="no layer"):
        tree.select_file("/no/such/file")
    tree.select_layer(-1)
    assert tree.selected_layer == 3


def test_busybox_layer_tree_text_repr_is_what_ipython_shows(engine):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display
    from IPython.utils.capture import capture_output

    from dockerlab.widgets import LayerTree

    tree = LayerTree("busybox:latest", engine=engine)
    assert repr(tree) == "LayerTree(busybox:latest: 2 layers, selected 0)"
    fresh = not InteractiveShell.initialized()
    InteractiveShell.instance()
    try:
        with capture_output() as out:  # what display() publishes (the widget has a display ID)
            display(tree)
    finally:
        if fresh:
            InteractiveShell.clear_instance()
    assert out.outputs[0].data["text/plain"] == repr(tree)
    assert any(line.endswith("busybox") for line in tree.tree_text())
    assert tree.efficiency.score == 1.0 and tree.efficiency.wasted_bytes == 0


# ---- DiffView ---------------------------------------------------------------------------------
def test_diff_view_draws_docker_diff_and_content_diffs(engine):
    from dockerlab.widgets import DiffView

    cid, att = engine.run(
        {
            "Image": "busybox",
            "Cmd": [
                "sh",
                "-c",
                "echo extra >> /etc/passwd; echo new > /etc/new; rm /bin/vi; "
                "head -c 64 /dev/urandom > /bin/blob",
            ],
        },
        name="dv",
    )
    assert att.collect()[0] == 0
    view = DiffView("dv", engine=engine)
    assert repr(view) == "DiffView(dv: 2 added, 3 changed, 1 deleted)"
    assert view.tree_text() == [
        "C ├── bin",
        "A │   ├── blob",
        "D │   └── vi",
        "C └── etc",
        "A     ├── new",
        "C     └── passwd",
    ]
    view.select_file("/etc/passwd")
    assert view.file_diff.splitlines()[:2] == ["--- image/etc/passwd", "+++ container/etc/passwd"]
    assert "+extra" in view.file_diff.splitlines()
    view.select_file("/etc/new")
    assert view.file_diff.splitlines()[0] == "--- /dev/null"
    view.select_file("/bin/vi")
    assert view.file_diff == "" and "symbolic" not in view.file_note
    view.select_file("/bin/blob")
    assert view.file_note == "/bin/blob: binary file added"
    view.select_file("/etc")
    assert view.file_note == "/etc: directory, no content diff"
    view.set_filter(removed=False, added=False)
    assert view.tree_text() == ["C ├── bin", "C └── etc", "C     └── passwd"]
    assert repr(view) == (
        "DiffView(dv: 2 added, 3 changed, 1 deleted, hiding added+removed, file /etc)"
    )
    with pytest.raises(ValueError):
        view.select_file("/etc/hostname")  # the engine's own files are never in the diff


def test_diff_view_refresh_sees_new_changes(engine):
    from dockerlab.widgets import DiffView

    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sh", "-c", "sleep 30"]}, attach="")
    view = DiffView(cid, engine=engine)
    assert view.changes == []
    assert repr(view) == "DiffView(<id>: 0 added, 0 changed, 0 deleted)"
    proc = engine.exec(cid, ["sh", "-c", "echo hi > /tmp/hi"])
    assert proc.wait() == 0
    view._refresh_button.click()
    assert ("/tmp/hi", "A") in [(c["Path"], c["Kind"]) for c in view.changes]


# ---- HistoryView ------------------------------------------------------------------------------
def test_history_view_table_and_chart(layered):
    from dockerlab.widgets import HistoryView

    view = HistoryView("lab:two", engine=layered)
    assert repr(view) == "HistoryView(lab:two: 4 layers, 1 empty)"
    lines = view.table_text().splitlines()
    assert lines[0].split() == ["#", "SIZE", "CREATED", "BY"]
    assert [ln.split()[0] for ln in lines[1:]] == ["3", "2", "1", "0"]
    assert "docker history lab:two" in view._table.value
    chart = view.chart_svg()
    assert chart.count("<rect") == 4
    assert "#ed7d31" not in chart
    view.select_layer(0)
    assert "#ed7d31" in view._chart.value
    assert repr(view) == "HistoryView(lab:two: 4 layers, 1 empty, selected 0)"
    with pytest.raises(TraitError):
        view.select_layer(9)
