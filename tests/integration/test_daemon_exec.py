"""``POST /containers/{id}/exec``, ``/exec/{id}/start``, ``/resize`` and ``GET /exec/{id}/json``
through a real ``dockerlab daemon``: the raw hijack, docker-py's ``exec_run`` and low-level
exec calls, and the docker CLIs' ``exec`` (``-i``, ``-it`` on a pseudo-terminal)."""

from __future__ import annotations

import json
import socket

import pytest
from daemon_fixture import DOCKER_CLIS
from helpers import daemon, wait_until
from test_daemon_attach import _call, _frames, _hijack, _on_a_terminal, _read_all, _threads

pytestmark = pytest.mark.timeout(180)


def _create(d, cid: str, body: dict) -> str:
    status, raw = _call(d, "POST", f"/containers/{cid}/exec", body)
    assert status == 201, raw
    return json.loads(raw)["Id"]


def test_exec_start_hijacks_frames_and_records_the_exit_code(engine, api_daemon):
    cid = daemon(engine, ["sleep", "60"])
    eid = _create(
        api_daemon,
        cid,
        {
            "Cmd": ["sh", "-c", "cat; echo err >&2; exit 7"],
            "AttachStdin": True,
            "AttachStdout": True,
            "AttachStderr": True,
        },
    )
    status, raw = _call(api_daemon, "GET", f"/exec/{eid}/json")
    before = json.loads(raw)
    assert status == 200 and before["Running"] is False and before["ExitCode"] is None
    assert before["ProcessConfig"] == {
        "tty": False,
        "entrypoint": "sh",
        "arguments": ["-c", "cat; echo err >&2; exit 7"],
        "privileged": False,
    }
    assert before["ContainerID"] == cid and before["OpenStdin"] is True
    s, head = _hijack(api_daemon, f"/v1.44/exec/{eid}/start", b'{"Detach":false,"Tty":false}')
    assert head.startswith(b"HTTP/1.1 101 UPGRADED\r\n")
    assert b"Content-Type: application/vnd.docker.multiplexed-stream\r\n" in head
    s.sendall(b"in\n")
    s.shutdown(socket.SHUT_WR)  # cat sees the end of its input
    out = _read_all(s)
    s.close()
    assert out == b"\x01\x00\x00\x00\x00\x00\x00\x03in\n\x02\x00\x00\x00\x00\x00\x00\x04err\n"
    after = json.loads(_call(api_daemon, "GET", f"/exec/{eid}/json")[1])
    assert after["Running"] is False and after["ExitCode"] == 7 and after["Pid"] > 0
    status, raw = _call(api_daemon, "POST", f"/exec/{eid}/start", {"Detach": False})
    assert status == 409
    assert json.loads(raw)["message"] == f"Error: Exec command {eid} has already run"


def test_exec_errors_in_dockers_words(engine, api_daemon):
    made = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    status, raw = _call(api_daemon, "POST", f"/containers/{made}/exec", {"Cmd": ["true"]})
    assert status == 409 and json.loads(raw)["message"] == f"Container {made} is not running"
    cid = daemon(engine, ["sleep", "60"])
    status, raw = _call(api_daemon, "POST", f"/containers/{cid}/exec", {})
    assert status == 400 and json.loads(raw)["message"] == "No exec command specified"
    status, raw = _call(api_daemon, "POST", "/containers/nothing/exec", {"Cmd": ["true"]})
    assert status == 404 and json.loads(raw)["message"] == "No such container: nothing"
    status, raw = _call(api_daemon, "GET", "/exec/nothing/json")
    assert status == 404 and json.loads(raw)["message"] == "No such exec instance: nothing"


def test_detached_exec_answers_at_once_and_its_code_is_kept(engine, api_daemon):
    cid = daemon(engine, ["sleep", "60"])
    eid = _create(api_daemon, cid, {"Cmd": ["sh", "-c", "exit 3"]})
    status, raw = _call(api_daemon, "POST", f"/exec/{eid}/start", {"Detach": True})
    assert (status, raw) == (200, b"")

    def code():
        return json.loads(_call(api_daemon, "GET", f"/exec/{eid}/json")[1])["ExitCode"]

    assert wait_until(lambda: code() == 3, what="the exec's exit code")


