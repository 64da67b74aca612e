"""The image endpoints of ``dockerlab daemon`` driven by docker-py and the docker CLIs: list,
inspect, history, tag, rmi, prune, save/load, import, commit, and pull/push/login/search
against a real registry (Debian's docker-registry). What a client does through the socket is
what the engine (and so ``dockerlab images``) sees."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from daemon_fixture import DOCKER_CLIS, api_daemon
from daemon_fixture import status as _status
from registry_fixture import PASSWORD, USER, auth_registry, registry

__all__ = ["api_daemon", "auth_registry", "registry"]  # fixtures

pytestmark = pytest.mark.timeout(240)

BUSYBOX = "busybox:latest"


def _get(api_daemon, path: str) -> tuple[int, object]:
    raw = api_daemon.request(
        f"GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n".encode()
    )
    body = raw.split(b"\r\n\r\n", 1)[1]
    return _status(raw), json.loads(body) if body.strip() else None


def _lines(chunks) -> list[dict]:
    """A JSON message stream from docker-py (decoded or not) as its objects."""
    out = []
    for c in chunks:
        if isinstance(c, dict):
            out.append(c)
            continue
        for line in c.decode().splitlines():
            if line.strip():
                out.append(json.loads(line))
    return out


def test_docker_py_list_inspect_tag_history_remove(api_daemon, engine):
    client = api_daemon.docker()
    listed = client.images.list()
    assert [i.tags for i in listed] == [[BUSYBOX]]
    image = client.images.get("busybox")
    assert image.id == engine.image_inspect("busybox")["Id"]
    assert image.tag("lab/bb", "v1") is True
    assert sorted(client.images.get("lab/bb:v1").tags) == ["busybox:latest", "lab/bb:v1"]
    assert "lab/bb:v1" in [t for i in engine.images() for t in i["RepoTags"]]
    history = image.history()
    assert history[0]["Id"] == image.id and history[0]["Tags"] == ["busybox:latest", "lab/bb:v1"]
    assert client.images.list(name="lab/bb")[0].id == image.id  # the reference filter
    assert client.api.remove_image("lab/bb:v1") == [{"Untagged": "lab/bb:v1"}]
    with pytest.raises(__import__("docker").errors.ImageNotFound) as exc:
        client.images.get("nothere")
    assert "No such image: nothere" in str(exc.value)
    # API 1.44 answers without VirtualSize; shared-size counts what other images share
    status, raw = _get(api_daemon, "/v1.44/images/json?shared-size=1")
    assert status == 200 and "VirtualSize" not in raw[0] and raw[0]["SharedSize"] == 0
    status, raw = _get(api_daemon, "/v1.41/images/json")
    assert raw[0]["VirtualSize"] == raw[0]["Size"] and raw[0]["SharedSize"] == -1


def test_remove_in_use_prune_and_errors(api_daemon, engine):
    docker = pytest.importorskip("docker")
    client = api_daemon.docker()
    cid = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    with pytest.raises(docker.errors.APIError) as exc:
        client.images.remove("busybox")
    assert exc.value.status_code == 409 and cid[:12] in str(exc.value)
    engine.remove(cid)
    # an untagged image is dangling: prune takes it
    body = {"Image": "busybox", "Cmd": ["sh", "-c", "echo x > /f"]}
    cid, _ = engine.run(body, attach="")
    engine.wait(cid)
    dangling = engine.commit(cid)
    engine.remove(cid)
    got = client.images.prune()
    assert {"Deleted": dangling} in got["ImagesDeleted"]
    assert dangling not in [i["Id"] for i in engine.images(all=True)]
    status, raw = _get(api_daemon, "/images/search?term=x&limit=200")
    assert (status, raw) == (400, {"message": "Limit 200 is outside the range of [1, 100]"})


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_cli_images_tag_history_inspect_rmi(api_daemon, engine, exe):
    r = api_daemon.cli("tag", "busybox", "cli/bb:2", docker=exe)
    assert r.returncode == 0, r.stderr
    r = api_daemon.cli("images", "--format", "{{.Repository}}:{{.Tag}}", docker=exe)
    assert sorted(r.stdout.split()) == ["busybox:latest", "cli/bb:2"]
    r = api_daemon.cli("history", "-q", "cli/bb:2", docker=exe)
    assert r.stdout.split()[0] == engine.image_inspect("busybox")["Id"][7:19]
    r = api_daemon.cli("inspect", "--format", "{{.Id}} {{.Os}}", "cli/bb:2", docker=exe)
    assert r.stdout.strip() == engine.image_inspect("busybox")["Id"] + " linux"
    r = api_daemon.cli("rmi", "cli/bb:2", docker=exe)
    assert (r.returncode, r.stdout) == (0, "Untagged: cli/bb:2\n")
    r = api_daemon.cli("rmi", "nothere", docker=exe)
    assert r.returncode == 1
    assert "No such image: nothere" in r.stderr  # 20.10 words a 404 itself


def test_save_load_round_trip(api_daemon, engine, tmp_path):
    client = api_daemon.docker()
    image = client.images.get("busybox")
    data = b"".join(image.save(named=True))
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert "manifest.json" in tf.getnames()
    engine.image_remove("busybox")
    assert engine.images() == []
    loaded = client.images.load(data)
    assert [i.id for i in loaded] == [image.id]
    assert engine.image_inspect("busybox:latest")["Id"] == image.id
    # the CLI: save several to a file (GET /images/get?names=…), load from it
    engine.image_tag("busybox", "two:1")
    exe = DOCKER_CLIS[0] if DOCKER_CLIS else pytest.skip("no docker client installed")
    out = tmp_path / "both.tar"
    r = api_daemon.cli("save", "-o", str(out), "busybox", "two:1", docker=exe)
    assert r.returncode == 0, r.stderr
    engine.image_remove("two:1")
    r = api_daemon.cli("load", "-i", str(out), docker=exe)
    assert r.returncode == 0, r.stderr
    assert "Loaded image: two:1" in r.stdout and "Loaded image: busybox:latest" in r.stdout
    r = api_daemon.cli("save", "nothere", docker=exe)
    assert r.returncode == 1 and "No such image: nothere" in r.stderr


def test_import_and_commit(api_daemon, engine, tmp_path):
    client = api_daemon.docker()
    # docker import - (the body is the tar), with changes and a message
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("hello.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
    exe = DOCKER_CLIS[0] if DOCKER_CLIS else pytest.skip("no docker client installed")
    r = api_daemon.cli(
        "import", "-c", "ENV IMPORTED=1", "-m", "from a tar", "-", "imp:1",
        docker=exe, input=buf.getvalue().decode("latin-1"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    got = engine.image_inspect("imp:1")
    assert r.stdout.strip() == got["Id"] and got["Config"]["Env"] == ["IMPORTED=1"]
    assert got["Comment"] == "from a tar"
    out = client.api.import_image_from_data(buf.getvalue(), repository="imp", tag="2")
    assert json.loads(out)["status"] == engine.image_inspect("imp:2")["Id"]
    # commit: docker-py with a Config body, changes, comment and author
    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sh", "-c", "echo x > /made"]}, attach="")
    engine.wait(cid)
    res = client.api.commit(
        cid,
        repository="made",
        tag="v1",
        message="a commit",
        author="lab <lab@example>",
        changes=["ENV A=1"],
        conf={"Labels": {"course": "1.5"}},
    )
    got = engine.image_inspect("made:v1")
    assert res == {"Id": got["Id"]}
    assert got["Comment"] == "a commit" and got["Author"] == "lab <lab@example>"
    assert got["Config"]["Labels"] == {"course": "1.5"} and "A=1" in got["Config"]["Env"]
    r = api_daemon.cli("commit", cid[:12], "made:v2", docker=exe)
    assert r.returncode == 0 and r.stdout.strip() == engine.image_inspect("made:v2")["Id"]
    r = api_daemon.cli("commit", "nothere", "x", docker=exe)
    assert r.returncode == 1 and "No such container: nothere" in r.stderr
    engine.remove(cid)


def test_pull_and_push_through_a_registry(api_daemon, engine, registry):
    docker = pytest.importorskip("docker")
    client = api_daemon.docker()
    ref = f"{registry.addr}/lab/bb"
    engine.image_tag("busybox", f"{ref}:1")
    msgs = _lines(client.api.push(ref, tag="1", stream=True, decode=True))
    assert msgs[0] == {"status": f"The push refers to repository [{ref}]"}
    assert any(m.get("status") == "Pushed" for m in msgs), msgs
    digest, size = msgs[-1]["aux"]["Digest"], msgs[-1]["aux"]["Size"]
    assert msgs[-1]["aux"] == {"Tag": "1", "Digest": digest, "Size": msgs[-1]["aux"]["Size"]}
    image_id = engine.image_inspect("busybox")["Id"]
    engine.image_remove(f"{ref}:1")
    pulled = client.images.pull(ref, tag="1")
    assert pulled.id == image_id
    assert f"{ref}:1" in [t for i in engine.images() for t in i["RepoTags"]]  # dockerlab images
    msgs = _lines(client.api.pull(ref, tag="1", stream=True, decode=True))
    assert msgs[0] == {"status": "Pulling from lab/bb", "id": "1"}
    assert msgs[-1] == {"status": f"Status: Image is up to date for {ref}:1"}
    with pytest.raises(docker.errors.NotFound) as exc:
        client.images.pull(ref, tag="nothere")
    assert f"manifest for {ref}:nothere not found" in str(exc.value)
    # a push of a tag the store lacks: the error is the stream's last line
    msgs = _lines(client.api.push(ref, tag="missing", stream=True, decode=True))
    assert msgs[-1]["error"] == f"tag does not exist: {ref}:missing"  # moby's words
    msgs = _lines(client.api.push(f"{ref}x", tag="1", stream=True, decode=True))
    assert msgs[-1]["error"] == f"An image does not exist locally with the tag: {ref}x"
    data = client.images.get_registry_data(f"{ref}:1")  # GET /distribution/{name}/json
    assert data.id == digest and data.attrs["Descriptor"]["size"] == size
    assert data.has_platform("linux/amd64") or data.has_platform("linux/arm64")
    found = client.api.search(f"{registry.addr}/lab")
    assert [r["name"] for r in found] == [f"{registry.addr}/lab/bb"]


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_cli_push_pull(api_daemon, engine, registry, exe):
    ref = f"{registry.addr}/cli/bb:7"
    assert api_daemon.cli("tag", "busybox", ref, docker=exe).returncode == 0
    r = api_daemon.cli("push", ref, docker=exe)
    assert r.returncode == 0, r.stderr
    assert f"The push refers to repository [{ref[:-2]}]" in r.stdout
    assert "7: digest: sha256:" in r.stdout
    assert api_daemon.cli("rmi", ref, docker=exe).returncode == 0
    r = api_daemon.cli("pull", ref, docker=exe)
    assert r.returncode == 0, r.stderr
    assert f"Status: Downloaded newer image for {ref}" in r.stdout and r.stdout.endswith(ref + "\n")
    assert engine.image_inspect(ref)["Id"] == engine.image_inspect("busybox")["Id"]
    r = api_daemon.cli("pull", f"{registry.addr}/cli/nothere:1", docker=exe)
    assert r.returncode == 1 and "not found" in r.stderr


def test_login_and_registry_auth(api_daemon, engine, auth_registry):
    docker = pytest.importorskip("docker")
    addr = auth_registry.addr
    client = api_daemon.docker()
    got = client.login(USER, PASSWORD, registry=addr, reauth=True)
    assert got == {"Status": "Login Succeeded", "IdentityToken": ""}
    with pytest.raises(docker.errors.APIError) as exc:
        client.login(USER, "wrong", registry=addr, reauth=True)
    assert exc.value.status_code == 401
    assert "401 Unauthorized" in str(exc.value)
    # the daemon stored nothing: a push without X-Registry-Auth is refused …
    ref = f"{addr}/lab/secret"
    engine.image_tag("busybox", f"{ref}:1")
    api = client.api
    msgs = _lines(api.push(ref, tag="1", stream=True, decode=True, auth_config={}))
    assert "error" in msgs[-1], msgs
    # … and goes through with it
    auth = {"username": USER, "password": PASSWORD}
    msgs = _lines(api.push(ref, tag="1", stream=True, decode=True, auth_config=auth))
    assert "aux" in msgs[-1], msgs
    engine.image_remove(f"{ref}:1")
    assert f"{ref}:1" in client.images.pull(ref, tag="1", auth_config=auth).tags
    # a build's FROM pull: docker-py sends the credentials of its login as X-Registry-Config
    engine.image_remove(f"{ref}:1")
    image, _ = client.images.build(fileobj=io.BytesIO(f"FROM {ref}:1\n".encode()), tag="priv")
    assert image.id == engine.image_inspect("busybox")["Id"]
    # the docker CLI: login (POST /auth), then its stored credentials as X-Registry-Auth
    exe = DOCKER_CLIS[0] if DOCKER_CLIS else pytest.skip("no docker client installed")
    r = api_daemon.cli(
        "login", "-u", USER, "--password-stdin", addr, docker=exe, input=PASSWORD + "\n"
    )
    assert r.returncode == 0 and "Login Succeeded" in r.stdout, r.stderr
    engine.image_remove(f"{ref}:1")
    r = api_daemon.cli("pull", f"{ref}:1", docker=exe)
    assert r.returncode == 0, r.stderr
    r = api_daemon.cli("login", "-u", USER, "--password-stdin", addr, docker=exe, input="bad\n")
    assert r.returncode == 1 and "Error response from daemon:" in r.stderr
    assert "401 Unauthorized" in r.stderr


def test_a_client_gone_mid_save_ends_the_writer(api_daemon, engine):
    import os
    import socket

    from helpers import wait_until

    client = api_daemon.client()
    assert client.ping()
    baseline = len(os.listdir(f"/proc/{api_daemon.proc.pid}/task"))
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(api_daemon.sock)
        s.sendall(b"GET /v1.44/images/busybox/get HTTP/1.1\r\nHost: d\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.1 200")
    wait_until(
        lambda: len(os.listdir(f"/proc/{api_daemon.proc.pid}/task")) <= baseline,
        timeout=30,
        what="the archive writer's thread to end",
    )
    assert client.ping()


def test_a_client_gone_mid_pull_leaves_nothing(api_daemon, engine, registry, tmp_path):
    """The pull stops at the next message after the client hangs up: its download threads
    end, no image is made and no staging is left behind."""
    import os
    import socket

    from helpers import wait_until

    big = tmp_path / "big.tar"
    with tarfile.open(big, "w") as tf:
        info = tarfile.TarInfo("big")
        info.size = 96 << 20
        tf.addfile(info, io.BytesIO(os.urandom(info.size)))
    ref = f"{registry.addr}/lab/big:1"
    with open(big, "rb") as f:
        engine.import_image(f, ref)
    list(engine.push(ref))
    engine.image_remove(ref)
    client = api_daemon.client()
    assert client.ping()
    baseline = len(os.listdir(f"/proc/{api_daemon.proc.pid}/task"))
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(api_daemon.sock)
        s.sendall(
            f"POST /v1.41/images/create?fromImage={ref[:-2]}&tag=1 HTTP/1.1\r\n"
            "Host: d\r\nContent-Length: 0\r\n\r\n".encode()
        )
        seen = b""
        while b'"Downloading"' not in seen:
            got = s.recv(4096)
            assert got, seen
            seen += got
    wait_until(
        lambda: len(os.listdir(f"/proc/{api_daemon.proc.pid}/task")) <= baseline,
        timeout=30,
        what="the pull's threads to end",
    )
    assert ref not in [t for i in engine.images(all=True) for t in i["RepoTags"]]
    assert engine.interrupted_work() == []
    assert client.ping()
