"""Static pictures (text/html beside the widget view) and the plot helpers, without an engine."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

w = pytest.importorskip("ipywidgets")

from dockerlab.widgets.static import WIDGET_VIEW, StaticPicture  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


class Card(StaticPicture, w.VBox):
    def __repr__(self) -> str:
        return "Card()"


def _card() -> Card:
    out = w.Output()
    out.outputs = (
        {"output_type": "stream", "name": "stdout", "text": "a < b\n"},
        {"output_type": "display_data", "data": {"text/html": "<i>shown</i>"}, "metadata": {}},
    )
    hidden = w.HTML("<b>secret</b>", layout=w.Layout(display="none"))
    return Card(
        [
            w.HTML("<b>web</b> running"),
            w.HBox([w.Button(description="Stop"), w.ToggleButton(description="Pause")]),
            w.Dropdown(options=[("every 1 s", 1.0), ("every 2 s", 2.0)], value=2.0),
            w.Checkbox(value=True, description="cumulative"),
            w.Text(value="/etc/<motd>", description="Path"),
            w.Label("plain & simple"),
            hidden,
            out,
            w.VBox([w.HTML("long list")], layout=w.Layout(max_height="300px", overflow="auto")),
        ]
    )


def test_the_bundle_keeps_the_widget_view_and_adds_a_picture():
    bundle = _card()._repr_mimebundle_()
    assert set(bundle) == {"text/plain", WIDGET_VIEW, "text/html"}
    assert bundle["text/plain"] == "Card()"
    assert bundle["text/html"].startswith('<div class="dockerlab-static"')


def test_the_picture_draws_the_children_as_they_look():
    html = _card()._repr_mimebundle_()["text/html"]
    assert "<b>web</b> running" in html  # HTML widgets as they are
    assert ">Stop</span>" in html and ">Pause</span>" in html  # buttons as labels
    assert "every 2 s" in html and "every 1 s" not in html  # a choice shows what is chosen
    assert "☑ cumulative" in html
    assert "/etc/&lt;motd&gt;" in html and "plain &amp; simple" in html  # escaped
    assert "<pre>a &lt; b\n</pre>" in html and "<i>shown</i>" in html  # an Output's outputs
    assert "secret" not in html  # hidden children stay hidden
    assert "display:flex;flex-flow:row wrap" in html  # an HBox is a row
    assert '<div style="max-height:300px;overflow:auto">' in html  # a scrolled box stays one


def test_a_picture_that_fails_leaves_the_widget_bundle_alone():
    class Broken(Card):
        def _static_html(self) -> str:
            raise RuntimeError("no picture")

    bundle = Broken()._repr_mimebundle_()
    assert set(bundle) == {"text/plain", WIDGET_VIEW}


def test_stripping_widget_state_keeps_the_picture():
    spec = importlib.util.spec_from_file_location(
        "strip_widget_state", ROOT / "scripts" / "strip_widget_state.py"
    )
    strip = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(strip)
    bundle = _card()._repr_mimebundle_()
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"widgets": {}},
                "outputs": [{"output_type": "display_data", "data": dict(bundle), "metadata": {}}],
                "source": "",
            }
        ],
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}},
    }
    assert strip.strip(nb) and not strip.has_state(nb)
    assert nb["cells"][0]["outputs"][0]["data"] == bundle


# ---- plots --------------------------------------------------------------------------------------
def _samples(n: int = 5, limit: int = 32 * MiB) -> list[dict]:
    return [
        {
            "container": "ch4-oom",
            "id": "e" * 64,
            "time": 100.0 + i * 0.5,
            "status": "running",
            "cpu_percent": 10.0 * i,
            "memory": (i + 1) * 5 * MiB,
            "memory_limit": limit,
            "memory_percent": (i + 1) * 5 * MiB / limit * 100,
            "pids": 1,
            "net_rx": 0,
            "net_tx": 0,
            "block_read": 0,
            "block_write": 4096,
        }
        for i in range(n)
    ]


def test_samples_frame_has_typed_columns():
    pd = pytest.importorskip("pandas")
    from dockerlab.widgets.plots import SAMPLE_COLUMNS, samples_frame

    frame = samples_frame(_samples())
    assert list(frame.columns) == SAMPLE_COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(frame["time"]) and str(frame["time"].dt.tz) == "UTC"
    assert list(frame["elapsed"]) == [0.0, 0.5, 1.0, 1.5, 2.0]
    for name in ("memory", "memory_limit", "pids", "net_rx", "block_write"):
        assert frame[name].dtype == "int64", name
    assert frame["cpu_percent"].dtype == "float64"
    assert frame["time"].iloc[1] - frame["time"].iloc[0] == pd.Timedelta(seconds=0.5)
    assert list(samples_frame([]).columns) == SAMPLE_COLUMNS


def test_memory_curve_draws_the_limit_and_marks_the_oom_kill():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from dockerlab.widgets.plots import memory_curve

    fig = memory_curve(_samples(), limit=32 * MiB, oom_killed=True)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["-m 32MiB"].get_ydata()) == [32.0, 32.0]
    assert list(lines["ch4-oom"].get_ydata()) == [5.0, 10.0, 15.0, 20.0, 25.0]
    assert [t.get_text() for t in ax.texts] == ["OOM kill"]
    assert [t.get_text() for t in memory_curve(_samples()).axes[0].texts] == []
    assert len(memory_curve(_samples(), oom_killed={"ch4-oom"}).axes[0].texts) == 1
    assert len(memory_curve(_samples(), oom_killed={"ch4-other"}).axes[0].texts) == 0
    # a row sampled after the kill (no process left) is not drawn: the mark stays on the peak
    dead = {**_samples(6)[-1], "memory": 100_000, "pids": 0}
    line = memory_curve([*_samples(), dead], oom_killed=True).axes[0].get_lines()[0]
    assert list(line.get_ydata())[-1] == 25.0


def test_cpu_curve_and_history_bars():
    pytest.importorskip("matplotlib")
    from dockerlab.widgets.plots import cpu_curve, history_bars, png_data_uri, resource_curves

    ax = cpu_curve(_samples(), cpus=0.5).axes[0]
    assert {line.get_label() for line in ax.get_lines()} == {"ch4-oom", "--cpus 0.5"}
    rows = [
        {"Size": 4_000_000, "CreatedBy": "ADD file:abc in /"},
        {"Size": 0, "CreatedBy": '/bin/sh -c #(nop)  CMD ["sh"]'},
    ]
    fig = history_bars(rows)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["ADD file:abc in /", 'CMD ["sh"]']  # oldest at the bottom
    assert len(resource_curves(_samples(), 32 * MiB, 0.5, True).axes) == 2
    assert png_data_uri(fig).startswith("data:image/png;base64,iVBOR")


def test_a_figure_displays_as_a_png_in_ipython():
    pytest.importorskip("matplotlib")
    from IPython.core.interactiveshell import InteractiveShell

    from dockerlab.widgets.plots import cpu_curve

    fresh = not InteractiveShell.initialized()  # leave another test's shell alone
    shell = InteractiveShell.instance()
    try:
        fig = cpu_curve(_samples())
        printer = shell.display_formatter.formatters["image/png"].lookup(fig)
        png = printer(fig)  # what a kernel's PNG formatter makes of it
        assert png.startswith(b"\x89PNG")
    finally:
        if fresh:
            InteractiveShell.clear_instance()


def test_a_displayed_widget_can_redraw_its_saved_picture():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display
    from IPython.utils.capture import capture_output

    fresh = not InteractiveShell.initialized()  # leave another test's shell alone
    InteractiveShell.instance()
    try:
        card = _card()
        with capture_output() as out:
            display(card)
            card.children = [w.HTML("<b>web</b> exited")]
            card.update_picture()
        first, second = out.outputs
        assert "running" in first.data["text/html"] and WIDGET_VIEW in first.data
        assert "exited" in second.data["text/html"] and second.update
        assert first.transient["display_id"] == second.transient["display_id"]
        card.close()
        card.update_picture()  # closed: nothing to redraw, no error
        with capture_output() as out:
            display(card)
        assert out.outputs[0].data == {"text/plain": "Card()"}
    finally:
        if fresh:
            InteractiveShell.clear_instance()
