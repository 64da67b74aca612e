"""Figures and frames of what the widgets measure: pandas and matplotlib, imported lazily.

* :func:`samples_frame` — ResourceMonitor samples as a DataFrame (time, CPU %, memory bytes,
  PIDs, network and block I/O).
* :func:`memory_curve` — memory climbing to a ``-m`` limit, the limit drawn, the OOM kill
  marked; :func:`cpu_curve` — CPU % against a ``--cpus`` quota; :func:`resource_curves` —
  both side by side; :func:`history_bars` — the sizes of an image's layers. Each returns a
  :class:`matplotlib.figure.Figure` (no pyplot: nothing is drawn twice, no GUI backend),
  shown as a PNG in a notebook.
* :func:`png_data_uri` — a figure as an ``<img>`` source, for the static pictures a saved
  notebook keeps (:mod:`dockerlab.widgets.static`).

Nothing here is imported by the CLI or by ``import dockerlab.widgets``.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

__all__ = [
    "SAMPLE_COLUMNS",
    "cpu_curve",
    "history_bars",
    "memory_curve",
    "png_data_uri",
    "resource_curves",
    "samples_frame",
]

#: The columns of :func:`samples_frame`, in order.
SAMPLE_COLUMNS = [
    "time",
    "elapsed",
    "container",
    "id",
    "status",
    "cpu_percent",
    "memory",
    "memory_limit",
    "memory_percent",
    "pids",
    "net_rx",
    "net_tx",
    "block_read",
    "block_write",
]
_INTS = ("memory", "memory_limit", "pids", "net_rx", "net_tx", "block_read", "block_write")
MIB = 1024 * 1024


def samples_frame(samples: list[dict[str, Any]]) -> Any:
    """ResourceMonitor rows as a DataFrame: ``time`` (UTC datetime of the sample),
    ``elapsed`` (seconds since the first sample), ``cpu_percent`` and ``memory_percent``
    (floats), ``memory``, ``memory_limit``, ``pids``, ``net_*``, ``block_*`` (int bytes)."""
    import pandas as pd

    # samples carry monotonic seconds; a wall clock read now dates them
    offset = time.time() - time.monotonic()
    first = samples[0]["time"] if samples else 0.0
    records = [
        {
            **{k: s.get(k) for k in SAMPLE_COLUMNS if k not in ("time", "elapsed")},
            "time": pd.Timestamp(s["time"] + offset, unit="s", tz="UTC"),
            "elapsed": float(s["time"] - first),
        }
        for s in samples
    ]
    frame = pd.DataFrame.from_records(records, columns=SAMPLE_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    for name in _INTS:
        frame[name] = frame[name].fillna(0).astype("int64")
    for name in ("cpu_percent", "memory_percent", "elapsed"):
        frame[name] = frame[name].astype("float64")
    return frame


def _figure(width: float = 6.4, height: float = 3.2) -> Any:
    from matplotlib.figure import Figure

    _show_as_png()
    return Figure(figsize=(width, height), layout="constrained")


def _show_as_png() -> None:
    """In IPython, display a Figure as a PNG (what ``%matplotlib inline`` registers); a
    Figure made without pyplot otherwise shows as ``<Figure size …>``."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib.figure import Figure

    formatter = shell.display_formatter.formatters["image/png"]
    try:
        formatter.lookup_by_type(Figure)
        return  # %matplotlib inline (or an earlier call) registered it
    except KeyError:
        pass
    from IPython.core.pylabtools import print_figure

    formatter.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


