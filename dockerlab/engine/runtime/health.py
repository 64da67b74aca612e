"""Health checks: Docker's HEALTHCHECK, probed by the container's monitor (moby's health.go).

The probe lives in the container's monitor, in its event loop, not in a thread or process
of its own: a container without a health check pays nothing (this module is imported only
when ``Config.Healthcheck`` has a ``CMD`` or ``CMD-SHELL`` test), and the probes end with the
monitor, which stops them before it records the container's exit. Each probe is the ``exec``
helper (:mod:`dockerlab.engine.runtime.nsexec`) started with the container's user, folder,
environment, capabilities and seccomp program, in a session of its own, so a probe that
outlives its timeout is killed with every process it started (Docker kills the exec'd
process only, and leaves its children running in the container).

The results go into ``State.Health`` of ``state.json``, under the container's lock, read
and written whole (temp file and rename) as every verb writes it, and only while the state
records this monitor as the container's and the container is running (not paused: Docker
stops probing a paused container and drops a result that comes in meanwhile).
"""

from __future__ import annotations

import marshal
import os
import signal
import sys
import time

from dockerlab.engine.atomic import locked, read_json, write_bytes
from dockerlab.engine.basics import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockerlab.engine.paths import Paths

# moby daemon/health.go
MAX_OUTPUT = 4096
MAX_LOG_ENTRIES = 5
DEFAULT_INTERVAL = 30_000_000_000
DEFAULT_TIMEOUT = 30_000_000_000
DEFAULT_RETRIES = 3

_HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nsexec.py")
_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(_HELPER))))


