"""Starting a container's monitor, and talking to it once it runs.

The caller (a CLI, or a multi-threaded Jupyter kernel) never forks: it spawns the monitor as
a fresh interpreter (``python -I -S``: no site, ~15 ms) and reads one JSON report from a pipe.
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
_MONITOR = os.path.join(_PKG_PARENT, "dockerlab", "engine", "monitor.py")


def spawn_monitor(paths: Paths, cid: str, config: dict, attach: str = ""
                  ) -> tuple[dict, streams.Attachment | None]:
    """Start ``cid``'s monitor; returns its report and, if asked, an attachment made before
    the container's first output (so nothing is missed). ``attach`` names the streams the
    attachment wants: a string of ``i`` (stdin), ``o`` (stdout) and ``e`` (stderr)."""
    sync_r, sync_w = os.pipe()
    spec = marshal.dumps(config)  # the monitor reads it without importing json
    spec_r = -1
    if len(spec) < 60000:  # fits in the pipe at once; else the monitor reads the file
        spec_r, spec_w = os.pipe()
        os.write(spec_w, spec)
        os.close(spec_w)
    ours = theirs = None
    pass_fds = [sync_w] + [spec_r] * (spec_r >= 0)
    argv = [sys.executable, "-I", "-S", _MONITOR, _PKG_PARENT, paths.root, cid, str(sync_w),
            str(spec_r)]
    if attach:
        ours, theirs = socket.socketpair()
        pass_fds.append(theirs.fileno())
        argv.append(f"{theirs.fileno()}:{attach}")
    # posix_spawn (no fork of the caller: safe from a threaded kernel, and no subprocess
    # import); DUP2 of an fd onto itself clears its close-on-exec flag in the child only.
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0),
               (os.POSIX_SPAWN_DUP2, 0, 1), (os.POSIX_SPAWN_DUP2, 0, 2),
               *((os.POSIX_SPAWN_DUP2, fd, fd) for fd in pass_fds)]
    try:
        pid = os.posix_spawn(sys.executable, argv, os.environ, file_actions=actions,
                             setsid=True)
    finally:
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
        os.waitpid(pid, 0)  # the monitor's first half exits as soon as it has forked
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
