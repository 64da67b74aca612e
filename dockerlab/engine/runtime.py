"""Starting a container's monitor, and talking to it once it runs.

The caller (a CLI, or a multi-threaded Jupyter kernel) never forks: its forkserver (a warm
``python -I -S`` started once) forks each monitor, and the caller reads one JSON report from
a pipe.
"""

from __future__ import annotations

import json
import marshal
import os
import socket
import sys

from dockerlab.engine import streams
from dockerlab.engine.paths import Paths
from dockerlab.errors import CommandNotFound, CommandNotInvokable, ContainerStartError

_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_FORKSERVER = os.path.join(_PKG_PARENT, "dockerlab", "engine", "forkserver.py")


def _spawn(script: str, args: list[str], pass_fds: list[int]) -> int:
    """posix_spawn ``python -I -S script PKGDIR args…`` in a new session with ``pass_fds``
    (no fork of the caller: safe from a threaded kernel, and no subprocess import).

    With an empty environment: each container's first process is forked from it, and is the
    host's Python with this environment until its ``execve``; nothing of the caller's (a
    token in a teacher's shell) belongs there."""
    # DUP2 of an fd onto itself clears its close-on-exec flag in the child only.
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0),
               (os.POSIX_SPAWN_DUP2, 0, 1), (os.POSIX_SPAWN_DUP2, 0, 2),
               *((os.POSIX_SPAWN_DUP2, fd, fd) for fd in pass_fds)]
    return os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", script, _PKG_PARENT,
                                           *args], {}, file_actions=actions,
                          setsid=True)


class _ForkServer:
    """This process's forkserver (see :mod:`dockerlab.engine.forkserver`), started on the
    first container create or start and ended when this process ends (its socket closes)."""

    def __init__(self) -> None:
        import _thread

        self.sock: socket.socket | None = None
        self.pid = 0  # the server's first half, reaped once it has forked
        self.lock = _thread.allocate_lock()

    def prestart(self) -> None:
        """Start the server now, so its start-up overlaps the caller's own work."""
        with self.lock:
            if self.sock is None:
                self._start()

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.pid = _spawn(_FORKSERVER, [str(theirs.fileno())], [theirs.fileno()])
        finally:
            theirs.close()
        self.sock = ours

    def request(self, req: dict, fds: list[int]) -> None:
        """Queue a monitor for the server (it reads the request when it is ready)."""
        with self.lock:
            for attempt in range(2):  # a server that died is replaced once
                if self.sock is None:
                    self._start()
                try:
                    socket.send_fds(self.sock, [marshal.dumps(req)], fds)  # type: ignore[arg-type]
                    return
                except OSError:
                    self.sock.close()  # type: ignore[union-attr]
                    self.sock = None
                    if attempt:
                        raise

    def reap(self) -> None:
        if self.pid:
            try:
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    self.pid = 0
            except ChildProcessError:
                self.pid = 0


_FORKSERVER_PROCESS = _ForkServer()
prestart = _FORKSERVER_PROCESS.prestart


def _pipe_max() -> int:
    try:
        with open("/proc/sys/fs/pipe-max-size") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def spawn_monitor(paths: Paths, cid: str, config: dict, attach: str = ""
                  ) -> tuple[dict, streams.Attachment | None]:
    """Start ``cid``'s monitor; returns its report and, if asked, an attachment made before
    the container's first output (so nothing is missed). ``attach`` names the streams the
    attachment wants: a string of ``i`` (stdin), ``o`` (stdout) and ``e`` (stderr)."""
    sync_r, sync_w = os.pipe()
    spec = marshal.dumps(config)  # the monitor reads it without importing json
    spec_r = -1
    if len(spec) < 60000 or len(spec) <= _pipe_max():  # fits in the pipe at once
        spec_r, spec_w = os.pipe()
        try:
            if len(spec) >= 60000:  # a big Env: grow the pipe (never block on it)
                import fcntl

                fcntl.fcntl(spec_w, fcntl.F_SETPIPE_SZ, len(spec))
            os.write(spec_w, spec)
        except OSError:  # the monitor reads config.v2.json (and refuses to start it)
            os.close(spec_r)
            spec_r = -1
        finally:
            os.close(spec_w)
    ours = theirs = None
    fds = [sync_w] + [spec_r] * (spec_r >= 0)
    if attach:
        ours, theirs = socket.socketpair()
        fds.append(theirs.fileno())
    try:
        _FORKSERVER_PROCESS.request({"root": paths.root, "run": paths.run, "cid": cid,
                                     "want": attach, "spec": spec_r >= 0}, fds)
    finally:  # the server holds its own copies now
        os.close(sync_w)
        if spec_r >= 0:
            os.close(spec_r)
        if theirs is not None:
            theirs.close()
    raw = b""
    try:
        while not raw.endswith(b"\n") and (chunk := os.read(sync_r, 65536)):
            raw += chunk
    finally:
        os.close(sync_r)
        _FORKSERVER_PROCESS.reap()
    report = json.loads(raw) if raw else {"ok": False, "code": 125,
                                          "message": "the container's monitor failed to start"}
    if not report.get("ok"):
        if ours is not None:
            ours.close()
        raise start_error(report)
    return report, streams.Attachment(ours) if ours is not None else None


def start_error(report: dict) -> ContainerStartError:
    code = report.get("code", 125)
    message = report.get("message", "")
    if message.startswith(("unable to find user ", "unable to find group ")):
        text = message  # Docker's daemon looks the user up itself: no runtime words around
    else:
        text = ("failed to create task for container: unable to start container process: "
                f"{message}: unknown")
    cls = {127: CommandNotFound, 126: CommandNotInvokable}.get(code, ContainerStartError)
    return cls(text)


def connect(paths: Paths, cid: str) -> streams.Attachment | None:
    """Attach to a running container's monitor; None if it has already gone."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(os.path.join(paths.run, cid, "attach.sock"))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    return streams.Attachment(sock)
