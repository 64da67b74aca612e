"""ResourceMonitor: live ``docker stats`` of one or more containers, numbers and sparklines."""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as w
from traitlets import Bool, Float, TraitError, observe, validate

from dockerlab.widgets import _model as m
from dockerlab.widgets import svg
from dockerlab.widgets._base import (
    BORDER,
    ERROR,
    FAINT,
    MUTED,
    error_html,
    friendly_init,
    lookup_container,
    one_line,
    resolve_engine,
)
from dockerlab.widgets.i18n import t
from dockerlab.widgets.static import StaticPicture

#: States in which a container can still produce figures.
ALIVE = ("created", "running", "paused", "restarting")
#: States the monitor keeps following: a stopped container may be started again.
FOLLOWED = (*ALIVE, "exited", "dead")
INTERVALS = [0.5, 1.0, 2.0, 5.0, 10.0]


class _Watched:
    """One container under watch: its last raw sample and the series of its figures."""

    def __init__(self, ref: str, cid: str, name: str, memory_limit: int) -> None:
        self.ref, self.id, self.name = ref, cid, name
        self.configured_limit = memory_limit  # HostConfig.Memory (0 = none)
        self.previous: dict[str, Any] | None = None
        self.status = "created"
        self.started = ""  # State.StartedAt: a new one means a new run (fresh CPU counters)
        self.cpu: list[float] = []
        self.memory: list[float] = []
        self.last: dict[str, Any] = {}


