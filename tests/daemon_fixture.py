"""A real ``dockerlab daemon`` for the tests: started as a process on a temporary unix socket
over the test's engine root, stopped with SIGTERM (and checked to have stopped).

    from daemon_fixture import api_daemon, docker_cli, DOCKER_CLIS

``api_daemon`` yields a :class:`Daemon`: ``sock`` (its path), ``host`` (``unix://…``),
``env`` (the environment for a ``docker`` client), ``log()`` (what it wrote), ``client()``
(docker-py's low-level ``APIClient``), ``docker()`` (``docker.DockerClient``) and
``request()`` (one raw HTTP exchange over the socket, for protocol tests).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from typing import Any

import pytest
from helpers import wait_until

# The docker CLIs a test may drive: Debian's docker.io 20.10 (API 1.41) and a current CLI
# (API 1.50, negotiating down); only their client part is used, never their daemon.
DOCKER_CLIS = [p for p in ("/usr/bin/docker", "/usr/local/bin/docker") if os.access(p, os.X_OK)]


class Daemon:
    def __init__(self, root: str, folder: str, *extra: str) -> None:
        self.root = root
        self.sock = os.path.join(folder, "docker.sock")
        self.host = f"unix://{self.sock}"
        self.logfile = os.path.join(folder, "daemon.log")
        with open(self.logfile, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dockerlab", "--root", root, "daemon", "-H", self.host]
                + list(extra),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_until(self._answers, what=f"the daemon to listen on {self.sock}")
        self.env = {**os.environ, "DOCKER_HOST": self.host, "DOCKER_CONFIG": folder}
        self.env.pop("DOCKER_CONTEXT", None)
        self._clients: list[Any] = []

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the daemon exited {self.proc.returncode}: {self.log()}")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(self.sock)
            return True
        except OSError:
            return False

    def log(self) -> str:
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def client(self, **kw: Any) -> Any:
        docker = pytest.importorskip("docker")
        c = docker.APIClient(base_url=self.host, version="auto", timeout=60, **kw)
        self._clients.append(c)
        return c

    def docker(self) -> Any:
        docker = pytest.importorskip("docker")
        c = docker.DockerClient(base_url=self.host, version="auto", timeout=60)
        self._clients.append(c)
        return c

    def request(self, raw: bytes, timeout: float = 30) -> bytes:
        """Send ``raw`` (a whole HTTP request) and read until the daemon closes or stops
        answering for ``timeout`` seconds."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(self.sock)
            s.sendall(raw)
            out = b""
            try:
                while True:
                    got = s.recv(65536)
                    if not got:
                        break
                    out += got
            except TimeoutError:
                pass
            return out

    def cli(self, *args: str, docker: str | None = None, **kw: Any) -> Any:
        """Run a docker CLI (the first of DOCKER_CLIS by default) against the daemon."""
        exe = docker or (DOCKER_CLIS[0] if DOCKER_CLIS else None)
        if exe is None:
            pytest.skip("no docker client installed")
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 120)
        return subprocess.run([exe, *args], env=self.env, **kw)

    def stop(self) -> None:
        for c in self._clients:
            try:
                c.close()
            except Exception:  # noqa: BLE001 - teardown goes on
                pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                stacks = _stacks(self.proc.pid)
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise AssertionError(
                    f"the daemon did not stop on SIGTERM\n{stacks}\nits log:\n{self.log()}"
                ) from None


# ---- reading raw answers (the protocol tests' exchanges) ----------------------------------
def status(raw: bytes) -> int:
    """The status code of a raw HTTP answer."""
    return int(raw.split(b" ", 2)[1])


def body(raw: bytes) -> bytes:
    """What follows a raw answer's headers (still chunked, if it was)."""
    return raw.split(b"\r\n\r\n", 1)[1]


def unchunk(data: bytes) -> bytes:
    """A chunked body's bytes, its chunks joined."""
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, data = out + rest[:size], rest[size + 2 :]
    return out


def _stacks(pid: int) -> str:
    """The threads of a stuck process, as py-spy shows them (when it is installed)."""
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.access(spy, os.X_OK):
        return "(no py-spy to show its threads)"
    done = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True)
    return done.stdout + done.stderr


@pytest.fixture
def api_daemon(engine, tmp_path):
    """``dockerlab daemon`` over the ``engine`` fixture's root (busybox:latest in it)."""
    folder = tmp_path / "daemon"
    folder.mkdir()
    d = Daemon(engine.paths.root, str(folder))
    yield d
    d.stop()
    assert not os.path.exists(d.sock), "the daemon left its socket behind"


def docker_cli() -> str:
    if not DOCKER_CLIS:
        pytest.skip("no docker client installed")
    return DOCKER_CLIS[0]


__all__ = ["DOCKER_CLIS", "Daemon", "api_daemon", "body", "docker_cli", "status", "unchunk"]