def test_exec_with_a_tty_is_raw_and_resizes(engine, api_daemon):
    cid = daemon(engine, ["sleep", "60"])
    eid = _create(
        api_daemon,
        cid,
        {"Cmd": ["sh"], "Tty": True, "AttachStdin": True, "AttachStdout": True},
    )
    s, head = _hijack(api_daemon, f"/v1.44/exec/{eid}/start", b'{"Tty":true,"ConsoleSize":[20,50]}')
    assert b"Content-Type: application/vnd.docker.raw-stream\r\n" in head
    s.sendall(b"stty size\r")
    seen = b""
    while b"20 50" not in seen:
        chunk = s.recv(65536)
        assert chunk, seen
        seen += chunk
    status, _ = _call(api_daemon, "POST", f"/exec/{eid}/resize?h=31&w=91")
    assert status == 200
    s.sendall(b"stty size; exit 6\r")
    seen += _read_all(s)
    s.close()
    assert b"31 91" in seen and not seen.startswith(b"\x01\x00\x00\x00")
    assert json.loads(_call(api_daemon, "GET", f"/exec/{eid}/json")[1])["ExitCode"] == 6


def test_an_exec_client_that_goes_away_leaves_no_thread(engine, api_daemon):
    cid = daemon(engine, ["sleep", "60"])
    before = _threads(api_daemon)
    eid = _create(
        api_daemon, cid, {"Cmd": ["sh", "-c", "cat"], "AttachStdin": True, "AttachStdout": True}
    )
    s, _ = _hijack(api_daemon, f"/exec/{eid}/start", b"{}")
    s.close()  # gone: cat sees the end of its input, the exec ends
    assert wait_until(lambda: _threads(api_daemon) <= before, timeout=30, interval=0.2)
    assert json.loads(_call(api_daemon, "GET", f"/exec/{eid}/json")[1])["ExitCode"] == 0
    assert engine.inspect(cid)["State"]["Running"]


# ---- docker-py -----------------------------------------------------------------------------------
def test_docker_py_exec_run(engine, api_daemon):
    cid = daemon(engine, ["sleep", "60"])
    c = api_daemon.docker().containers.get(cid) if _has_inspect(api_daemon) else None
    api = api_daemon.client()
    if c is not None:
        code, out = c.exec_run(["sh", "-c", "echo out; echo err >&2; exit 2"])
        assert code == 2 and out == b"out\nerr\n"
        code, out = c.exec_run("sh -c 'tty; echo x'", tty=True)
        assert code == 0 and out.startswith(b"/dev/pts/") and out.endswith(b"x\r\n")
        result = c.exec_run(["sh", "-c", "echo a; echo b"], stream=True)
        assert b"".join(result.output) == b"a\nb\n"
        code, (out, err) = c.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
        assert (code, out, err) == (0, b"o\n", b"e\n")
    eid = api.exec_create(cid, ["cat"], stdin=True)["Id"]
    sock = api.exec_start(eid, socket=True)
    raw = sock._sock
    raw.sendall(b"through a socket\n")
    raw.shutdown(socket.SHUT_WR)
    frames = _frames(_read_all(raw))
    sock.close()
    assert b"".join(d for _, d in frames) == b"through a socket\n"
    assert api.exec_inspect(eid)["ExitCode"] == 0


def _has_inspect(d) -> bool:
    status, raw = _call(d, "GET", "/containers/nothing-here/json")
    return status == 404 and b"No such container" in raw


# ---- the docker CLIs -----------------------------------------------------------------------------
@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_exec(engine, api_daemon, exe):
    if not _has_inspect(api_daemon):
        pytest.skip("the daemon's container routes are not in this tree")
    cid = daemon(engine, ["sleep", "60"])
    done = api_daemon.cli("exec", cid, "sh", "-c", "echo out; echo err >&2; exit 3", docker=exe)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    done = api_daemon.cli("exec", "-i", cid, "cat", input="x\n", docker=exe)
    assert (done.returncode, done.stdout) == (0, "x\n")
    code, seen = _on_a_terminal(
        [exe, "exec", "-it", cid, "sh"],
        api_daemon.env,
        [(b"# ", b"echo $((6*7))\r"), (b"42", b"exit 4\r")],
    )
    assert code == 4, seen
