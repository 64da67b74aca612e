"""The widgets as a classroom meets them (issue 14): one-line errors with hints, shown inside the
widget for clicks; a monitor that follows restarts; DiffView's empty and removed files; no
clipped text; no error flashes while typing; progress on stop; Tab and Esc in the console;
labels in the notebook's language. Real images and containers, no browser."""

from __future__ import annotations

import gc
import sys

import pytest
from helpers import wait_until

pytest.importorskip("ipywidgets", reason="the lab extra (ipywidgets) is not installed")

pytestmark = pytest.mark.integration

POLITE = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
LONG = "echo " + "a-rather-long-word " * 12 + "> /etc/long"


@pytest.fixture(autouse=True)
def english():
    """Every test starts in the default language (English) and leaves it so."""
    from dockerlab.widgets import i18n

    i18n._chosen = None
    yield
    i18n._chosen = None


def _until(predicate, timeout=10.0):
    return bool(wait_until(predicate, timeout, interval=0.05))


def _commit(engine, image, script, tag):
    cid, att = engine.run({"Image": image, "Cmd": ["sh", "-c", script]})
    code, _, err = att.collect()
    assert code == 0, err
    engine.commit(cid, tag)
    engine.remove(cid)


def _one_line(err):
    lines = err._render_traceback_()
    assert len(lines) == 1
    return lines[0]


# ---- one line with a hint, container vs image -------------------------------------------------
def test_a_container_where_an_image_is_expected_says_so_in_one_line(engine):
    from dockerlab.errors import NoSuchImage
    from dockerlab.widgets import HistoryView, LayerTree, i18n

    engine.create({"Image": "busybox", "Cmd": ["true"]}, name="ch1-box")
    with pytest.raises(NoSuchImage) as caught:
        LayerTree("ch1-box", engine=engine)
    line = _one_line(caught.value)
    assert "ch1-box is a container, not an image: LayerTree needs an image" in line
    with pytest.raises(NoSuchImage) as caught:
        HistoryView("nothing-here", engine=engine)
    assert "no such image: nothing-here" in _one_line(caught.value)
    i18n.set_language("zh")
    with pytest.raises(NoSuchImage) as caught:
        LayerTree("ch1-box", engine=engine)
    assert "ch1-box 是容器，不是镜像：LayerTree 需要镜像（image）" in _one_line(caught.value)


def test_an_image_where_a_container_is_expected_says_so_in_one_line(engine):
    from dockerlab.errors import NoSuchContainer
    from dockerlab.widgets import DiffView, LifecycleView, ResourceMonitor

    for cls in (DiffView, LifecycleView, ResourceMonitor):
        with pytest.raises(NoSuchContainer) as caught:
            cls("busybox", engine=engine)
        line = _one_line(caught.value)
        assert f"busybox is an image, not a container: {cls.__name__} needs a container" in line
    with pytest.raises(NoSuchContainer) as caught:
        DiffView("ch1-none", engine=engine)
    assert "no such container: ch1-none" in _one_line(caught.value)


def test_a_notebook_shows_the_one_line_not_the_stack(engine):
    """IPython prints ``_render_traceback_``'s lines in place of the traceback."""
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython
    from IPython.utils.capture import capture_output

    ip = start_ipython() or get_ipython()  # one shell per process: test_magics may own it
    ip.user_ns["engine"] = engine
    with capture_output() as out:
        ip.run_cell("from dockerlab.widgets import LayerTree\nLayerTree('nope:1', engine=engine)")
    text = out.stdout + out.stderr
    assert "NoSuchImage" in text and "no such image: nope:1" in text
    assert "Traceback" not in text and "File " not in text


def test_a_monitor_without_a_container_is_one_clear_error_and_nothing_later(engine):
    from dockerlab.widgets import ResourceMonitor

    stray = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda u: stray.append(u)
    try:
        with pytest.raises(ValueError) as caught:
            ResourceMonitor(engine=engine)
        assert "ResourceMonitor needs at least one container" in _one_line(caught.value)
        del caught
        gc.collect()
    finally:
        sys.unraisablehook = old
    assert stray == []  # no AttributeError from a half-made widget's close()


# ---- clicks on what is gone -------------------------------------------------------------------
def test_clicks_on_a_removed_image_or_container_say_so_in_the_widget(engine):
    from dockerlab.widgets import DiffView, LayerTree

    _commit(engine, "busybox", "echo hi > /etc/hi", "ch1-gone:v1")
    tree = LayerTree("ch1-gone:v1", engine=engine)
    engine.image_remove("ch1-gone:v1")
    tree._layer_list.value = 0  # a click on a layer not read yet
    assert "the image ch1-gone:v1 is gone" in tree._message.value
    assert "Traceback" not in tree._message.value

    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="ch1-dv", attach="")
    view = DiffView("ch1-dv", engine=engine)
    engine.remove(cid, force=True)
    view._refresh_button.click()
    assert "the container ch1-dv is gone" in view._message.value