class ResourceMonitor(StaticPicture, w.VBox):
    """CPU %, memory usage against the limit, PIDs, network and block I/O of ``containers``,
    refreshed every ``interval`` seconds by a background thread, as numbers and rolling
    sparklines, one card per container side by side.

    The monitor follows its containers across ``stop``, ``start`` and ``restart`` (a stopped
    one is read again once it runs); the thread ends when every watched container is removed
    or when the widget is closed. :meth:`sample` does one refresh synchronously; every refresh
    appends one row per live container to :attr:`samples`.
    Clicks as methods: :meth:`pause`, :meth:`resume`, :meth:`set_interval`, :meth:`stop`.
    """

    interval = Float(1.0)
    paused = Bool(False)
    active = Bool(False, read_only=True)  # the sampling thread is alive

    @friendly_init
    def __init__(
        self,
        *containers: str,
        interval: float = 1.0,
        engine: Any = None,
        start: bool = True,
        history: int = 60,
        max_samples: int = 100_000,
        **kwargs: Any,
    ) -> None:
        from dockerlab.format.stats import block_io, cpu_percent, memory_usage, network_io

        if not containers:
            raise one_line(ValueError(t("monitor_needs")))
        self._figures = (cpu_percent, memory_usage, network_io, block_io)
        self._engine = resolve_engine(engine)
        self._history = history
        self._max_samples = max_samples
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        #: Every refresh's figures, one dict per live container: ``container`` (the ref as
        #: given), ``id``, ``time`` (monotonic s), ``cpu_percent``, ``memory``,
        #: ``memory_limit``, ``memory_percent``, ``pids``, ``net_rx``, ``net_tx``,
        #: ``block_read``, ``block_write``, ``status``.
        self.samples: list[dict[str, Any]] = []
        self.watched: list[_Watched] = []
        for ref in containers:
            info = lookup_container(self._engine, ref, "ResourceMonitor")
            wc = _Watched(
                ref,
                info["Id"],
                info["Name"].lstrip("/"),
                int((info.get("HostConfig") or {}).get("Memory") or 0),
            )
            wc.status = info["State"]["Status"]
            wc.started = info["State"].get("StartedAt") or ""
            self.watched.append(wc)

        self._pause_button = w.ToggleButton(
            description=t("pause"), icon="pause", layout=w.Layout(width="auto")
        )
        self._rate = w.Dropdown(
            options=[(t("every", s=f"{s:g}"), s) for s in INTERVALS],
            value=interval if interval in INTERVALS else None,
            description=t("refresh_every"),
            layout=w.Layout(width="180px"),
        )
        self._status = w.HTML()
        self._cards = [
            w.HTML(
                layout=w.Layout(
                    border=f"1px solid {BORDER}",
                    padding="6px",
                    margin="0 6px 6px 0",
                    width="300px",
                )
            )
            for _ in self.watched
        ]
        super().__init__(**kwargs)
        self.interval = interval
        self._pause_button.observe(lambda ch: setattr(self, "paused", ch["new"]), "value")
        self._rate.observe(self._on_rate, "value")
        self.children = [
            w.HBox([self._pause_button, self._rate, self._status]),
            w.HBox(self._cards, layout=w.Layout(flex_flow="row wrap")),
        ]
        self.sample()
        if start:
            self.start()
        else:
            self._render_status()

    def __repr__(self) -> str:
        n = len(self.watched)
        states: dict[str, int] = {}
        for wc in self.watched:
            states[wc.status] = states.get(wc.status, 0) + 1
        text = ", ".join(f"{v} {k}" for k, v in sorted(states.items()))
        mode = "paused" if self.paused else ("live" if self.active else "stopped")
        return (
            f"ResourceMonitor({n} container{'s' if n != 1 else ''}: {text}; "
            f"every {self.interval:g} s, {mode})"
        )

    # ---- actions --------------------------------------------------------------------------
    def sample(self) -> list[dict[str, Any]]:
        """Refresh every live container's figures now; returns the new rows. A stopped
        container is looked at too, to follow it when it starts again."""
        with self._lock:
            rows = []
            for wc in self.watched:
                if wc.status not in FOLLOWED:
                    continue
                row = self._sample_one(wc)
                if row is not None:
                    rows.append(row)
            self.samples.extend(rows)
            if len(self.samples) > self._max_samples:
                del self.samples[: len(self.samples) - self._max_samples]
            self._render()
            return rows

    def pause(self) -> None:
        """Stop refreshing (the thread stays, idle) until :meth:`resume`."""
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def _on_rate(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:  # the box emptied: keep the last rate
            self.set_interval(change["new"])

    def set_interval(self, seconds: float) -> None:
        """Refresh every ``seconds`` (at least 0.1)."""
        self.interval = float(seconds)

    def start(self) -> None:
        """Start the sampling thread (done at creation unless ``start=False``)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if not any(wc.status in FOLLOWED for wc in self.watched):
                self._render_status()
                return
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._loop, name="dockerlab-monitor", daemon=True
            )
            self.set_trait("active", True)
            self._thread.start()
            self._render_status()

    def stop(self, timeout: float | None = 5.0) -> None:
        """End the sampling thread and wait for it (the figures stay on show)."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def close(self) -> None:
        if hasattr(self, "_stopping"):  # a monitor whose making failed has no thread
            self.stop()
        super().close()

    # ---- analysis (pandas, matplotlib: imported when asked) -------------------------------
    @observe("active")
    def _on_active_picture(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            self._render_status()  # "stopped" before the picture is taken
            self.update_picture()  # the saved picture shows the whole run

    def to_pandas(self) -> Any:
        """:attr:`samples` as a DataFrame: ``time`` (UTC), ``elapsed`` (s), ``cpu_percent``,
        ``memory`` / ``memory_limit`` (bytes), ``pids``, ``net_rx``/``net_tx``,
        ``block_read``/``block_write`` (bytes), ``status``, per container."""
        from dockerlab.widgets.plots import samples_frame

        with self._lock:
            return samples_frame(list(self.samples))

    def plot(self, kind: str = "memory") -> Any:
        """A matplotlib Figure of :attr:`samples`: ``"memory"`` (with the ``-m`` limit and
        the OOM kill marked when the kernel killed a watched container), ``"cpu"`` (with
        the ``--cpus`` quota) or ``"both"``."""
        from dockerlab.widgets import plots

        limits = {wc.configured_limit for wc in self.watched}
        limit = limits.pop() if len(limits) == 1 else None
        cpus: set[float] = set()
        oom: set[str] = set()
        for wc in self.watched:
            try:
                info = self._engine.inspect(wc.id)
            except Exception:  # noqa: BLE001 - removed since: plot what was sampled
                continue
            if (info.get("State") or {}).get("OOMKilled"):
                oom.add(wc.ref)
            host = info.get("HostConfig") or {}
            quota, period = int(host.get("CpuQuota") or 0), int(host.get("CpuPeriod") or 0)
            nano = int(host.get("NanoCpus") or 0)
            cpus.add(nano / 1e9 if nano else (quota / period if quota > 0 and period else 0.0))
        share = cpus.pop() if len(cpus) == 1 else None
        with self._lock:
            samples = list(self.samples)
        if kind == "memory":
            return plots.memory_curve(samples, limit=limit or None, oom_killed=oom)
        if kind == "cpu":
            return plots.cpu_curve(samples, cpus=share or None)
        if kind == "both":
            return plots.resource_curves(samples, limit or None, share or None, oom)
        raise ValueError(f"unknown plot {kind!r}: memory, cpu or both")

    # ---- traits ---------------------------------------------------------------------------
    @validate("interval")
    def _check_interval(self, proposal: dict[str, Any]) -> float:
        if proposal["value"] < 0.1:
            raise TraitError("the refresh interval must be at least 0.1 s")
        return proposal["value"]

    @observe("interval")
    def _on_interval(self, change: dict[str, Any]) -> None:
        self._rate.value = change["new"] if change["new"] in INTERVALS else None
        self._wake.set()  # the thread waits the new interval from now
        self._render_status()

    @observe("paused")
    def _on_paused(self, change: dict[str, Any]) -> None:
        self._pause_button.value = change["new"]
        self._pause_button.description = t("resume") if change["new"] else t("pause")
        self._pause_button.icon = "play" if change["new"] else "pause"
        self._wake.set()
        self._render_status()

    # ---- the thread -----------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                self._wake.wait(self.interval)
                if self._wake.is_set():
                    self._wake.clear()
                    continue  # a control changed: wait again with the new settings
                if self._stopping.is_set():
                    break
                if self.paused:
                    continue
                try:
                    self.sample()
                except Exception as err:  # noqa: BLE001 - a failed refresh must not kill the loop
                    # said in the widget (a thread's error would reach no one)
                    self._status.value = error_html(err)
                if not any(wc.status in FOLLOWED for wc in self.watched):
                    break  # every container removed
        finally:
            self.set_trait("active", False)
            self._render_status()

    # ---- figures --------------------------------------------------------------------------
    def _sample_one(self, wc: _Watched) -> dict[str, Any] | None:
        from dockerlab.errors import NoSuchContainer

        cpu_percent, memory_usage, network_io, block_io = self._figures
        try:
            state = self._engine.inspect(wc.id)["State"]
            status = state["Status"]
            started = state.get("StartedAt") or ""
            if started != wc.started:  # started again: the new run's counters start at 0
                wc.started, wc.previous = started, None
            if status in ("running", "paused"):
                s = self._engine.stats(wc.id, wc.previous)
        except NoSuchContainer:
            wc.status = "removed"
            return None
        wc.status = status
        if status not in ("running", "paused"):
            wc.previous = None  # a later start begins a new series of counters
            return None
        first = wc.previous is None
        wc.previous = s
        mem = s.get("memory_stats") or {}
        limit = float(mem.get("limit") or 0)
        usage = memory_usage(s)
        rx, tx = network_io(s)
        rd, wr = block_io(s)
        row = {
            "container": wc.ref,
            "id": wc.id,
            "time": time.monotonic(),
            "status": status,
            "cpu_percent": 0.0 if first else cpu_percent(s),
            "memory": usage,
            "memory_limit": limit,
            "memory_percent": usage / limit * 100.0 if limit else 0.0,
            "pids": int((s.get("pids_stats") or {}).get("current") or 0),
            "net_rx": rx,
            "net_tx": tx,
            "block_read": rd,
            "block_write": wr,
        }
        if not first:
            wc.cpu.append(row["cpu_percent"])
            del wc.cpu[: -self._history]
        wc.memory.append(usage)
        del wc.memory[: -self._history]
        wc.last = row
        return row

    # ---- rendering ------------------------------------------------------------------------
    def _render(self) -> None:
        for wc, card in zip(self.watched, self._cards):
            card.value = self._card(wc)
        self._render_status()

    def _render_status(self) -> None:
        if self.paused:
            text = t("paused")
        elif not any(wc.status in FOLLOWED for wc in self.watched):
            text = t("ended")
        elif self.active and not any(wc.status in ALIVE for wc in self.watched):
            text = t("waiting")
        elif self.active:
            text = t("live", s=f"{self.interval:g}")
        else:
            text = t("stopped")
        self._status.value = f'<span style="color:{MUTED};margin-left:8px">{text}</span>'

    def _card(self, wc: _Watched) -> str:
        r = wc.last
        colour = {"running": m.KIND_COLOURS["A"], "paused": m.KIND_COLOURS["C"]}.get(
            wc.status, ERROR
        )
        head = (
            f"<div><b>{html.escape(wc.name)}</b> <code>{wc.id[:12]}</code> "
            f'<span style="color:{colour}">{wc.status}</span></div>'
        )
        if not r:
            return head + f'<div style="color:{FAINT}">{t("no_figures")}</div>'
        limit = r["memory_limit"]
        cpu_top = max(wc.cpu + [5.0])
        mem_top = float(wc.configured_limit) if wc.configured_limit else max(wc.memory) * 1.25
        rows = [
            ["CPU %", f"{r['cpu_percent']:.2f}%"],
            ["MEM USAGE / LIMIT", f"{_bytes(r['memory'])} / {_bytes(limit)}"],
            ["MEM %", f"{r['memory_percent']:.2f}%"],
            ["NET I/O", f"{m.human_size(r['net_rx'])} / {m.human_size(r['net_tx'])}"],
            ["BLOCK I/O", f"{m.human_size(r['block_read'])} / {m.human_size(r['block_write'])}"],
            ["PIDS", str(r["pids"])],
        ]
        table = svg.table(["", ""], rows, "lr").replace(
            "<thead><tr><th", "<thead hidden><tr><th", 1
        )
        return (
            head
            + table
            + f'<div style="font-size:11px;color:{MUTED}">CPU % (scale {cpu_top:.3g}%)</div>'
            + svg.sparkline(wc.cpu, width=280, height=36, vmax=cpu_top, capacity=self._history)
            + f'<div style="font-size:11px;color:{MUTED}">memory (scale {_bytes(mem_top)})'
            "</div>"
            + svg.sparkline(
                wc.memory,
                width=280,
                height=36,
                vmax=mem_top,
                colour="#ed7d31",
                capacity=self._history,
            )
        )


def _bytes(n: float) -> str:
    from dockerlab.format.units import bytes_size

    return bytes_size(n)
