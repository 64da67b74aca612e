"""``POST /containers/{id}/attach`` and ``/resize`` through a real ``dockerlab daemon``: the
hijack's bytes on a raw socket (101 headers, Docker's multiplexed frames, stdin's half-close),
docker-py's attach socket and ``containers.run``, and the docker CLIs' ``run``, ``start -ai``,
``attach`` and ``run -it`` (on a pseudo-terminal)."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import time

import pytest
from daemon_fixture import DOCKER_CLIS
from helpers import daemon, wait_until

pytestmark = pytest.mark.timeout(180)


# ---- raw protocol ----------------------------------------------------------------------------
def _connect(d) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(d.sock)
    return s


def _hijack(d, target: str, body: bytes = b"", upgrade: bool = True) -> tuple[socket.socket, bytes]:
    """Send the request; returns the socket and the response's head (what follows the head
    stays to be read)."""
    s = _connect(d)
    head = f"POST {target} HTTP/1.1\r\nHost: d\r\nContent-Length: {len(body)}\r\n"
    if body:
        head += "Content-Type: application/json\r\n"
    if upgrade:
        head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
    s.sendall(head.encode() + b"\r\n" + body)
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(1)  # byte by byte: nothing of the stream is read with the head
        assert chunk, got
        got += chunk
    return s, got


def _read_all(s: socket.socket) -> bytes:
    out = b""
    while True:
        got = s.recv(65536)
        if not got:
            return out
        out += got


def _call(d, method: str, target: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else b""
    raw = d.request(
        f"{method} {target} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    head, _, rest = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while data:
        assert len(data) >= 8 and data[1:4] == b"\0\0\0", data
        size = int.from_bytes(data[4:8], "big")
        out.append((data[0], data[8 : 8 + size]))
        data = data[8 + size :]
    return out


def _container_routes(d) -> None:
    """The container routes (create, start, wait, logs) are another part of issue 12: skip
    when this tree lacks them."""
    status, _ = _call(d, "GET", "/containers/nothing-here/json")
    if status != 404 or b"No such container" not in _:
        pytest.skip("the daemon's container routes are not in this tree")


def test_attach_hijacks_with_101_and_multiplexed_frames(engine, api_daemon):
    cid = daemon(
        engine,
        ["sh", "-c", "cat; echo err >&2"],
        OpenStdin=True,
        StdinOnce=True,
        AttachStdin=True,
    )
    s, head = _hijack(
        api_daemon, f"/v1.44/containers/{cid}/attach?stream=1&stdin=1&stdout=1&stderr=1"
    )
    assert head.startswith(b"HTTP/1.1 101 UPGRADED\r\n")
    lines = head.decode().split("\r\n")
    assert "Content-Type: application/vnd.docker.multiplexed-stream" in lines
    assert "Connection: Upgrade" in lines and "Upgrade: tcp" in lines
    s.sendall(b"data\n")
    s.shutdown(socket.SHUT_WR)  # the end of stdin: cat ends, the container exits
    out = _read_all(s)  # ... and the daemon closes the connection
    s.close()
    # byte by byte: [stream][0 0 0][size, 4 bytes big-endian][payload]
    assert out == b"\x01\x00\x00\x00\x00\x00\x00\x05data\n\x02\x00\x00\x00\x00\x00\x00\x04err\n"
    assert wait_until(lambda: not engine.inspect(cid)["State"]["Running"], what="exit")


def test_attach_without_upgrade_is_200_and_raw_stream_before_1_42(engine, api_daemon):
    cid = daemon(engine, ["sh", "-c", "read x; echo got-$x"], OpenStdin=True, StdinOnce=True)
    s, head = _hijack(
        api_daemon, f"/v1.41/containers/{cid}/attach?stream=1&stdin=1&stdout=1", upgrade=False
    )
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Type: application/vnd.docker.raw-stream\r\n" in head
    s.sendall(b"abc\n")
    out = _read_all(s)
    s.close()
    assert _frames(out) == [(1, b"got-abc\n")]


def test_attach_with_a_tty_is_raw_and_detach_keys_leave_it_running(engine, api_daemon):
    cid = daemon(engine, ["sh", "-c", "read x; echo got-$x; sleep 60"], Tty=True, OpenStdin=True)
    s, head = _hijack(
        api_daemon,
        f"/v1.44/containers/{cid}/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-x",
    )
    assert b"Content-Type: application/vnd.docker.raw-stream\r\n" in head
    s.sendall(b"abc\r")
    seen = b""
    while b"got-abc" not in seen:
        chunk = s.recv(65536)
        assert chunk, seen
        seen += chunk
    assert not seen.startswith(b"\x01\x00\x00\x00")  # a terminal's bytes, no frame
    s.sendall(b"\x18")  # ctrl-x: detach
    _read_all(s)  # the daemon ends the stream
    s.close()
    assert engine.inspect(cid)["State"]["Running"]
    # with a TTY the end of the client's input ends its session, not the container's stdin
    s, _ = _hijack(api_daemon, f"/v1.44/containers/{cid}/attach?stream=1&stdin=1&stdout=1")
    s.shutdown(socket.SHUT_WR)
    _read_all(s)
    s.close()
    assert engine.inspect(cid)["State"]["Running"]


def test_bad_detach_keys_and_a_paused_container_are_refused(engine, api_daemon):
    cid = daemon(engine, ["sleep", "60"], Tty=True, OpenStdin=True)
    status, body = _call(api_daemon, "POST", f"/containers/{cid}/attach?stream=1&detachKeys=ctrl-")
    assert status == 400
    assert json.loads(body)["message"] == "Invalid detach keys (ctrl-) provided"
    engine.pause(cid)
    status, body = _call(api_daemon, "POST", f"/containers/{cid}/attach?stream=1")
    assert status == 409 and "is paused" in json.loads(body)["message"]
    engine.unpause(cid)
    status, body = _call(api_daemon, "POST", "/containers/nothing/attach?stream=1")
    assert status == 404 and json.loads(body)["message"] == "No such container: nothing"


def test_logs_1_replays_the_output_first(engine, api_daemon):
    cid = daemon(engine, ["sh", "-c", "echo before; sleep 60"])
    wait_until(lambda: list(engine.logs(cid)), what="the first line in the log")
    s, _ = _hijack(api_daemon, f"/v1.44/containers/{cid}/attach?logs=1&stdout=1")
    out = _read_all(s)  # logs without stream: the replay, then the end
    s.close()
    assert _frames(out) == [(1, b"before\n")]


def _threads(d) -> int:
    status, body = _call(d, "GET", "/info")
    return int(json.loads(body)["NGoroutines"])


def test_a_client_that_goes_away_leaves_the_container_and_no_thread(engine, api_daemon):
    cid = daemon(engine, ["sh", "-c", "while true; do echo tick; sleep 1; done"], OpenStdin=True)
    before = _threads(api_daemon)
    for _ in range(3):
        s, _ = _hijack(api_daemon, f"/containers/{cid}/attach?stream=1&stdin=1&stdout=1")
        s.recv(8)  # a frame's header: it is attached
        s.close()  # gone mid-attach
    s, _ = _hijack(api_daemon, f"/containers/{cid}/attach?stream=1&stdout=1")  # waiting, quiet
    s.close()
    assert wait_until(lambda: _threads(api_daemon) <= before, timeout=30, interval=0.2), (
        f"threads left: {_threads(api_daemon)} > {before}"
    )
    assert engine.inspect(cid)["State"]["Running"]
    # a container never started, with a client waiting for it that goes away
    made = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    s, _ = _hijack(api_daemon, f"/containers/{made}/attach?stream=1&stdout=1")
    s.close()
    assert wait_until(lambda: _threads(api_daemon) <= before, timeout=30, interval=0.2)


def test_resize_reaches_the_containers_terminal(engine, api_daemon):
    cid = daemon(engine, ["sh", "-c", "read x; stty size; sleep 60"], Tty=True, OpenStdin=True)
    status, _ = _call(api_daemon, "POST", f"/containers/{cid}/resize?h=33&w=77")
    assert status == 200
    s, _ = _hijack(api_daemon, f"/containers/{cid}/attach?stream=1&stdin=1&stdout=1")
    s.sendall(b"\r")
    seen = b""
    while b"33 77" not in seen:
        chunk = s.recv(65536)
        assert chunk, seen
        seen += chunk
    s.close()
    status, body = _call(api_daemon, "POST", f"/containers/{cid}/resize?h=a&w=10")
    assert status == 400
    assert json.loads(body)["message"] == 'strconv.Atoi: parsing "a": invalid syntax'
    made = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    status, body = _call(api_daemon, "POST", f"/containers/{made}/resize?h=10&w=10")
    assert status == 409 and json.loads(body)["message"] == f"Container {made} is not running"


# ---- attach before start (as docker run does) ------------------------------------------------
def test_attach_before_start_sees_the_first_byte(engine, api_daemon):
    _container_routes(api_daemon)
    for _ in range(3):  # a container that exits at once, removed (--rm) once it has
        cid = engine.create(
            {"Image": "busybox", "Cmd": ["echo", "hi"], "HostConfig": {"AutoRemove": True}}
        )["Id"]
        s, head = _hijack(api_daemon, f"/v1.44/containers/{cid}/attach?stream=1&stdout=1&stderr=1")
        assert head.startswith(b"HTTP/1.1 101 UPGRADED")
        status, _ = _call(api_daemon, "POST", f"/containers/{cid}/start")
        assert status == 204
        out = _read_all(s)
        s.close()
        assert _frames(out) == [(1, b"hi\n")]


def test_stdin_sent_before_the_start_reaches_the_container(engine, api_daemon):
    _container_routes(api_daemon)
    cid = engine.create(
        {
            "Image": "busybox",
            "Cmd": ["cat"],
            "OpenStdin": True,
            "StdinOnce": True,
            "AttachStdin": True,
        }
    )["Id"]
    s, _ = _hijack(api_daemon, f"/v1.44/containers/{cid}/attach?stream=1&stdin=1&stdout=1")
    s.sendall(b"early\n")
    s.shutdown(socket.SHUT_WR)
    status, _ = _call(api_daemon, "POST", f"/containers/{cid}/start")
    assert status == 204
    assert _frames(_read_all(s)) == [(1, b"early\n")]
    s.close()


# ---- docker-py ---------------------------------------------------------------------------------
def test_docker_py_run_and_attach_socket(engine, api_daemon):
    _container_routes(api_daemon)
    client = api_daemon.docker()
    assert client.containers.run("busybox", "echo hi", remove=True) == b"hi\n"
    cid = daemon(engine, ["sh", "-c", "cat; echo done"], OpenStdin=True, StdinOnce=True)
    api = api_daemon.client()
    sock = api.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stream": 1})
    raw = sock._sock
    raw.sendall(b"via docker-py\n")
    raw.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        got = raw.recv(65536)
        if not got:
            break
        out += got
    sock.close()
    frames = _frames(out)
    assert {k for k, _ in frames} == {1}
    assert b"".join(d for _, d in frames) == b"via docker-py\ndone\n"


# ---- the docker CLIs ---------------------------------------------------------------------------
@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_run_prints_and_exits_with_the_containers_code(api_daemon, exe):
    _container_routes(api_daemon)
    done = api_daemon.cli("run", "--rm", "busybox", "echo", "hi", docker=exe)
    assert (done.returncode, done.stdout, done.stderr) == (0, "hi\n", "")
    done = api_daemon.cli("run", "--rm", "busybox", "sh", "-c", "echo err >&2; exit 3", docker=exe)
    assert (done.returncode, done.stdout, done.stderr) == (3, "", "err\n")
    done = api_daemon.cli("run", "-i", "--rm", "busybox", "cat", input="data\n", docker=exe)
    assert (done.returncode, done.stdout) == (0, "data\n")


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_start_ai_and_attach(engine, api_daemon, exe):
    _container_routes(api_daemon)
    cid = engine.create(
        {
            "Image": "busybox",
            "Cmd": ["sh", "-c", "read x; echo got-$x; exit 4"],
            "OpenStdin": True,
            "StdinOnce": True,
            "AttachStdin": True,
        }
    )["Id"]
    done = api_daemon.cli("start", "-ai", cid, input="abc\n", docker=exe)
    assert (done.returncode, done.stdout) == (4, "got-abc\n")
    cid = daemon(engine, ["sh", "-c", "read x; echo attached-$x"], OpenStdin=True, StdinOnce=True)
    done = api_daemon.cli("attach", cid, input="xyz\n", docker=exe)
    assert (done.returncode, done.stdout) == (0, "attached-xyz\n")


def _on_a_terminal(
    argv: list[str], env: dict, steps: list[tuple[bytes, bytes]]
) -> tuple[int, bytes]:
    """Run ``argv`` on a new pseudo-terminal: wait for each ``expect``, then type its
    ``send``; returns the exit code and everything it showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        for expect, send in steps:
            while expect not in seen:
                left = deadline - time.monotonic()
                assert left > 0, seen
                r, _, _ = select.select([master], [], [], left)
                if r:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        chunk = b""
                    assert chunk, seen
                    seen += chunk
            os.write(master, send)
        while True:  # the rest, until the terminal's last writer is gone
            r, _, _ = select.select([master], [], [], max(deadline - time.monotonic(), 0))
            if not r:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        return proc.wait(timeout=30), seen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_run_it_on_a_terminal(api_daemon, exe):
    _container_routes(api_daemon)
    code, seen = _on_a_terminal(
        [exe, "run", "-it", "--rm", "busybox", "sh"],
        api_daemon.env,
        [(b"# ", b"echo $((6*7))\r"), (b"42", b"exit 5\r")],
    )
    assert code == 5, seen


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_run_it_detaches_with_ctrl_p_ctrl_q_and_attaches_again(engine, api_daemon, exe):
    _container_routes(api_daemon)
    code, seen = _on_a_terminal(
        [exe, "run", "-it", "--name", "kept", "busybox", "sh"],
        api_daemon.env,
        [(b"# ", b"echo $((6*7))\r"), (b"42", b"\x10\x11")],
    )
    assert code == 0, seen
    assert engine.inspect("kept")["State"]["Running"]
    code, seen = _on_a_terminal(
        [exe, "attach", "kept"], api_daemon.env, [(b"", b"\r"), (b"# ", b"exit 9\r")]
    )
    assert code == 9, seen


def test_the_daemon_stops_with_attached_and_waiting_clients(engine, api_daemon):
    cid = daemon(engine, ["sleep", "60"], OpenStdin=True)
    made = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    live, _ = _hijack(api_daemon, f"/containers/{cid}/attach?stream=1&stdin=1&stdout=1")
    waiting, _ = _hijack(api_daemon, f"/containers/{made}/attach?stream=1&stdout=1")
    api_daemon.stop()  # SIGTERM: it must stop (the fixture asserts it does, in 20 s)
    assert _read_all(live) == b"" and _read_all(waiting) == b""
    live.close()
    waiting.close()
    assert engine.inspect(cid)["State"]["Running"]