def test_lifecycle_click_on_a_removed_container_says_so(engine):
    from dockerlab.widgets import LifecycleView

    engine.create({"Image": "busybox", "Cmd": ["true"]}, name="ch4-gone")
    view = LifecycleView("ch4-gone", engine=engine)
    engine.remove("ch4-gone")
    assert view.click("start") is False
    assert "the container ch4-gone is gone" in view.message
    assert view.state == "removed"
    view.close()


# ---- ResourceMonitor across stop / start / restart ------------------------------------------
def test_the_monitor_follows_a_container_across_stop_start_and_restart(engine):
    from dockerlab.widgets import ResourceMonitor

    cid, _ = engine.run({"Image": "busybox", "Cmd": POLITE}, name="ch4-mon", attach="")
    mon = ResourceMonitor("ch4-mon", engine=engine, interval=0.2)
    try:
        assert _until(lambda: len(mon.samples) >= 2)
        engine.stop("ch4-mon", timeout=5)
        assert _until(lambda: mon.watched[0].status == "exited")
        assert mon._thread.is_alive() and mon.active  # still watching for a start
        assert "waiting" in mon._status.value
        n = len(mon.samples)
        engine.start("ch4-mon")
        assert _until(lambda: len(mon.samples) > n + 1)
        assert mon.samples[-1]["status"] == "running"
        assert "live" in mon._status.value
        engine.restart("ch4-mon", timeout=5)
        n = len(mon.samples)
        assert _until(lambda: len(mon.samples) > n + 2)
        assert all(r["cpu_percent"] >= 0 for r in mon.samples)  # counters restart from 0
        engine.remove(cid, force=True)
        assert _until(lambda: not mon._thread.is_alive())
        assert "removed" in mon._status.value
    finally:
        mon.close()


# ---- DiffView: empty and removed files --------------------------------------------------------
def test_diff_view_names_an_empty_added_file_and_a_removed_one(engine):
    from dockerlab.widgets import DiffView

    cid, att = engine.run(
        {"Image": "busybox", "Cmd": ["sh", "-c", "touch /etc/empty; rm /etc/group"]},
        name="ch3-dv",
    )
    assert att.collect()[0] == 0
    view = DiffView("ch3-dv", engine=engine)
    view.select_file("/etc/empty")
    assert view.file_note == "/etc/empty: added (empty)"
    assert "(added)" in view._file.value and "added (empty)" in view._file.value
    view.select_file("/etc/group")
    assert view.file_note.startswith("/etc/group: removed")
    body = view._file.value
    assert "(removed)" in body.split("</h4>")[0]  # the heading
    assert "/etc/group: removed" in body.split("</h4>")[1]  # and the body
    assert "deleted" not in body
    assert "removed" in view._header.value and "deleted" not in view._header.value


# ---- no clipped text --------------------------------------------------------------------------
def test_long_commands_get_a_tooltip_and_wrap(engine):
    from dockerlab.widgets import HistoryView, LayerTree

    _commit(engine, "busybox", LONG, "ch3-long:v1")
    tree = LayerTree("ch3-long:v1", engine=engine)
    assert "a-rather-long-word " * 12 in tree._layer_list.tooltip  # the whole command
    assert "dl-wrap" in tree._header._dom_classes
    assert ".dl-wrap code {white-space: pre-wrap" in tree.children[0].value
    view = HistoryView("ch3-long:v1", engine=engine)
    chart = view.chart_svg()
    assert "fill: currentColor" in chart  # labels readable in a dark theme
    for label in chart.split('text-anchor="end">')[1:]:  # every label fits its 260 px
        assert len(label.split("<")[0]) <= 38


def test_lifecycle_buttons_wrap(engine):
    from dockerlab.widgets import LifecycleView

    engine.create({"Image": "busybox", "Cmd": ["true"]}, name="ch4-wrap")
    view = LifecycleView("ch4-wrap", engine=engine)
    row = view.children[2]
    assert row.layout.flex_flow == "row wrap"
    assert len(row.children) == 8
    view.close()


def test_dockerfile_cell_names_its_layer_tree_by_the_tag(engine, monkeypatch):
    from IPython.utils.capture import capture_output

    from dockerlab.magics.runner import Runner

    monkeypatch.setenv("DOCKERLAB_ROOT", engine.paths.root)
    with capture_output():
        result = Runner().dockerfile("-t ch5-tag:v1", "FROM busybox\nRUN echo hi > /hi\n")
    tree = result.layers
    assert tree.image == "ch5-tag:v1"
    assert repr(tree).startswith("LayerTree(ch5-tag:v1: ")
    assert "sha256:" not in tree._header.value


# ---- typing a path, progress on stop ----------------------------------------------------------
def test_typing_a_path_does_not_flash_errors(engine):
    from dockerlab.widgets import LayerTree

    _commit(engine, "busybox", "echo hello > /etc/motd", "ch3-type:v1")
    tree = LayerTree("ch3-type:v1", engine=engine)
    seen = []
    tree._message.observe(lambda ch: seen.append(ch["new"]), "value")
    for prefix in ("/", "/e", "/et", "/etc", "/etc/", "/etc/m", "/etc/mo", "/etc/mot"):
        tree._pick.value = prefix
    assert not any(seen)  # nothing said while the path is being typed
    tree._pick.value = "/etc/motd"
    assert tree.selected_file == "/etc/motd" and tree._message.value == ""
    tree._pick.value = "/etc/nothing-like-it"  # no listed path starts so: said at once
    assert "no layer of ch3-type:v1 holds /etc/nothing-like-it" in tree._message.value


