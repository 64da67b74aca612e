"""Static pictures and plots of the widgets, on real containers: what a saved notebook keeps
(text/html beside the widget view) and the figures a chapter draws (memory climbing to a
``-m`` limit and the OOM kill, CPU under ``--cpus``)."""

from __future__ import annotations

import importlib.util
import io
import pathlib
import sys

import pytest
from helpers import wait_until

pytest.importorskip("ipywidgets", reason="the lab extra (ipywidgets) is not installed")
pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BUSY = ["sh", "-c", "while true; do :; done"]
# 1 MiB more each round, a little apart, until the kernel's OOM killer ends it
GROW = [
    "sh",
    "-c",
    "m=$(head -c 1048576 /dev/zero | tr '\\0' a); x=; while true; do x=\"$x$m\"; sleep 0.05; done",
]


def _strip_module():
    path = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "strip_widget_state.py"
    spec = importlib.util.spec_from_file_location("strip_widget_state", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_memory_climbs_to_the_limit_and_the_oom_kill_is_plotted(engine):
    from dockerlab.widgets import ResourceMonitor
    from dockerlab.widgets.monitor import ALIVE

    engine.run(
        {"Image": "busybox", "Cmd": GROW, "HostConfig": {"Memory": 32 * MiB}},
        name="oom",
        attach="",
    )
    mon = ResourceMonitor("oom", engine=engine, start=False)
    try:

        def ended():
            mon.sample()
            return mon.watched[0].status not in ALIVE

        assert wait_until(ended, 120, interval=0.05), "the container never ended"
        state = engine.inspect("oom")["State"]
        assert state["OOMKilled"] is True and state["ExitCode"] == 137

        frame = mon.to_pandas()
        assert len(frame) >= 3
        assert frame["memory"].dtype == "int64"
        assert pd.api.types.is_datetime64_any_dtype(frame["time"])
        assert frame["time"].is_monotonic_increasing
        assert set(frame["memory_limit"]) == {32 * MiB}
        # the climb: from a shell's few hundred kB to near the limit, never over it
        assert frame["memory"].max() > frame["memory"].iloc[0] + 8 * MiB
        assert frame["memory"].max() <= 32 * MiB

        fig = mon.plot("memory")
        ax = fig.axes[0]
        assert any(t.get_text() == "OOM kill" for t in ax.texts)
        labels = [line.get_label() for line in ax.get_lines()]
        assert "-m 32MiB" in labels and "oom" in labels
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        assert buf.getvalue().startswith(b"\x89PNG")

        bundle = mon._repr_mimebundle_()
        assert WIDGET_VIEW in bundle and "oom" in bundle["text/html"]
        assert "data:image/png;base64," in bundle["text/html"]  # the curves, for GitHub
    finally:
        mon.close()


def test_the_monitors_saved_picture_is_redrawn_when_its_sampling_ends(engine):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display
    from IPython.utils.capture import capture_output

    from dockerlab.widgets import ResourceMonitor

    engine.run(
        {"Image": "busybox", "Cmd": ["sh", "-c", "sleep 1; echo done"]}, name="brief", attach=""
    )
    fresh = not InteractiveShell.initialized()  # leave another test's shell alone
    InteractiveShell.instance()
    try:
        with capture_output() as out:
            mon = ResourceMonitor("brief", engine=engine, interval=0.5)
            display(mon)
            wait_until(lambda: engine.inspect("brief")["State"]["Status"] == "exited", 30)
            engine.remove("brief")  # the monitor follows restarts: it ends when its container goes
            assert wait_until(lambda: not mon.active and len(out.outputs) == 2, 30)
        first, last = out.outputs
        assert last.update and last.transient == first.transient
        assert WIDGET_VIEW in last.data and "text/html" in last.data
        mon.close()
    finally:
        if fresh:
            InteractiveShell.clear_instance()


def test_cpu_under_a_quota_is_plotted_with_the_quota_line(engine):
    from dockerlab.widgets import ResourceMonitor

    engine.run(
        {"Image": "busybox", "Cmd": BUSY, "HostConfig": {"NanoCpus": 500_000_000}},
        name="half",
        attach="",
    )
    mon = ResourceMonitor("half", engine=engine, start=False)
    try:
        assert wait_until(lambda: len(mon.sample()) and len(mon.samples) >= 3, 30)
        frame = mon.to_pandas()
        assert frame["cpu_percent"].dtype == "float64" and (frame["cpu_percent"] >= 0).all()
        fig = mon.plot("cpu")
        labels = [line.get_label() for line in fig.axes[0].get_lines()]
        assert "--cpus 0.5" in labels and "half" in labels
        quota = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "--cpus 0.5")
        assert list(quota.get_ydata()) == [50.0, 50.0]
        assert len(mon.plot("both").axes) == 2
    finally:
        mon.close()
        engine.kill("half")


def test_every_widget_leaves_a_static_picture_that_stripping_keeps(engine, tmp_path):
    from dockerlab.widgets import (
        ApiTrace,
        DiffView,
        HistoryView,
        LayerTree,
        LifecycleView,
        NetworkView,
        ResourceMonitor,
    )

    engine.run(
        {"Image": "busybox", "Cmd": ["sh", "-c", "echo hi > /greeting; sleep 60"]},
        name="pic",
        attach="",
    )
    assert wait_until(lambda: any(c["Path"] == "/greeting" for c in engine.diff("pic")), 20)
    widgets = {
        "LayerTree": LayerTree("busybox", engine=engine),
        "HistoryView": HistoryView("busybox", engine=engine),
        "DiffView": DiffView("pic", engine=engine),
        "LifecycleView": LifecycleView("pic", engine=engine),
        "ResourceMonitor": ResourceMonitor("pic", engine=engine, start=False),
        "NetworkView": NetworkView("pic", engine=engine, follow=False),
        "ApiTrace": ApiTrace(str(tmp_path / "nothing.sock")),
    }
    strip = _strip_module()
    try:
        for name, widget in widgets.items():
            bundle = widget._repr_mimebundle_()
            assert WIDGET_VIEW in bundle and bundle["text/plain"], name
            picture = bundle["text/html"]
            assert picture.startswith('<div class="dockerlab-static"'), name
            assert "<script" not in picture, name
            nb = {
                "cells": [
                    {
                        "cell_type": "code",
                        "metadata": {},
                        "outputs": [{"output_type": "display_data", "data": bundle}],
                        "source": name,
                    }
                ],
                "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {}}},
            }
            assert strip.strip(nb) and not strip.has_state(nb)
            kept = nb["cells"][0]["outputs"][0]["data"]
            assert kept["text/html"] == picture, name
        # what each picture shows: the widget's own figures
        html = {n: w._repr_mimebundle_()["text/html"] for n, w in widgets.items()}
        assert "greeting" in html["DiffView"]
        assert "running" in html["LifecycleView"]
        assert "data:image/png;base64," in html["HistoryView"]  # the layer-size bars
        assert "<svg" not in html["HistoryView"]  # once, as the PNG
        assert "pic" in html["ResourceMonitor"] and "CPU %" in html["ResourceMonitor"]
        assert "pic" in html["NetworkView"]
        assert "cannot connect to the daemon" in html["ApiTrace"]
    finally:
        for widget in widgets.values():
            widget.close()
        engine.kill("pic")
    assert sys.modules.get("matplotlib.pyplot") is None  # figures without pyplot
