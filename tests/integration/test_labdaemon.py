"""The course's own daemon (chapter 2): started on its own socket, stopped cleanly, and a
daemon left by an earlier run (a kernel that died) stopped by the next start, never leaked."""

from __future__ import annotations

import http.client
import json
import pathlib
import socket
import subprocess
import sys
import textwrap

import pytest
from helpers import pid_ended, wait_until

from dockerlab.magics.labdaemon import LabDaemon

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


class _Unix(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def _get(path: str, url: str) -> tuple[int, object]:
    conn = _Unix(path)
    try:
        conn.request("GET", url)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_start_serves_the_state_root_and_stop_leaves_nothing(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_ROOT", engine.paths.root)  # as the course's start() does
    d = LabDaemon.start()
    try:
        assert d.running() and d.socket.exists()
        assert d.socket.parent.parent == pathlib.Path(engine.paths.root)
        engine.create({"Image": "busybox", "Cmd": ["true"]}, name="ch2-x")
        status, listed = _get(str(d.socket), "/containers/json?all=1")
        assert status == 200 and [c["Names"] for c in listed] == [["/ch2-x"]]
    finally:
        pid = d.pid
        assert d.stop() is True
    assert pid is not None and pid_ended(pid)
    assert not d.socket.exists() and not d.pidfile.exists()
    assert d.stop() is False  # twice is harmless


def test_a_daemon_left_by_a_dead_kernel_is_stopped_by_the_next_start(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_ROOT", str(tmp_path / "root"))
    home = tmp_path / "home"
    # a "kernel" that starts the daemon and dies without stopping it
    script = textwrap.dedent(
        f"""
        from dockerlab.magics.labdaemon import LabDaemon
        print(LabDaemon.start({str(home)!r}).pid)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    left = int(out.stdout)
    assert not pid_ended(left)  # still serving, orphaned
    d = LabDaemon.start(home)
    try:
        wait_until(lambda: pid_ended(left), what="the leftover daemon to end")
        assert d.pid != left and d.running()
        assert _get(str(d.socket), "/version")[0] == 200
    finally:
        d.stop()


def test_a_pid_file_naming_another_process_kills_nothing(tmp_path):
    other = subprocess.Popen(["sleep", "60"])
    try:
        d = LabDaemon(tmp_path / "home")
        d.home.mkdir(parents=True)
        d.pidfile.write_text(f"{other.pid}\n")
        assert d.stop_leftover() is None
        assert other.poll() is None and not d.pidfile.exists()
    finally:
        other.kill()
        other.wait()


def test_a_long_home_gets_a_short_socket(tmp_path):
    d = LabDaemon(tmp_path / ("x" * 120))
    assert len(str(d.socket)) < 108 and d.socket.name == "docker.sock"
    assert LabDaemon(tmp_path / ("x" * 120)).socket == d.socket  # the same home, the same one
