"""``dockerlab daemon``: its socket, version negotiation, errors and limits, as moby's.
Every test talks to a real daemon process over its real unix socket."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from daemon_fixture import DOCKER_CLIS, Daemon
from daemon_fixture import status as _status
from helpers import wait_until

pytestmark = pytest.mark.timeout(120)


def _body(raw: bytes) -> dict:
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


def test_ping_negotiates_the_version(api_daemon):
    raw = api_daemon.request(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert _status(raw) == 200 and body == b"OK"
    assert b"Api-Version: 1.44" in head and b"Ostype: linux" in head
    head = api_daemon.request(b"HEAD /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
    assert _status(head) == 200 and head.endswith(b"\r\n\r\n")


def test_docker_py_reads_the_version(api_daemon):
    v = api_daemon.client().version()
    assert v["ApiVersion"] == "1.44" and v["MinAPIVersion"] == "1.24" and v["Os"] == "linux"


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_the_docker_cli_connects(api_daemon, exe):
    done = api_daemon.cli("version", "--format", "{{.Server.APIVersion}}", docker=exe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("1.44", "1.41")  # 20.10's client asks for 1.41


def test_a_version_above_the_maximum_is_refused_in_mobys_words(api_daemon):
    raw = api_daemon.request(b"GET /v1.99/info HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
    assert _status(raw) == 400
    assert _body(raw) == {
        "message": "client version 1.99 is too new. Maximum supported API version is 1.44"
    }
    raw = api_daemon.request(b"GET /v1.12/info HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
    assert _status(raw) == 400 and "too old" in _body(raw)["message"]


def test_unknown_paths_and_wrong_methods(api_daemon):
    raw = api_daemon.request(b"GET /v1.44/nothing HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
    assert _status(raw) == 404 and _body(raw) == {"message": "page not found"}
    # a path served under another method: moby's router answers 404 as well, not 405
    for wrong in (b"DELETE /version", b"POST /_ping", b"PUT /v1.41/info"):
        raw = api_daemon.request(wrong + b" HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        assert _status(raw) == 404 and _body(raw) == {"message": "page not found"}


def test_bad_requests_get_an_answer_and_the_daemon_lives(api_daemon):
    assert _status(api_daemon.request(b"NONSENSE\r\n\r\n")) == 400
    big = b"GET /_ping HTTP/1.1\r\nHost: d\r\n" + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n"
    assert _status(api_daemon.request(big)) == 431
    many = b"GET /_ping HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(300)) + b"\r\n"
    assert _status(api_daemon.request(many)) == 431
    chunked = (
        b"POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    )
    assert _status(api_daemon.request(chunked)) == 400
    assert api_daemon.client().ping() is True


def test_keep_alive_serves_requests_one_after_another(api_daemon):
    two = b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\nGET /_ping HTTP/1.1\r\nHost: d\r\n\r\n"
    raw = api_daemon.request(two, timeout=3)
    assert raw.count(b"HTTP/1.1 200 OK") == 2


def test_the_socket_is_root_and_group_only(api_daemon):
    st = os.stat(api_daemon.sock)
    assert st.st_mode & 0o777 == 0o660 and st.st_uid == 0


def test_a_user_outside_the_group_cannot_connect(api_daemon):
    if os.geteuid() != 0:
        pytest.skip("needs root to become nobody")
    os.chmod(os.path.dirname(api_daemon.sock), 0o755)  # the folder is not what refuses
    probe = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setgroups([]); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect(sys.argv[1])\nexcept PermissionError:\n    sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, api_daemon.sock], timeout=30)
    assert done.returncode == 3


def test_a_second_daemon_on_the_same_socket_says_so(api_daemon, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "dockerlab", "--root", api_daemon.root]
        + ["daemon", "-H", api_daemon.host],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "already listening on " + api_daemon.host in done.stderr
    assert api_daemon.client().ping() is True


def test_sigterm_removes_the_socket_and_a_stale_socket_is_replaced(engine, tmp_path):
    d = Daemon(engine.paths.root, str(tmp_path))
    d.stop()
    assert d.proc.returncode == 0 and not os.path.exists(d.sock)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(d.sock)  # bound, never listening: what a killed daemon leaves
    stale.close()
    d2 = Daemon(engine.paths.root, str(tmp_path))
    assert d2.client().ping() is True
    d2.stop()


@pytest.mark.parametrize(
    "host, words",
    [
        ("tcp://0.0.0.0:2375", "without --tlsverify"),
        ("tcp://127.0.0.1", "needs a port"),
        ("ssh://somewhere", "serves unix:// and tcp://"),
        ("unix://relative/path", "relative"),
    ],
)
def test_bad_listen_addresses_are_refused(engine, host, words):
    done = subprocess.run(
        [sys.executable, "-m", "dockerlab", "--root", engine.paths.root, "daemon", "-H", host],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stderr.startswith("failed to start daemon: ")
    assert words in done.stderr and "Traceback" not in done.stderr


def test_loopback_tcp_serves_the_api(engine, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = Daemon(engine.paths.root, str(tmp_path), "-H", f"tcp://127.0.0.1:{port}")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
            c.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            got = b""
            while chunk := c.recv(4096):
                got += chunk
        assert got.startswith(b"HTTP/1.1 200 OK") and got.endswith(b"OK")
    finally:
        d.stop()


# ---- faults: many clients, slow clients, idle clients, clients that leave ---------------------
def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError("no Threads line")


def _one_exchange(sock: str, raw: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(60)
        s.connect(sock)
        s.sendall(raw)
        out = b""
        while got := s.recv(65536):
            out += got
        return out


def test_200_connections_at_once_are_all_answered(api_daemon):
    import threading

    n = 200
    start = threading.Barrier(n)
    answers: list[bytes] = [b""] * n

    def client(i: int) -> None:
        path = b"/info" if i % 4 == 0 else b"/_ping"
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(120)
            s.connect(api_daemon.sock)
            start.wait(60)  # all connected before any asks
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            out = b""
            while got := s.recv(65536):
                out += got
            answers[i] = out

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    statuses = [a.split(b" ", 2)[1] if a else b"none" for a in answers]
    assert statuses == [b"200"] * n
    assert all(_body(a)["OSType"] == "linux" for a in answers[::4])
    # every connection's thread is gone once its client is
    wait_until(lambda: _threads(api_daemon.proc.pid) <= 4, what="the connection threads to end")


def test_threads_end_with_their_connections_even_mid_response(api_daemon):
    import struct

    assert api_daemon.client().ping() is True  # serving (its own threads started)
    base = _threads(api_daemon.proc.pid)
    held = []
    for _ in range(30):
        s = socket.socket(socket.AF_UNIX)
        s.connect(api_daemon.sock)
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")  # kept alive
        assert s.recv(65536).startswith(b"HTTP/1.1 200 OK")
        held.append(s)
    assert _threads(api_daemon.proc.pid) >= base + 30
    for s in held:
        s.close()
    # clients that ask a lot and leave at once (a reset): the answers have nobody to go to
    for _ in range(10):
        s = socket.socket(socket.AF_UNIX)
        s.connect(api_daemon.sock)
        s.sendall(b"GET /info HTTP/1.1\r\nHost: d\r\n\r\n" * 50)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    wait_until(lambda: _threads(api_daemon.proc.pid) <= base, what="the threads to end")
    assert api_daemon.client().ping() is True
    assert "Traceback" not in api_daemon.log()


@pytest.fixture
def quick_daemon(engine, tmp_path, monkeypatch):
    """A daemon with short deadlines: 1 s idle between requests, 1 s for a request's head."""
    monkeypatch.setenv("DOCKERLAB_DAEMON_IDLE_TIMEOUT", "1")
    monkeypatch.setenv("DOCKERLAB_DAEMON_HEADER_TIMEOUT", "1")
    d = Daemon(engine.paths.root, str(tmp_path))
    yield d
    d.stop()