def _per_container(samples: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    series: dict[str, list[dict[str, Any]]] = {}
    for s in samples:
        if s.get("pids", 1) == 0:
            continue  # sampled between the kill and the exit: no process, no figure
        series.setdefault(str(s.get("container") or s.get("id", "")[:12]), []).append(s)
    return series


def memory_curve(
    samples: list[dict[str, Any]],
    limit: int | None = None,
    oom_killed: bool | Collection[str] = False,
    title: str | None = None,
) -> Any:
    """Memory (MiB) over time, one line per container; ``limit`` (bytes, the ``-m``) drawn
    as a dashed line; ``oom_killed`` (True, or the names of the containers the kernel
    killed) marks their last sample with "OOM kill"."""
    fig = _figure()
    _draw_memory(fig.add_subplot(), samples, limit, oom_killed, title)
    return fig


def _draw_memory(
    ax: Any,
    samples: list[dict[str, Any]],
    limit: int | None,
    oom_killed: bool | Collection[str],
    title: str | None,
) -> None:
    first = samples[0]["time"] if samples else 0.0
    top = 0.0
    for name, rows in _per_container(samples).items():
        xs = [r["time"] - first for r in rows]
        ys = [r["memory"] / MIB for r in rows]
        ax.plot(xs, ys, marker=".", label=name)
        top = max([top, *ys])
        killed = oom_killed is True or (not isinstance(oom_killed, bool) and name in oom_killed)
        if killed and rows:
            ax.annotate(
                "OOM kill",
                (xs[-1], ys[-1]),
                xytext=(-60, -25),
                textcoords="offset points",
                color="#c62828",
                bbox={"boxstyle": "round", "fc": "white", "ec": "#c62828"},
                arrowprops={"arrowstyle": "->", "color": "#c62828"},
            )
            ax.plot([xs[-1]], [ys[-1]], "x", color="#c62828", markersize=10)
    if limit:
        ax.axhline(limit / MIB, color="#c62828", linestyle="--", label=f"-m {_mib(limit)}")
        top = max(top, limit / MIB)
    ax.set_ylim(0, top * 1.1 or 1)
    ax.set_xlabel("seconds")
    ax.set_ylabel("memory (MiB)")
    ax.set_title(title or "Memory")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")


def cpu_curve(
    samples: list[dict[str, Any]], cpus: float | None = None, title: str | None = None
) -> Any:
    """CPU % over time, one line per container; ``cpus`` (``--cpus``) drawn as the quota
    line at ``cpus × 100 %``."""
    fig = _figure()
    _draw_cpu(fig.add_subplot(), samples, cpus, title)
    return fig


def _draw_cpu(
    ax: Any, samples: list[dict[str, Any]], cpus: float | None, title: str | None
) -> None:
    first = samples[0]["time"] if samples else 0.0
    top = 5.0
    for name, rows in _per_container(samples).items():
        xs = [r["time"] - first for r in rows]
        ys = [float(r["cpu_percent"]) for r in rows]
        ax.plot(xs, ys, marker=".", label=name)
        top = max([top, *ys])
    if cpus:
        ax.axhline(cpus * 100, color="#c62828", linestyle="--", label=f"--cpus {cpus:g}")
        top = max(top, cpus * 100)
    ax.set_ylim(0, top * 1.15)
    ax.set_xlabel("seconds")
    ax.set_ylabel("CPU %")
    ax.set_title(title or "CPU")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")


def resource_curves(
    samples: list[dict[str, Any]],
    limit: int | None = None,
    cpus: float | None = None,
    oom_killed: bool | Collection[str] = False,
) -> Any:
    """CPU % and memory side by side (ResourceMonitor's static picture)."""
    fig = _figure(9.6, 3.0)
    cpu_ax, mem_ax = fig.subplots(1, 2)
    _draw_cpu(cpu_ax, samples, cpus, None)
    _draw_memory(mem_ax, samples, limit, oom_killed, None)
    return fig


def history_bars(rows: list[dict[str, Any]], title: str | None = None) -> Any:
    """Horizontal bars of layer sizes, newest on top (as ``docker history`` lists them);
    ``rows`` have ``Size`` and ``CreatedBy`` (HistoryView's rows, oldest first)."""
    fig = _figure(6.4, 0.9 + 0.32 * max(len(rows), 1))
    ax = fig.add_subplot()
    labels = [_label(r.get("CreatedBy", "")) for r in rows]
    sizes = [float(r.get("Size") or 0) for r in rows]
    unit, scale = ("MB", 1e6) if max(sizes, default=0) >= 1e6 else ("kB", 1e3)
    ax.barh(range(len(rows)), [s / scale for s in sizes], color="#4472c4")
    ax.set_yticks(range(len(rows)), labels, fontsize="small", family="monospace")
    ax.set_xlabel(f"size ({unit})")
    ax.set_title(title or "Layer sizes")
    ax.grid(axis="x", alpha=0.3)
    return fig


def png_data_uri(fig: Any, dpi: int = 72) -> str:
    """The figure as a ``data:image/png;base64,…`` URI."""
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _label(created_by: str, width: int = 40) -> str:
    text = " ".join(created_by.replace("/bin/sh -c #(nop) ", "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _mib(n: float) -> str:
    return f"{n / MIB:g}MiB"
