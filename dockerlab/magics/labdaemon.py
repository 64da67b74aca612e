"""A chapter's own ``dockerlab daemon``: started on a socket of its own, stopped cleanly, never
leaked by a re-run.

Chapter 2 of the course shows Docker's client/daemon split for real: it starts ``dockerlab
daemon`` on the course's state root, talks to it over its unix socket (``http.client``, the
``docker`` command, the ApiTrace widget) and stops it in its last cell. The daemon runs in a
session of its own, so a kernel that dies leaves it running: its PID is kept in a file beside
the socket, and the next :meth:`LabDaemon.start` stops the one left over first (only when that
PID is still a ``dockerlab daemon`` on this very socket, never another process).
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time

__all__ = ["LabDaemon"]

WAIT = 20.0  # a loaded machine can take seconds to import and listen; a pass returns at once
_SUN_PATH = 100  # a unix socket's path must fit sockaddr_un (108 bytes, with room to spare)


def _socket_path(home: pathlib.Path) -> pathlib.Path:
    """``home/docker.sock``, or a short path in the temp folder when that one is too long."""
    path = home / "docker.sock"
    if len(os.fsencode(str(path))) <= _SUN_PATH:
        return path
    tag = hashlib.sha256(os.fsencode(str(home))).hexdigest()[:12]
    return pathlib.Path(tempfile.gettempdir()) / f"dockerlab-{os.getuid()}-{tag}" / "docker.sock"


def _is_our_daemon(pid: int, sock: pathlib.Path) -> bool:
    """Whether ``pid`` is a ``dockerlab daemon`` listening on ``sock`` (a reused PID is not)."""
    try:
        args = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"daemon" in args and os.fsencode(f"unix://{sock}") in args


def _alive(pid: int) -> bool:
    """Running (a zombie, dead but not reaped, is not)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _answers(sock: pathlib.Path) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(str(sock))
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        return s.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        s.close()


class LabDaemon:
    """A ``dockerlab daemon`` process serving one state root on its own unix socket.

    ``home`` is where its PID file and log live (by default ``ch2-daemon`` in the state root
    named by ``DOCKERLAB_ROOT``); the socket is ``home/docker.sock`` when that path is short
    enough for a unix socket. :attr:`host` is the ``unix://…`` address for ``DOCKER_HOST``.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        if home is None:
            root = os.environ.get("DOCKERLAB_ROOT") or "/var/lib/dockerlab"
            home = pathlib.Path(root) / "ch2-daemon"
        self.home = pathlib.Path(home)
        self.socket = _socket_path(self.home)
        self.pidfile = self.home / "daemon.pid"
        self.logfile = self.home / "daemon.log"
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running() else "stopped"
        return f"LabDaemon({self.host}, {state})"

    @classmethod
    def start(cls, home: str | os.PathLike[str] | None = None, trace: bool = True) -> LabDaemon:
        """Stop the daemon a previous run left on this socket, then start a new one and wait
        (bounded) until it answers ``/_ping``."""
        daemon = cls(home)
        daemon.stop_leftover()
        daemon._spawn(trace)
        return daemon

    def stop_leftover(self) -> int | None:
        """Stop the daemon whose PID the PID file names, if it is ours; returns its PID."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        left = pid if _alive(pid) and _is_our_daemon(pid, self.socket) else None
        if left is not None:
            self._terminate(left)
        self.pidfile.unlink(missing_ok=True)
        return left

    def _spawn(self, trace: bool) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        args = [sys.executable, "-m", "dockerlab", "daemon", "-H", self.host]
        if trace:
            args.append("--trace")
        if os.geteuid() != 0:
            args += ["-G", str(os.getgid())]  # a user's own socket, in the user's group
        with open(self.logfile, "ab") as log:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # the kernel's interrupt is not the daemon's
            )
        self.pid = self._proc.pid
        self.pidfile.write_text(f"{self.pid}\n")
        deadline = time.monotonic() + WAIT
        while not _answers(self.socket):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dockerlab daemon did not start: {self.log().strip()}")
            time.sleep(0.05)

    def running(self) -> bool:
        return self.pid is not None and _alive(self.pid)

    def log(self) -> str:
        """What the daemon wrote (``API listen on …``, one line per request)."""
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> bool:
        """SIGTERM, then wait (bounded; SIGKILL after it); the socket and PID file go.
        Returns whether a running daemon was stopped."""
        was = self.running()
        if self.pid is not None:
            self._terminate(self.pid)
        self.pidfile.unlink(missing_ok=True)
        self.pid = None
        return was

    def _terminate(self, pid: int) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + WAIT / 2
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.pid == pid:
                    if self._proc.poll() is not None:  # our child: reaped here
                        break
                elif not _alive(pid):
                    break
                time.sleep(0.05)
            else:
                continue
            break
        if self._proc is not None and self._proc.pid == pid:
            self._proc.wait(timeout=WAIT)
        if not _answers(self.socket):
            self.socket.unlink(missing_ok=True)  # a daemon killed leaves its socket file
