"""``POST /build`` of ``dockerlab daemon``: Docker's classic-builder JSON stream to docker-py
and to the docker CLIs (``DOCKER_BUILDKIT=0``), a failing step in Docker's words, the
context's size limit, a remote context refused, and a client that hangs up mid-build
(the RUN stopped and its container removed, no image made, no thread left)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import tarfile

import pytest
from daemon_fixture import DOCKER_CLIS, Daemon, api_daemon, unchunk
from helpers import wait_until

__all__ = ["api_daemon"]  # fixture

pytestmark = pytest.mark.timeout(240)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _post_build(sock: str, query: str, body: bytes, chunked: bool = False) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(sock)
    head = f"POST /v1.41/build?{query} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
    if chunked:
        s.sendall(head.encode() + b"Transfer-Encoding: chunked\r\n\r\n")
        s.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    else:
        s.sendall(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return s


def _read_all(s: socket.socket) -> bytes:
    out = b""
    while True:
        got = s.recv(65536)
        if not got:
            return out
        out += got
        if out.endswith(b"\r\n0\r\n\r\n"):
            return out


def _messages(raw: bytes) -> list[dict]:
    """The JSON objects of a chunked response."""
    data, out = unchunk(raw.split(b"\r\n\r\n", 1)[1]), []
    for line in data.splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def test_docker_py_builds_from_a_fileobj_and_a_path(api_daemon, engine, tmp_path):
    client = api_daemon.docker()
    dockerfile = io.BytesIO(b"FROM busybox\nARG WHO=nobody\nRUN echo hi $WHO > /hi\n")
    image, logs = client.images.build(
        fileobj=dockerfile, tag="fromfile:1", buildargs={"WHO": "lab"}, labels={"k": "v"}
    )
    logs = list(logs)
    assert {"stream": "Step 1/4 : FROM busybox\n"} in logs  # labels: a LABEL step
    assert {"aux": {"ID": image.id}} in logs
    assert {"stream": "Successfully tagged fromfile:1\n"} in logs
    assert image.tags == ["fromfile:1"]
    info = engine.image_inspect("fromfile:1")  # the image dockerlab images lists
    assert info["Id"] == image.id and info["Config"]["Labels"] == {"k": "v"}
    # a folder (docker-py tars it, with .dockerignore), a named Dockerfile, a target stage
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "data.txt").write_text("payload\n")
    (ctx / "secret.txt").write_text("no\n")
    (ctx / ".dockerignore").write_text("secret.txt\n")
    (ctx / "Build.file").write_text(
        "FROM busybox AS first\nCOPY data.txt /data.txt\nFROM busybox AS second\nRUN false\n"
    )
    image, _ = client.images.build(
        path=str(ctx), dockerfile="Build.file", target="first", tag="frompath:1", rm=True
    )
    assert engine.file_at_layer("frompath:1", len(engine.image_layers("frompath:1")) - 1,
                                "/data.txt") == b"payload\n"  # fmt: skip
    # resources of the RUN containers (moby's build options memory, cpushares …)
    limit = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    _, logs = client.images.build(
        fileobj=io.BytesIO(f"FROM busybox\nRUN cat {limit}\n".encode()),
        container_limits={"memory": 64 << 20, "cpushares": 512},
    )
    assert {"stream": f"{64 << 20}\n"} in list(logs)
    # quiet: the image ID is the stream's only line (and the aux)
    api = client.api
    out = list(api.build(fileobj=io.BytesIO(b"FROM busybox\nENV Q=1\n"), quiet=True, decode=True))
    ids = [m["aux"]["ID"] for m in out if "aux" in m]
    assert [m for m in out if "stream" in m] == [{"stream": ids[0] + "\n"}]


def test_a_failing_step_in_dockers_words(api_daemon, engine):
    docker = pytest.importorskip("docker")
    client = api_daemon.docker()
    before = {i["Id"] for i in engine.images(all=True)}
    with pytest.raises(docker.errors.BuildError) as exc:
        client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 3\n"))
    assert str(exc.value) == "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    raw = _read_all(
        _post_build(api_daemon.sock, "", _tar({"Dockerfile": b"FROM busybox\nRUN false\n"}))
    )
    msg = "The command '/bin/sh -c false' returned a non-zero code: 1"
    assert _messages(raw)[-1] == {"errorDetail": {"message": msg, "code": 1}, "error": msg}
    # before the first step: an error status, as moby's
    raw = _read_all(_post_build(api_daemon.sock, "dockerfile=Nope", _tar({"Dockerfile": b""})))
    assert raw.startswith(b"HTTP/1.1 500") or raw.startswith(b"HTTP/1.1 400"), raw[:200]
    raw = api_daemon.request(
        b"POST /build?remote=https://example.invalid/ctx.tar HTTP/1.1\r\nHost: d\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    assert raw.startswith(b"HTTP/1.1 400") and b"remote context" in raw
    assert {i["Id"] for i in engine.images(all=True)} == before


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_cli_legacy_build(api_daemon, engine, tmp_path, exe):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM busybox\nCOPY hello /hello\nCMD ["cat", "/hello"]\n')
    (ctx / "hello").write_text("hi\n")
    r = _legacy_build(api_daemon, exe, str(ctx), "-t", "x", "-t", "y:2", ".")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Sending build context to Docker daemon")
    assert "Step 1/3 : FROM busybox" in lines and 'Step 3/3 : CMD ["cat", "/hello"]' in lines
    built = engine.image_inspect("x")["Id"]
    assert f"Successfully built {built[7:19]}" in lines
    assert lines[-2:] == ["Successfully tagged x:latest", "Successfully tagged y:2"]
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN false\n")
    r = _legacy_build(api_daemon, exe, str(ctx), ".")
    assert r.returncode == 1
    assert "The command '/bin/sh -c false' returned a non-zero code: 1" in r.stderr
    r = _legacy_build(api_daemon, exe, str(ctx), "-q", "-t", "q", ".")
    assert r.returncode == 1 and r.stdout == ""  # quiet: the steps only on a failure, stderr
    assert "Step 2/2 : RUN false" in r.stderr


def test_the_context_has_a_limit(engine, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    os.environ["DOCKERLAB_BUILD_CONTEXT_LIMIT"] = "65536"
    try:
        d = Daemon(engine.paths.root, str(folder))
    finally:
        del os.environ["DOCKERLAB_BUILD_CONTEXT_LIMIT"]
    try:
        body = _tar({"Dockerfile": b"FROM busybox\n", "big": os.urandom(200_000)})
        s = _post_build(d.sock, "t=big", body, chunked=True)
        raw = _read_all(s)
        s.close()
        assert raw.startswith(b"HTTP/1.1 413"), raw[:200]
        assert b"larger than the daemon's limit of 65536 bytes" in raw
        assert d.client().ping() is True
        assert "big:latest" not in [t for i in engine.images() for t in i["RepoTags"]]
    finally:
        d.stop()


def _legacy_build(api_daemon, exe: str, cwd: str, *args: str) -> subprocess.CompletedProcess:
    env = {**api_daemon.env, "DOCKER_BUILDKIT": "0"}
    return subprocess.run(
        [exe, "build", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_a_client_gone_mid_build_stops_it(api_daemon, engine):
    client = api_daemon.client()
    assert client.ping()
    baseline = _threads(api_daemon.proc.pid)
    before = {i["Id"] for i in engine.images(all=True)}
    dockerfile = b"FROM busybox\nRUN touch /started && sleep 60\nRUN echo never\n"
    s = _post_build(api_daemon.sock, "t=gone", _tar({"Dockerfile": dockerfile}), chunked=True)
    seen = b""
    while b"Running in" not in seen:
        got = s.recv(4096)
        assert got, seen
        seen += got
    wait_until(lambda: [c for c in engine.containers() if c["State"] == "running"],
               what="the RUN container")  # fmt: skip
    s.close()  # the client hangs up while the RUN is silent
    wait_until(lambda: engine.containers(all=True) == [], timeout=30,
               what="the build's container to be stopped and removed")  # fmt: skip
    assert {i["Id"] for i in engine.images(all=True)} == before  # no image half-made
    wait_until(lambda: _threads(api_daemon.proc.pid) <= baseline, timeout=30,
               what="the daemon's build threads to end")  # fmt: skip
    assert client.ping()