def probe_command(config: dict[str, Any]) -> list[str] | None:
    """The command a container's ``Healthcheck`` runs, or None when it has no probe (none
    set, ``NONE``, an empty or unknown test: Docker then keeps no ``State.Health``)."""
    test = (config.get("Healthcheck") or {}).get("Test") or []
    if not test:
        return None
    if len(test) < 2:
        return None
    if test[0] == "CMD":
        return list(test[1:])
    if test[0] == "CMD-SHELL":
        shell = config.get("Shell") or ["/bin/sh", "-c"]
        return [*shell, *test[1:]]
    return None


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String`` (``30s``, ``1m30s``, ``1.5s``, ``300ms``, ``1h0m0s``)."""
    if ns == 0:
        return "0s"
    sign, u = ("-", -ns) if ns < 0 else ("", ns)

    def frac(value: int, prec: int) -> tuple[str, int]:
        digits = f"{value % 10**prec:0{prec}d}".rstrip("0")
        return ("." + digits if digits else ""), value // 10**prec

    if u < 1_000_000_000:
        unit, prec = ("ns", 0) if u < 1_000 else ("µs", 3) if u < 1_000_000 else ("ms", 6)
        fraction, whole = frac(u, prec) if prec else ("", u)
        return f"{sign}{whole}{fraction}{unit}"
    fraction, secs = frac(u, 9)
    out = f"{secs % 60}{fraction}s"
    minutes = secs // 60
    if minutes:
        out = f"{minutes % 60}m{out}"
        if minutes // 60:
            out = f"{minutes // 60}h{out}"
    return sign + out


def go_time(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC, as ``Start``/``End`` of a health log entry show."""
    secs, nanos = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{nanos:09d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else f"{text}Z"


def starting(previous: dict[str, Any] | None) -> dict[str, Any]:
    """``State.Health`` as a (re)started container begins: ``starting``, no failures, the
    log of its earlier runs kept (moby's ``initHealthMonitor``)."""
    log = (previous or {}).get("Log") or []
    return {"Status": "starting", "FailingStreak": 0, "Log": log}


def apply_result(
    health: dict[str, Any],
    result: dict[str, Any],
    healthcheck: dict[str, Any],
    since_start_ns: int,
) -> dict[str, Any]:
    """moby's ``handleProbeResult``: ``health`` after one probe's ``result``. A failure while
    ``starting`` inside the start period (``since_start_ns``: from the container's start to
    the probe's) does not count; ``Retries`` failures in a row make it ``unhealthy``."""
    retries = healthcheck.get("Retries") or 0
    if retries <= 0:
        retries = DEFAULT_RETRIES
    log = [*(health.get("Log") or []), result][-MAX_LOG_ENTRIES:]
    status = health.get("Status") or "starting"
    streak = health.get("FailingStreak") or 0
    if result["ExitCode"] == 0:
        status, streak = "healthy", 0
    elif not (status == "starting" and since_start_ns < (healthcheck.get("StartPeriod") or 0)):
        streak += 1
        if streak >= retries:
            status = "unhealthy"
    return {"Status": status, "FailingStreak": streak, "Log": log}


def status_changed(paths: Paths, cfg: dict[str, Any], status: str) -> None:
    """Called once each time a probe's result changes a container's health status, in its
    monitor, after the state is written and the lock released: Docker emits its
    ``health_status: <status>`` event at exactly this point. (A pause, a stop or a restart
    changes the status too, without an event in Docker.)"""
    from dockerlab.engine import events

    events.container(paths, cfg, f"health_status: {status}")


class Prober:
    """One container's probes, driven by its monitor's loop: :meth:`tick` when the loop wakes
    (it returns how long the loop may sleep), :meth:`on_output` when the probe's output pipe
    is readable, :meth:`stop` when the container has ended."""

    def __init__(
        self,
        cfg: dict[str, Any],
        paths: Paths,
        pid: int,
        started_ns: int,
        poller: Any,
        paused: Callable[[], bool],
    ) -> None:
        config = cfg["Config"]
        self.healthcheck: dict[str, Any] = config.get("Healthcheck") or {}
        self.cfg = cfg
        self.cid = cfg["Id"]
        self.paths = paths
        self.dir = paths.container(self.cid)
        self.started_ns = started_ns
        self.poller = poller
        self.paused = paused
        self.interval = (self.healthcheck.get("Interval") or DEFAULT_INTERVAL) / 1e9
        self.timeout_ns = self.healthcheck.get("Timeout") or DEFAULT_TIMEOUT
        # The exec helper's spec, as spawn_exec builds it for `docker exec` (Docker's probe:
        # the container's user and folder, no terminal, not privileged).
        self.spec = marshal.dumps(
            {
                "pid": pid,
                "cgroup": f"dockerlab/{self.cid}",
                "cmd": probe_command(config),
                "env": list(config.get("Env") or []),
                "cwd": config.get("WorkingDir") or "/",
                "user": config.get("User") or "",
                "detach": False,
                "tty": False,
                "ctty": False,
                "security": cfg["Security"],
            }
        )
        self.next_at = time.monotonic() + self.interval  # the first probe after one interval
        self.child = 0  # the running probe's helper (its session and process group too)
        self.out = -1
        self.output = b""
        self.truncated = False
        self.start_ns = 0
        self.deadline = 0.0
        self.timed_out = False

    # ---- the loop's side ----------------------------------------------------------------
    def tick(self) -> float:
        """Reap a finished probe, kill one past its timeout, start one that is due; the
        seconds until the next of these. Never raises: a probe must not take the monitor,
        and with it the container's log and exit record, down."""
        try:
            return self._tick()
        except Exception:  # noqa: BLE001 - try again an interval later
            self.next_at = time.monotonic() + self.interval
            return self.interval

    def _is_paused(self) -> bool:
        try:
            return self.paused()
        except OSError:  # the cgroup is going: the container is ending
            return True

    def _tick(self) -> float:
        now = time.monotonic()
        if self.child:
            self._reap()
        if self.child and not self.timed_out and now >= self.deadline:
            self.timed_out = True
            self._kill()
            self.record(-1, f"Health check exceeded timeout ({go_duration(self.timeout_ns)})")
        if not self.child and now >= self.next_at:
            if self._is_paused():  # Docker does not probe a paused container
                self.next_at = now + self.interval
            else:
                self._start()
        if self.child:
            return max(0.0, self.deadline - now) if not self.timed_out else 0.05
        return max(0.0, self.next_at - time.monotonic())

    def on_output(self) -> None:
        try:
            data = os.read(self.out, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_output()
            return
        keep = MAX_OUTPUT - len(self.output)
        if keep > 0:
            self.output += data[:keep]
        if len(data) > keep:
            self.truncated = True

    def stop(self) -> None:
        """The container has ended: kill a probe under way, leave nothing behind."""
        if self.child:
            self._kill()
            try:
                os.waitpid(self.child, 0)
            except ChildProcessError:
                pass
            self.child = 0
        self._close_output()

    # ---- one probe ----------------------------------------------------------------------
    def _start(self) -> None:
        spec = os.memfd_create("probe-spec", os.MFD_CLOEXEC)
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            os.write(spec, self.spec)
            os.lseek(spec, 0, os.SEEK_SET)
            null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            try:
                actions = [
                    (os.POSIX_SPAWN_DUP2, null, 0),
                    (os.POSIX_SPAWN_DUP2, w, 1),
                    (os.POSIX_SPAWN_DUP2, w, 2),
                    (os.POSIX_SPAWN_DUP2, spec, 3),
                ]
                self.start_ns = time.time_ns()
                self.child = os.posix_spawn(
                    sys.executable,
                    [sys.executable, "-I", "-S", _HELPER, _PKG_PARENT, "3"],
                    {},
                    file_actions=actions + _close_actions({null, w, spec}),
                    setsid=True,  # its own process group: a timeout kills all of it
                    setsigdef=(signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE, signal.SIGCHLD),
                )
            finally:
                os.close(null)
        except OSError as exc:
            os.close(r)
            self.child = 0
            self.next_at = time.monotonic() + self.interval
            self.record(-1, str(exc.strerror or exc))
            return
        finally:
            os.close(w)
            os.close(spec)
        os.set_blocking(r, False)
        self.out, self.output, self.truncated, self.timed_out = r, b"", False, False
        self.deadline = time.monotonic() + self.timeout_ns / 1e9
        self.poller.register(r, "health")

    def _reap(self) -> None:
        try:
            pid, status = os.waitpid(self.child, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.child, 0
        if not pid:
            return
        self.child = 0
        while self.out >= 0:  # what the helper wrote before it ended
            before = self.out, len(self.output)
            self.on_output()
            if (self.out, len(self.output)) == before:
                break
        self._close_output()
        if not self.timed_out:
            code = os.waitstatus_to_exitcode(status)
            output = self.output.decode("utf-8", "replace") + ("..." if self.truncated else "")
            if code == 126 and output.startswith("OCI runtime exec failed"):
                code, output = -1, output.rstrip("\r\n")  # Docker: the exec did not start
            self.record(code, output)
        self.next_at = time.monotonic() + self.interval  # the interval runs from the end

    def _kill(self) -> None:
        try:
            os.killpg(self.child, signal.SIGKILL)  # not reaped yet: the group is still ours
        except (ProcessLookupError, PermissionError):
            pass

    def _close_output(self) -> None:
        if self.out >= 0:
            self.poller.unregister(self.out)
            os.close(self.out)
            self.out = -1

    # ---- the state ------------------------------------------------------------------------
    def record(self, code: int, output: str) -> None:
        """Fold one result into ``State.Health``, under the container's lock."""
        result = {
            "Start": go_time(self.start_ns),
            "End": go_time(time.time_ns()),
            "ExitCode": code,
            "Output": output,
        }
        path = os.path.join(self.dir, "state.json")
        try:
            with locked(os.path.join(self.dir, "lock")):
                if not os.path.isdir(self.dir):
                    return  # removed meanwhile
                state = read_json(path)
                if (
                    not isinstance(state, dict)
                    or state.get("MonitorPid") != os.getpid()
                    or state.get("Status") != "running"
                    or self._is_paused()
                ):
                    return  # not (yet) ours, or paused: Docker drops this result
                before = (state.get("Health") or {}).get("Status")
                health = apply_result(
                    state.get("Health") or starting(None),
                    result,
                    self.healthcheck,
                    self.start_ns - self.started_ns,
                )
                state["Health"] = health
                write_bytes(path, dumps(state).encode(), durable=False)
        except (OSError, ValueError, TypeError, AttributeError):
            return  # a folder removed under us, a cut state file: the next verb tells
        if health["Status"] != before:
            status_changed(self.paths, self.cfg, health["Status"])


def _close_actions(keep: set[int]) -> list[tuple[int, int]]:
    """Close every inheritable descriptor of ours but ``keep`` in the helper (a terminal's
    master received from the container is one): it gets its stdio and its spec only."""
    out = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd in keep or fd <= 3:
            continue
        try:
            if os.get_inheritable(fd):
                out.append((os.POSIX_SPAWN_CLOSE, fd))
        except OSError:
            continue
    return out
