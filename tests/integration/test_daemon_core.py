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

pytestmark = pytest.mark.timeout(120)


def _status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


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
    raw = api_daemon.request(b"DELETE /version HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
    assert _status(raw) == 405


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