def test_the_stop_button_shows_progress_then_clears_it(engine):
    from dockerlab.widgets import LifecycleView

    engine.run({"Image": "busybox", "Cmd": POLITE}, name="ch4-stop", attach="")
    view = LifecycleView("ch4-stop", engine=engine, stop_timeout=5)
    shown, disabled = [], []
    view._message.observe(lambda ch: shown.append(ch["new"]), "value")
    button = view._buttons["stop"]
    button.observe(lambda ch: disabled.append(ch["new"]), "disabled")
    button.click()
    assert any("waiting up to 5 s" in text for text in shown)
    assert True in disabled  # no second click while it runs
    assert view.state == "exited" and view._message.value == ""
    view.close()


# ---- colours for a dark theme -----------------------------------------------------------------
def test_colours_come_from_the_theme(engine):
    from dockerlab.widgets import DiffView, LayerTree
    from dockerlab.widgets._base import error_html

    assert "var(--jp-error-color1" in error_html(ValueError("x"))
    tree = LayerTree("busybox", engine=engine)
    assert "var(--jp-ui-font-color2" in tree._tree.value
    assert str(tree._tree.layout.border).startswith("1px solid var(--jp-border-color2")
    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, attach="")
    view = DiffView(cid, engine=engine)
    assert "var(--jp-border-color2" in str(view._tree.layout.border)


# ---- the notebook's language ------------------------------------------------------------------
def test_labels_follow_the_language(engine, monkeypatch):
    from dockerlab.widgets import LayerTree, ResourceMonitor, i18n

    tree = LayerTree("busybox", engine=engine)
    assert tree._mode.options[0][0] == "This layer's changes"
    monkeypatch.setenv("DOCKERLAB_LANG", "zh_CN.UTF-8")
    tree = LayerTree("busybox", engine=engine)
    assert tree._mode.options[0][0] == "这一层的改动"
    assert tree._kind_boxes["A"].description == "新增"
    i18n.set_language("en")  # the call wins over the environment
    engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="ch0-lang", attach="")
    mon = ResourceMonitor("ch0-lang", engine=engine, start=False)
    assert mon._pause_button.description == "Pause"
    i18n.set_language("zh")
    mon.pause()
    assert mon._pause_button.description == "继续"
    mon.close()


def test_any_engine_error_while_making_a_widget_is_one_line():
    from dockerlab.errors import DockerlabError
    from dockerlab.widgets import LayerTree

    class Broken:  # an engine face whose layer store fails after the image is found
        def image_inspect(self, ref):
            return {"Id": "sha256:" + "a" * 64}

        def image_layers(self, ref):
            raise DockerlabError("layer store unreadable:\nsecond line")

    with pytest.raises(DockerlabError) as caught:
        LayerTree("x", engine=Broken())
    assert _one_line(caught.value).endswith("DockerlabError\x1b[0m: layer store unreadable:")


def test_a_failed_refresh_in_the_monitor_thread_shows_in_the_widget(engine):
    from dockerlab.errors import DockerlabError
    from dockerlab.widgets import ResourceMonitor

    engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="ch4-fail", attach="")
    mon = ResourceMonitor("ch4-fail", engine=engine, interval=0.1)
    try:

        def broken(*_a, **_k):
            raise DockerlabError("cgroup unreadable")

        mon._engine = type("Face", (), {"inspect": staticmethod(broken)})()
        assert _until(lambda: "cgroup unreadable" in mon._status.value)
        assert mon._thread.is_alive()  # the loop goes on
    finally:
        mon.close()


def test_widgets_that_fail_to_be_made_leave_nothing_behind(engine):
    from dockerlab.errors import NoSuchContainer, NoSuchImage
    from dockerlab.widgets import DiffView, HistoryView, LayerTree, LifecycleView, ResourceMonitor

    stray = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda u: stray.append(u)
    try:
        for cls, ref in (
            (ResourceMonitor, "busybox"),
            (LifecycleView, "busybox"),
            (DiffView, "busybox"),
            (LayerTree, "ch0-none"),
            (HistoryView, "ch0-none"),
        ):
            with pytest.raises((NoSuchContainer, NoSuchImage)):
                cls(ref, engine=engine)
        gc.collect()
    finally:
        sys.unraisablehook = old
    assert stray == []


def test_diff_view_in_chinese(engine):
    from dockerlab.widgets import DiffView, set_language

    cid, att = engine.run({"Image": "busybox", "Cmd": ["sh", "-c", "touch /etc/empty"]})
    assert att.collect()[0] == 0
    set_language("zh")
    view = DiffView(cid, engine=engine)
    assert "新增 1" in view._header.value
    view.select_file("/etc/empty")
    assert view.file_note == "/etc/empty：新增（空文件）"
    assert view._boxes["D"].description == "删除"