def _closed_by_daemon(s: socket.socket) -> bool:
    try:
        return s.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_an_idle_keep_alive_connection_is_closed(quick_daemon):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(quick_daemon.sock)
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        s.settimeout(30)
        assert s.recv(65536).startswith(b"HTTP/1.1 200 OK")
        s.settimeout(0.2)
        wait_until(lambda: _closed_by_daemon(s), what="the daemon to close the idle connection")


def test_a_slow_client_cannot_hold_the_daemon(quick_daemon):
    """Slowloris: a request head trickling a byte at a time, each within any socket timeout,
    is cut off by the head's deadline; other clients are served meanwhile."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(quick_daemon.sock)
        s.settimeout(0.1)
        s.sendall(b"GET /_ping HTTP/1.1\r\n")

        def trickle() -> bool:
            try:
                s.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                return True
            assert quick_daemon.client().ping() is True  # served while the slow one waits
            return _closed_by_daemon(s)

        wait_until(trickle, interval=0.05, what="the daemon to cut off the slow client")
    assert quick_daemon.client().ping() is True


def test_sigterm_with_connections_open_stops_promptly(api_daemon):
    idle = socket.socket(socket.AF_UNIX)
    idle.connect(api_daemon.sock)
    idle.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
    assert idle.recv(65536).startswith(b"HTTP/1.1 200 OK")
    half = socket.socket(socket.AF_UNIX)
    half.connect(api_daemon.sock)
    half.sendall(b"GET /_ping HTTP/1.1\r\nHo")  # a request half sent
    try:
        api_daemon.stop()  # SIGTERM; fails if the daemon is not gone within 20 s
        assert api_daemon.proc.returncode == 0 and not os.path.exists(api_daemon.sock)
        idle.settimeout(30)
        assert idle.recv(65536) == b""
    finally:
        idle.close()
        half.close()


# ---- the socket's group ----------------------------------------------------------------------
def _stat_group(sock: str) -> int:
    return os.stat(sock).st_gid


@pytest.fixture
def temp_group():
    """A group made for the test (groupadd) and removed after; yields (name, gid)."""
    import grp
    import uuid

    if os.geteuid() != 0:
        pytest.skip("needs root for groupadd")
    name = "dlt" + uuid.uuid4().hex[:8]
    subprocess.run(["groupadd", name], check=True, timeout=30)
    try:
        yield name, grp.getgrnam(name).gr_gid
    finally:
        subprocess.run(["groupdel", name], check=True, timeout=30)


def test_minus_g_chooses_the_sockets_group(engine, tmp_path, temp_group):
    name, gid = temp_group
    d = Daemon(engine.paths.root, str(tmp_path), "-G", name)
    try:
        assert _stat_group(d.sock) == gid and os.stat(d.sock).st_mode & 0o777 == 0o660
    finally:
        d.stop()


def test_the_socket_gets_the_dockerlab_group_when_it_exists(engine, tmp_path):
    import grp

    if os.geteuid() != 0:
        pytest.skip("needs root for groupadd")
    made = False
    try:
        gid = grp.getgrnam("dockerlab").gr_gid
    except KeyError:
        subprocess.run(["groupadd", "dockerlab"], check=True, timeout=30)
        made = True
        gid = grp.getgrnam("dockerlab").gr_gid
    try:
        d = Daemon(engine.paths.root, str(tmp_path))
        try:
            assert _stat_group(d.sock) == gid
        finally:
            d.stop()
    finally:
        if made:
            subprocess.run(["groupdel", "dockerlab"], check=True, timeout=30)


def test_an_unknown_group_is_refused_as_dockerd(engine, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "dockerlab", "--root", engine.paths.root, "daemon"]
        + ["-H", f"unix://{tmp_path}/d.sock", "-G", "no-such-group-here"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and not os.path.exists(tmp_path / "d.sock")
    assert done.stderr == "failed to start daemon: group no-such-group-here not found\n"
