"""``/containers/…`` through a real ``dockerlab daemon``: docker-py (low and high level) and
the docker CLIs drive real containers over the socket, and see what the engine sees."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
import tarfile

import pytest
from daemon_fixture import DOCKER_CLIS
from daemon_fixture import body as _body
from daemon_fixture import status as _status
from daemon_fixture import unchunk as _unchunk
from helpers import wait_until

pytestmark = pytest.mark.timeout(180)


# ---- raw HTTP helpers ------------------------------------------------------------------------
def _headers(raw: bytes) -> dict[str, str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head)}


def _send(d, method: str, path: str) -> bytes:
    return d.request(f"{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n".encode())


def _post(d, path: str, body: bytes | None = None, ctype: str = "application/json") -> bytes:
    req = f"POST {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n".encode()
    if body is not None:
        req += f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n".encode()
    return d.request(req + b"\r\n" + (body or b""))


def _json(raw: bytes):
    body = _body(raw)
    if b"\r\n" in body and body[:1] not in (b"{", b"["):  # chunked
        body = _unchunk(body)
    return json.loads(body)


def _threads(client) -> int:
    return client.info()["NGoroutines"]


def _sleeper(client, name: str | None = None, **kw) -> str:
    c = client.create_container("busybox", ["sleep", "60"], name=name, **kw)
    client.start(c["Id"])
    return c["Id"]


# ---- create ----------------------------------------------------------------------------------
def test_create_start_inspect_with_docker_py(api_daemon, engine):
    client = api_daemon.client()
    made = client.create_container(
        "busybox", ["sleep", "60"], name="web1", labels={"team": "a"}, environment=["A=1"]
    )
    assert set(made) == {"Id", "Warnings"} and made["Warnings"] == []
    cid = made["Id"]
    info = client.inspect_container("web1")
    assert info["Id"] == cid and info["State"]["Status"] == "created"
    assert info["Config"]["Labels"] == {"team": "a"} and "A=1" in info["Config"]["Env"]
    assert info["Name"] == engine.inspect(cid)["Name"] == "/web1"
    client.start(cid)
    assert client.inspect_container(cid)["State"]["Running"] is True
    raw = _post(api_daemon, f"/v1.44/containers/{cid}/start")
    assert _status(raw) == 304  # already started
    raw = _send(api_daemon, "GET", f"/containers/{cid}/json?size=1")
    sized = _json(raw)
    assert sized["SizeRootFs"] >= sized["SizeRw"] >= 0
    client.stop(cid, timeout=1)
    assert _status(_post(api_daemon, f"/containers/{cid}/stop")) == 304  # already stopped
    assert client.inspect_container(cid)["State"]["Status"] == "exited"


def test_create_refusals_are_dockers(api_daemon):
    d = api_daemon
    raw = _post(d, "/containers/create", b'{"Image": "busybox:nope"}')
    assert _status(raw) == 404 and _json(raw) == {"message": "No such image: busybox:nope"}
    raw = _post(d, "/containers/create?name=taken", b'{"Image": "busybox", "Cmd": ["true"]}')
    assert _status(raw) == 201
    first = _json(raw)["Id"]
    raw = _post(d, "/containers/create?name=taken", b'{"Image": "busybox", "Cmd": ["true"]}')
    assert _status(raw) == 409
    assert _json(raw)["message"].startswith('Conflict. The container name "/taken" is already')
    assert first in _json(raw)["message"]
    for body, words in [
        (b"[1]", "cannot unmarshal array into Go value of type"),
        (b'{"Image": 5}', "ContainerConfigWrapper.Image of type string"),
        (b'{"Image": "busybox", "Tty": 1}', "ContainerConfigWrapper.Tty of type bool"),
        (b'{"Image": "busybox", "Env": "A=1"}', "ContainerConfigWrapper.Env of type []string"),
        (b'{"Image": "busybox", "HostConfig": {"Memory": 1.5}}', "number 1.5 into Go struct"),
        (b'{"Image": "busybox",', "invalid JSON"),
    ]:
        raw = _post(d, "/containers/create", body)
        assert _status(raw) == 400, body
        assert words in _json(raw)["message"], (body, raw)
    raw = _post(d, "/containers/create", b'{"Image": "busybox"}', ctype="text/plain")
    assert _status(raw) == 400 and "must be 'application/json'" in _json(raw)["message"]
    raw = _post(d, "/containers/create?name=bad/name", b'{"Image": "busybox"}')
    assert _status(raw) == 400 and "Invalid container name (bad/name)" in _json(raw)["message"]
    raw = _post(d, "/containers/create?platform=linux/arm64", b'{"Image": "busybox"}')
    assert _status(raw) == 404 and "does not match the specified platform" in raw.decode()
    # unknown fields are ignored; a string Cmd is one argument (Go's StrSlice)
    body = b'{"Image": "busybox", "Cmd": "echo hi", "Bogus": 1, "HostConfig": {"Nope": true}}'
    raw = _post(d, "/containers/create?name=odd", body)
    assert _status(raw) == 201, raw
    info = d.client().inspect_container("odd")
    assert info["Config"]["Cmd"] == ["echo hi"] and info["Path"] == "echo hi"
    assert "Nope" not in info["HostConfig"] and "Bogus" not in info["Config"]
    assert d.client().ping() is True


# ---- the high-level client -------------------------------------------------------------------
def test_run_detached_logs_wait_and_remove_with_docker_py(api_daemon):
    docker = api_daemon.docker()
    c = docker.containers.run(
        "busybox", ["sh", "-c", "echo out; echo err >&2; exit 3"], detach=True, name="job"
    )
    assert c.wait(timeout=60) == {"StatusCode": 3, "Error": None}
    assert c.logs() == b"out\nerr\n"
    assert c.logs(stdout=True, stderr=False) == b"out\n"
    assert c.logs(stdout=False, stderr=True) == b"err\n"
    stamped = c.logs(timestamps=True, tail=1).decode()
    assert stamped.endswith("Z err\n") and len(stamped.split(" ")[0]) == 30
    c.reload()
    assert c.status == "exited" and c.attrs["State"]["ExitCode"] == 3
    assert [x.name for x in docker.containers.list(all=True)] == ["job"]
    assert docker.containers.list() == []
    c.remove()
    assert docker.containers.list(all=True) == []


def test_follow_logs_end_when_the_container_stops(api_daemon):
    client = api_daemon.client()
    cid = client.create_container(
        "busybox", ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done"]
    )["Id"]
    client.start(cid)
    got = b"".join(client.logs(cid, stream=True, follow=True))
    assert got == b"line1\nline2\nline3\n"


def test_tty_logs_are_raw(api_daemon):
    client = api_daemon.client()
    cid = client.create_container("busybox", ["echo", "tty"], tty=True)["Id"]
    client.start(cid)
    client.wait(cid)
    raw = _send(api_daemon, "GET", f"/containers/{cid}/logs?stdout=1")
    assert _unchunk(_body(raw)) == b"tty\r\n"  # no frame header
    raw = _send(api_daemon, "GET", f"/containers/{cid}/logs")
    assert _status(raw) == 400
    assert _json(raw)["message"] == "Bad parameters: you must choose at least one stream"


def test_lifecycle_verbs_through_docker_py(api_daemon):
    docker = api_daemon.docker()
    c = docker.containers.run("busybox", ["sleep", "60"], detach=True, name="life")
    c.pause()
    c.reload()
    assert c.status == "paused"
    c.unpause()
    c.reload()
    assert c.status == "running"
    top = c.top()
    assert "PID" in top["Titles"] and any("sleep" in " ".join(p) for p in top["Processes"])
    c.rename("life2")
    c.reload()
    assert c.name == "life2"
    c.update(mem_limit="64m", memswap_limit="128m")
    assert c.attrs["HostConfig"]["Memory"] == 0  # (the old attrs); reload shows the new
    c.reload()
    assert c.attrs["HostConfig"]["Memory"] == 64 << 20
    c.restart(timeout=1)
    c.reload()
    assert c.status == "running" and c.attrs["RestartCount"] == 0
    c.kill(signal="SIGKILL")
    assert c.wait(timeout=60)["StatusCode"] == 137
    c.start()
    c.stop(timeout=1)
    c.reload()
    assert c.status == "exited"
    c.remove()
    with pytest.raises(Exception) as err:
        docker.containers.get("life2")
    assert err.value.response.status_code == 404


def test_kill_and_remove_refusals(api_daemon):
    client = api_daemon.client()
    cid = client.create_container("busybox", ["sleep", "60"], name="idle")["Id"]
    raw = _post(api_daemon, "/containers/idle/kill")
    assert _status(raw) == 409 and "is not running" in _json(raw)["message"]
    client.start(cid)
    raw = _post(api_daemon, "/containers/idle/kill?signal=FOO")
    assert _status(raw) == 400 and _json(raw)["message"] == "Invalid signal: FOO"
    raw = api_daemon.request(
        b"DELETE /containers/idle HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
    )
    assert _status(raw) == 409 and "stop the container" in _json(raw)["message"]
    raw = api_daemon.request(
        b"DELETE /containers/idle?force=1&v=1 HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
    )
    assert _status(raw) == 204
    raw = _post(api_daemon, "/containers/idle/wait")
    assert _status(raw) == 404 and _json(raw) == {"message": "No such container: idle"}
    raw = _post(api_daemon, "/containers/nope/rename?name=xx")
    assert _status(raw) == 404


def test_stats_top_diff_export_prune(api_daemon, tmp_path):
    client = api_daemon.client()
    cid = client.create_container("busybox", ["sh", "-c", "touch /made; sleep 60"])["Id"]
    client.start(cid)
    wait_until(lambda: client.diff(cid), what="the container's change")
    assert {"Path": "/made", "Kind": 1} in client.diff(cid)
    one = client.stats(cid, stream=False)
    assert one["id"] == cid and one["precpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert "_monotonic" not in one and one["memory_stats"]["usage"] > 0
    shot = client.stats(cid, stream=False, one_shot=True)
    assert shot["precpu_stats"]["cpu_usage"]["total_usage"] == 0
    stream = client.stats(cid, decode=True)
    first, second = next(stream), next(stream)
    assert second["precpu_stats"] == first["cpu_stats"]
    stream.close()
    exported = b"".join(client.export(cid))
    names = tarfile.open(fileobj=io.BytesIO(exported)).getnames()
    assert "made" in names and "bin/busybox" in names
    client.kill(cid)
    client.wait(cid)
    other = client.create_container("busybox", ["true"], labels={"keep": "1"})["Id"]
    pruned = client.prune_containers(filters={"label!": "keep"})
    assert pruned["ContainersDeleted"] == [cid] and pruned["SpaceReclaimed"] >= 0
    assert [c["Id"] for c in client.containers(all=True)] == [other]
    same = client.create_container("busybox", ["true"])["Id"]
    assert client.diff(same) is None  # Docker's null for nothing changed


def test_list_filters_limit_and_size(api_daemon):
    client = api_daemon.client()
    a = client.create_container("busybox", ["true"], name="aa", labels={"x": "1"})["Id"]
    b = client.create_container("busybox", ["true"], name="bb")["Id"]
    assert [c["Id"] for c in client.containers(all=True)] == [b, a]
    assert [c["Id"] for c in client.containers(all=True, limit=1)] == [b]
    assert [c["Id"] for c in client.containers(all=True, filters={"label": "x=1"})] == [a]
    assert [c["Id"] for c in client.containers(all=True, filters={"name": "bb"})] == [b]
    sized = client.containers(all=True, size=True)
    assert all("SizeRootFs" in c for c in sized)
    raw = api_daemon.request(
        b'GET /containers/json?all=1&filters={"bogus":["x"]} HTTP/1.1\r\nHost: d\r\n'
        b"Connection: close\r\n\r\n"
    )
    assert _status(raw) == 400 and _json(raw) == {"message": "Invalid filter 'bogus'"}


# ---- wait --------------------------------------------------------------------------------------
class _RawWait:
    """A wait request whose headers are read (so the daemon watches) before the test goes on."""

    def __init__(self, d, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(60)
        self.sock.connect(d.sock)
        self.sock.sendall(f"POST {path} HTTP/1.1\r\nHost: d\r\n\r\n".encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            got = self.sock.recv(4096)
            assert got, "the daemon closed the wait"
            self.buf += got
        self.head, self.buf = self.buf.split(b"\r\n\r\n", 1)

    def result(self) -> dict:
        while not self.buf.endswith(b"\r\n0\r\n\r\n"):
            got = self.sock.recv(4096)
            assert got, "the daemon closed the wait"
            self.buf += got
        self.sock.close()
        return json.loads(_unchunk(self.buf))


def test_wait_next_exit_is_watched_before_the_start(api_daemon):
    client = api_daemon.client()
    cid = client.create_container("busybox", ["sh", "-c", "exit 7"])["Id"]
    w = _RawWait(api_daemon, f"/containers/{cid}/wait?condition=next-exit")
    assert w.head.startswith(b"HTTP/1.1 200")  # the headers come at once
    client.start(cid)
    assert w.result() == {"StatusCode": 7, "Error": None}
    assert client.inspect_container(cid)["State"]["Status"] == "exited"
    # not-running on a stopped container answers at once; next-exit waits for the next run
    assert client.wait(cid) == {"StatusCode": 7, "Error": None}
    w = _RawWait(api_daemon, f"/containers/{cid}/wait?condition=next-exit")
    client.start(cid)
    assert w.result()["StatusCode"] == 7


def test_wait_removed_answers_once_an_autoremove_container_is_gone(api_daemon, engine):
    client = api_daemon.client()
    hc = client.create_host_config(auto_remove=True)
    cid = client.create_container("busybox", ["sh", "-c", "exit 4"], host_config=hc)["Id"]
    w = _RawWait(api_daemon, f"/containers/{cid}/wait?condition=removed")
    client.start(cid)
    assert w.result() == {"StatusCode": 4, "Error": None}
    assert cid not in engine.container_ids()


def test_a_failed_start_removes_an_autoremove_container(api_daemon, engine):
    client = api_daemon.client()
    hc = client.create_host_config(auto_remove=True)
    cid = client.create_container("busybox", ["/no/such/cmd"], host_config=hc)["Id"]
    w = _RawWait(api_daemon, f"/containers/{cid}/wait?condition=removed")
    raw = _post(api_daemon, f"/containers/{cid}/start")
    assert _status(raw) == 400 and "no such file or directory" in raw.decode()
    assert "StatusCode" in w.result()  # (Docker's daemon tells no exit for a failed start)
    assert cid not in engine.container_ids()


# ---- archive ----------------------------------------------------------------------------------
def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o640
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_put_and_get_archive_with_docker_py(api_daemon):
    client = api_daemon.client()
    cid = client.create_container("busybox", ["sleep", "60"])["Id"]
    assert client.put_archive(cid, "/tmp", _tar({"a.txt": b"stopped\n"})) is True
    client.start(cid)
    assert client.put_archive(cid, "/tmp", _tar({"b.txt": b"running\n"})) is True
    stream, stat = client.get_archive(cid, "/tmp/a.txt")
    assert stat["name"] == "a.txt" and stat["size"] == 8 and stat["mode"] == 0o640
    tf = tarfile.open(fileobj=io.BytesIO(b"".join(stream)))
    assert tf.extractfile("a.txt").read() == b"stopped\n"
    stream, stat = client.get_archive(cid, "/tmp")
    assert stat["mode"] & (1 << 31) and stat["name"] == "tmp"
    names = tarfile.open(fileobj=io.BytesIO(b"".join(stream))).getnames()
    assert {"tmp/a.txt", "tmp/b.txt"} <= set(names)
    raw = _send(api_daemon, "HEAD", f"/containers/{cid}/archive?path=/etc/passwd")
    head = _headers(raw)
    stat = json.loads(base64.b64decode(head["x-docker-container-path-stat"]))
    assert set(stat) == {"name", "size", "mode", "mtime", "linkTarget"} and stat["name"] == "passwd"
    raw = _send(api_daemon, "GET", f"/containers/{cid}/archive?path=/nope")
    assert _status(raw) == 404
    assert _json(raw) == {"message": f"Could not find the file /nope in container {cid}"}
    raw = _send(api_daemon, "GET", f"/containers/{cid}/archive")
    assert _status(raw) == 400
    put = _tar({"x": b"1"})
    raw = api_daemon.request(
        f"PUT /containers/{cid}/archive?path=/etc/passwd HTTP/1.1\r\nHost: d\r\n"
        f"Content-Length: {len(put)}\r\nConnection: close\r\n\r\n".encode()
        + put
    )
    assert _status(raw) == 400
    assert _json(raw) == {"message": "extraction point is not a directory"}


def test_put_archive_streams_a_large_chunked_body(api_daemon):
    """A chunked tar bigger than any JSON body limit, sent as the CLI sends it."""
    client = api_daemon.client()
    cid = _sleeper(client)
    big = _tar({"big.bin": os.urandom(1 << 20) * 40})  # 40 MiB
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(60)
        s.connect(api_daemon.sock)
        s.sendall(
            f"PUT /containers/{cid}/archive?path=/tmp&noOverwriteDirNonDir=true HTTP/1.1\r\n"
            "Host: d\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode()
        )
        for i in range(0, len(big), 1 << 20):
            part = big[i : i + (1 << 20)]
            s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        s.sendall(b"0\r\n\r\n")
        raw = b""
        while got := s.recv(65536):
            raw += got
    assert _status(raw) == 200, raw
    _, stat = client.get_archive(cid, "/tmp/big.bin")
    assert stat["size"] == 40 << 20


# ---- threads: a client that leaves mid-stream -------------------------------------------------
def _leave_mid_stream(d, path: str, wait_for: bytes) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(60)
        s.connect(d.sock)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: d\r\n\r\n".encode())
        buf = b""
        while wait_for not in buf:
            got = s.recv(65536)
            assert got, buf
            buf += got


@pytest.mark.parametrize(
    "what",
    ["logs?follow=1&stdout=1&stderr=1", "stats", "wait", "export"],
)
def test_a_client_leaving_mid_stream_leaves_no_thread(api_daemon, what):
    client = api_daemon.client()
    cid = client.create_container("busybox", ["sh", "-c", "echo hello; sleep 60"])["Id"]
    client.start(cid)
    wait_until(lambda: client.logs(cid), what="the first line")
    before = _threads(client)
    if what == "wait":
        w = _RawWait(api_daemon, f"/containers/{cid}/wait")
        w.sock.close()
    else:
        marks = {"stats": b"}", "export": b"bin/"}
        _leave_mid_stream(api_daemon, f"/containers/{cid}/{what}", marks.get(what, b"hello"))
    wait_until(lambda: _threads(client) <= before, what=f"the daemon's threads after {what}")
    assert client.inspect_container(cid)["State"]["Running"] is True


# ---- the same containers as the dockerlab CLI ----------------------------------------------------
def _dockerlab(root: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dockerlab", "--root", root, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_socket_and_the_dockerlab_cli_share_their_containers(api_daemon):
    client = api_daemon.client()
    client.create_container("busybox", ["true"], name="from-socket")
    done = _dockerlab(api_daemon.root, "ps", "-a", "--format", "{{.Names}}")
    assert done.returncode == 0 and "from-socket" in done.stdout.split()
    done = _dockerlab(api_daemon.root, "run", "-d", "--name", "from-cli", "busybox", "sleep", "60")
    assert done.returncode == 0, done.stderr
    info = client.inspect_container("from-cli")
    assert info["Id"] == done.stdout.strip() and info["State"]["Running"] is True


# ---- the docker CLIs ----------------------------------------------------------------------------
@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_cli_run_ps_inspect_logs_stop_rm(api_daemon, exe):
    d = api_daemon

    def docker(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = d.cli(*args, docker=exe)
        if ok:
            assert done.returncode == 0, (args, done.stderr)
        return done

    cid = docker("run", "-d", "--name", "web", "busybox", "sh", "-c", "echo hi; sleep 60")
    cid = cid.stdout.strip()
    assert len(cid) == 64
    assert docker("ps", "-q", "--no-trunc").stdout.split() == [cid]
    shown = docker("ps", "-a", "--format", "{{.Names}} {{.Image}} {{.Status}}").stdout
    assert shown.startswith("web busybox Up ")
    assert docker("inspect", "-f", "{{.State.Running}} {{.Name}}", "web").stdout == "true /web\n"
    wait_until(lambda: docker("logs", "web").stdout == "hi\n", what="the log line")
    assert "sleep 60" in docker("top", "web").stdout
    docker("stop", "-t", "1", "web")
    assert docker("wait", "web").stdout.strip() in ("137", "143")
    docker("rename", "web", "web2")
    docker("rm", "web2")
    assert docker("ps", "-aq").stdout == ""
    done = docker("rm", "web2", ok=False)
    assert done.returncode == 1 and "No such container: web2" in done.stderr


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_cli_kill_rm_f_wait_stats_diff_export(api_daemon, exe, tmp_path):
    d = api_daemon

    def docker(*args: str, **kw) -> subprocess.CompletedProcess:
        done = d.cli(*args, docker=exe, **kw)
        assert done.returncode == 0, (args, done.stderr)
        return done

    docker("run", "-d", "--name", "kk", "busybox", "sh", "-c", "touch /k; sleep 60")
    docker("kill", "kk")
    assert docker("wait", "kk").stdout == "137\n"
    assert "A /k" in docker("diff", "kk").stdout.splitlines()
    out = tmp_path / "k.tar"
    docker("export", "-o", str(out), "kk")
    assert "k" in tarfile.open(out).getnames()
    docker("start", "kk")
    stats = docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "kk").stdout
    assert stats.startswith("kk ") and "iB / " in stats
    docker("rm", "-f", "kk")
    assert docker("ps", "-aq").stdout == ""


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_cli_cp_both_ways(api_daemon, exe, tmp_path):
    d = api_daemon

    def docker(*args: str) -> subprocess.CompletedProcess:
        done = d.cli(*args, docker=exe)
        assert done.returncode == 0, (args, done.stderr)
        return done

    docker("run", "-d", "--name", "cc", "busybox", "sleep", "60")
    src = tmp_path / "in"
    src.mkdir()
    (src / "f.txt").write_text("to the container\n")
    docker("cp", str(src), "cc:/tmp/")
    stream, _ = d.client().get_archive("cc", "/tmp/in/f.txt")
    tf = tarfile.open(fileobj=io.BytesIO(b"".join(stream)))
    assert tf.extractfile("f.txt").read() == b"to the container\n"
    back = tmp_path / "back"
    docker("cp", "cc:/tmp/in", str(back))
    assert (back / "f.txt").read_text() == "to the container\n"
    docker("cp", "cc:/etc/hostname", str(tmp_path / "hn"))
    assert (tmp_path / "hn").read_text().strip()
    done = d.cli("cp", "cc:/nope", str(tmp_path / "x"), docker=exe)
    assert done.returncode == 1
    # 20.10's client words the HEAD's 404 itself (a HEAD has no body), as with Docker's daemon
    assert (
        "Could not find the file /nope in container cc" in done.stderr
        or "No such container:path: cc:/nope" in done.stderr
    )


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_cli_run_rm_whose_start_fails_does_not_hang(api_daemon, exe):
    """The CLI waits (condition=removed) for a ``--rm`` container whose start failed: the
    daemon removes it, as Docker's does, and the wait answers."""
    done = api_daemon.cli("run", "-d", "--rm", "busybox", "/no/such", docker=exe, timeout=60)
    assert done.returncode == 127, done.stderr
    assert "no such file or directory" in done.stderr
    assert api_daemon.cli("ps", "-aq", docker=exe).stdout == ""
