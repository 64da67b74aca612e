"""pull, push, login, logout, search against a real registry (Debian's docker-registry on a
loopback port, see tests/registry_fixture.py). Nothing leaves the machine."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import zlib

import pytest
from helpers import cli, cli_env, cli_popen, wait_until
from registry_fixture import (
    PASSWORD,
    USER,
    auth_registry,
    registry,
    tls_registry,
    token_registry,
)

__all__ = ["auth_registry", "registry", "tls_registry", "token_registry"]  # fixtures


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    """A DOCKER_CONFIG of the test's own (never ~/.docker)."""
    d = tmp_path / "docker-config"
    d.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(d))
    return d


def text(r) -> tuple[int, str, str]:
    return r.returncode, r.stdout.decode(), r.stderr.decode()


_FRESH: list[str] = []


def fresh(tmp_path, name: str = "fresh") -> str:
    """A new state root; its bridge network (made by a `run` in it) is removed after the
    test, as the engine fixture removes its own."""
    root = str(tmp_path / name)
    _FRESH.append(root)
    return root


@pytest.fixture(autouse=True)
def _fresh_roots_leave_no_network():
    yield
    from dockerlab.engine.network import record
    from dockerlab.engine.paths import Paths

    while _FRESH:
        record.remove_default_bridge(Paths.of(_FRESH.pop()))


def state_of(root: str) -> tuple[list[str], list[str], list[str]]:
    """What a store holds: blobs, layers, files left in tmp."""

    def ls(*parts: str) -> list[str]:
        try:
            return sorted(os.listdir(os.path.join(root, *parts)))
        except FileNotFoundError:
            return []

    return ls("image", "blobs", "sha256"), ls("overlay"), ls("tmp")


def test_push_then_pull_into_a_fresh_root_keeps_the_image_id(engine, registry, tmp_path):
    root = engine.paths.root
    ref = f"{registry.addr}/lab/busybox:1"
    image_id = engine.image_inspect("busybox")["Id"]
    engine.image_tag("busybox", ref)
    code, out, err = text(cli(root, "push", ref))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    layer = engine.image_inspect("busybox")["RootFS"]["Layers"][0].split(":")[1][:12]
    assert lines[:3] == [
        f"The push refers to repository [{registry.addr}/lab/busybox]",
        f"{layer}: Preparing",
        f"{layer}: Pushed",
    ]
    assert lines[3].startswith("1: digest: sha256:") and " size: " in lines[3]
    digest = lines[3].split()[2]
    # again: the registry has the layer
    assert f"{layer}: Layer already exists" in text(cli(root, "push", ref))[1]
    # another repository of the same registry: mounted, not uploaded
    engine.image_tag("busybox", f"{registry.addr}/other/bb:v2")
    out = text(cli(root, "push", f"{registry.addr}/other/bb:v2"))[1]
    assert f"{layer}: Mounted from lab/busybox" in out

    other = fresh(tmp_path)
    code, out, err = text(cli(other, "pull", ref))
    assert (code, err) == (0, "")
    blob = digest  # the manifest's layer digest is not the diff ID: read it from the lines
    lines = out.splitlines()
    assert lines[0] == "1: Pulling from lab/busybox"
    short = lines[1].split(":")[0]
    assert lines[1:5] == [
        f"{short}: Pulling fs layer",
        f"{short}: Verifying Checksum",
        f"{short}: Download complete",
        f"{short}: Pull complete",
    ]
    assert lines[5:] == [
        f"Digest: {blob}",
        f"Status: Downloaded newer image for {ref}",
        ref,
    ]
    got = json.loads(cli(other, "image", "inspect", ref).stdout)[0]
    assert got["Id"] == image_id
    assert got["RepoDigests"] == [f"{registry.addr}/lab/busybox@{digest}"]
    # everything present: nothing downloaded, Docker's "up to date"
    code, out, _ = text(cli(other, "pull", ref))
    assert out.splitlines() == [
        "1: Pulling from lab/busybox",
        f"Digest: {digest}",
        f"Status: Image is up to date for {ref}",
        ref,
    ]
    # by digest
    by_digest = f"{registry.addr}/lab/busybox@{digest}"
    code, out, _ = text(cli(other, "pull", by_digest))
    assert code == 0 and out.splitlines()[-1] == by_digest
    # and it runs
    r = cli(other, "run", "--rm", ref, "echo", "pulled")
    assert (r.returncode, r.stdout) == (0, b"pulled\n")


def test_run_pulls_a_missing_image_through_the_mirror(engine, registry, tmp_path):
    engine.image_tag("busybox", f"{registry.addr}/library/busybox:latest")
    assert cli(engine.paths.root, "push", f"{registry.addr}/library/busybox").returncode == 0
    other = fresh(tmp_path)
    env = {"DOCKERLAB_MIRROR": f"http://{registry.addr}"}
    r = cli(other, "run", "--rm", "busybox", "echo", "hi", env=env)
    assert r.returncode == 0 and r.stdout == b"hi\n"
    err = r.stderr.decode().splitlines()
    assert err[0] == "Unable to find image 'busybox:latest' locally"
    assert err[1] == "latest: Pulling from library/busybox"
    assert err[-1] == "Status: Downloaded newer image for busybox:latest"
    r = cli(other, "pull", "busybox", env=env)
    assert text(r)[1].splitlines()[-2:] == [
        "Status: Image is up to date for busybox:latest",
        "docker.io/library/busybox:latest",
    ]
    # --pull never on a missing image: No such image, nothing pulled
    r = cli(other, "create", "--pull", "never", "busybox:nope", env=env)
    assert r.returncode == 125 and b"No such image: busybox:nope" in r.stderr


def test_errors_read_as_dockers(engine, registry, tmp_path):
    other = fresh(tmp_path)
    r = cli(other, "pull", f"{registry.addr}/lab/nothere:1")
    assert text(r)[::2] == (
        1,
        f"Error response from daemon: manifest for {registry.addr}/lab/nothere:1 not found: "
        "manifest unknown: manifest unknown\n",
    )
    r = cli(other, "pull", f"{registry.addr}/lab/nothere")
    assert r.stdout == b"Using default tag: latest\n" and r.returncode == 1
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = cli(other, "pull", f"localhost:{port}/lab/busybox:1")
    assert text(r)[::2] == (
        1,
        f'Error response from daemon: Get "http://localhost:{port}/v2/": dial tcp '
        f"127.0.0.1:{port}: connect: connection refused\n",
    )
    host = "a" * 64 + ".invalid:5000"  # a 64-character label: refused by the resolver itself
    r = cli(other, "pull", f"{host}/lab/busybox:1")
    assert r.returncode == 1
    assert r.stderr.decode().startswith(f'Error response from daemon: Get "https://{host}/v2/"')
    assert r.stderr.decode().rstrip().endswith("no such host")
    r = cli(other, "push", f"{registry.addr}/lab/nothere:1")
    assert text(r) == (
        1,
        f"The push refers to repository [{registry.addr}/lab/nothere]\n",
        f"An image does not exist locally with the tag: {registry.addr}/lab/nothere\n",
    )
    r = cli(other, "pull", f"{registry.addr}/lab/busybox:bad:tag")
    assert text(r)[::2] == (1, "invalid reference format\n")


def test_a_corrupted_blob_is_rejected_and_nothing_is_stored(engine, registry, tmp_path):
    ref = f"{registry.addr}/lab/busybox:1"
    engine.image_tag("busybox", ref)
    out = cli(engine.paths.root, "push", ref).stdout.decode()
    digest = out.split("digest: ")[1].split()[0]
    manifest = json.loads(_get(registry.addr, f"/v2/lab/busybox/manifests/{digest}"))
    layer = manifest["layers"][0]["digest"]
    path = registry.blob_file(layer)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF  # the registry now serves a blob that is not its digest
    with open(path, "wb") as f:
        f.write(data)
    other = fresh(tmp_path)
    cli(other, "images")  # the root exists, empty
    before = state_of(other)
    r = cli(other, "pull", ref)
    assert r.returncode == 1
    assert r.stderr.decode() == (
        f"Error response from daemon: filesystem layer verification failed for digest {layer}\n"
    )
    assert state_of(other) == before
    assert cli(other, "images", "-q").stdout == b""


def test_size_lies_and_layer_bombs_are_refused(engine, registry, tmp_path):
    """A manifest that lies about a layer's size, or lists thousands of layers: refused
    before anything is kept."""
    ref = f"{registry.addr}/lab/busybox:1"
    engine.image_tag("busybox", ref)
    cli(engine.paths.root, "push", ref)
    manifest = json.loads(_get(registry.addr, "/v2/lab/busybox/manifests/1"))
    mtype = "application/vnd.docker.distribution.manifest.v2+json"
    layer = manifest["layers"][0]
    lying = {**manifest, "layers": [{**layer, "size": layer["size"] - 100}]}
    _put(registry.addr, "/v2/lab/busybox/manifests/lie", json.dumps(lying).encode(), mtype)
    other = fresh(tmp_path)
    cli(other, "images")
    before = state_of(other)
    r = cli(other, "pull", f"{registry.addr}/lab/busybox:lie")
    assert text(r)[::2] == (
        1,
        "Error response from daemon: filesystem layer verification failed for digest "
        f"{layer['digest']}\n",
    )
    assert state_of(other) == before
    many = {**manifest, "layers": [layer] * 3000}
    _put(registry.addr, "/v2/lab/busybox/manifests/many", json.dumps(many).encode(), mtype)
    r = cli(other, "pull", f"{registry.addr}/lab/busybox:many")
    assert r.returncode == 1
    assert "the image has 3000 layers, more than 127" in r.stderr.decode()
    assert state_of(other) == before


def test_push_all_tags(engine, registry, tmp_path):
    root = engine.paths.root
    for tag in ("1", "2"):
        engine.image_tag("busybox", f"{registry.addr}/lab/all:{tag}")
    r = cli(root, "push", "--all-tags", f"{registry.addr}/lab/all")
    out = r.stdout.decode().splitlines()
    assert r.returncode == 0, r.stderr
    assert out[0] == f"The push refers to repository [{registry.addr}/lab/all]"
    assert [line.split(":")[0] for line in out if "digest:" in line] == ["1", "2"]
    r = cli(root, "push", "--all-tags", f"{registry.addr}/lab/all:1")
    assert text(r)[::2] == (1, "tag can't be used with --all-tags/-a\n")
    other = fresh(tmp_path)
    r = cli(other, "pull", "--all-tags", f"{registry.addr}/lab/all")
    out = r.stdout.decode().splitlines()
    assert r.returncode == 0, r.stderr
    assert [line for line in out if "Pulling from" in line] == [
        "1: Pulling from lab/all",
        "2: Pulling from lab/all",
    ]
    assert out[-2:] == [
        f"Status: Downloaded newer image for {registry.addr}/lab/all",
        f"{registry.addr}/lab/all",
    ]


def test_a_layer_that_inflates_past_the_bounds_is_refused(engine, registry, tmp_path):
    """A small gzip blob claiming to be a layer that inflates to 300 MB of zeros (past
    inflate.py's FLOOR and RATIO): refused, nothing kept."""
    import zlib

    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    diff = hashlib.sha256()
    zero = bytes(1 << 20)
    parts = []
    for _ in range(300):
        diff.update(zero)
        parts.append(comp.compress(zero))
    parts.append(comp.flush())
    blob = b"".join(parts)
    blob_digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    _upload(registry.addr, "lab/bomb", blob, blob_digest)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hexdigest()]},
        }
    ).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    _upload(registry.addr, "lab/bomb", config, config_digest)
    mtype = "application/vnd.docker.distribution.manifest.v2+json"
    manifest = {
        "schemaVersion": 2,
        "mediaType": mtype,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": config_digest,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len(blob),
                "digest": blob_digest,
            }
        ],
    }
    _put(registry.addr, "/v2/lab/bomb/manifests/1", json.dumps(manifest).encode(), mtype)
    other = fresh(tmp_path)
    cli(other, "images")
    before = state_of(other)
    # the peak of the process's own memory (VmHWM: ru_maxrss would count the forking parent's)
    peak = "[x.split()[1] for x in open('/proc/self/status') if x.startswith('VmHWM')][0]"
    r, hwm = _pull_reporting(other, f"{registry.addr}/lab/bomb:1", peak)
    assert r.returncode == 1
    assert "refusing a decompression bomb" in r.stderr.decode(), r.stderr
    assert int(hwm) < 150_000, hwm  # KiB: inflated a MiB at a time, never held whole
    assert state_of(other) == before


def test_a_manifest_list_resolves_to_this_platform(engine, registry, tmp_path):
    ref = f"{registry.addr}/lab/busybox:1"
    engine.image_tag("busybox", ref)
    cli(engine.paths.root, "push", ref)
    ours = _get(registry.addr, "/v2/lab/busybox/manifests/1")
    ours_digest = "sha256:" + hashlib.sha256(ours).hexdigest()
    # another platform's image: the same layer, a config saying riscv64
    manifest = json.loads(ours)
    config = json.loads(
        _get(registry.addr, f"/v2/lab/busybox/blobs/{manifest['config']['digest']}")
    )
    config["architecture"] = "riscv64"
    config_bytes = json.dumps(config).encode()
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    _upload(registry.addr, "lab/busybox", config_bytes, config_digest)
    manifest["config"] = {**manifest["config"], "size": len(config_bytes), "digest": config_digest}
    foreign = json.dumps(manifest).encode()
    foreign_digest = "sha256:" + hashlib.sha256(foreign).hexdigest()
    mtype = "application/vnd.docker.distribution.manifest.v2+json"
    _put(registry.addr, f"/v2/lab/busybox/manifests/{foreign_digest}", foreign, mtype)
    from dockerlab.engine.registry.pull import platform

    _, arch, _ = platform()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {
                "mediaType": mtype,
                "size": len(foreign),
                "digest": foreign_digest,
                "platform": {"architecture": "riscv64", "os": "linux"},
            },
            {
                "mediaType": mtype,
                "size": len(ours),
                "digest": ours_digest,
                "platform": {"architecture": arch, "os": "linux"},
            },
        ],
    }
    index_bytes = json.dumps(index).encode()
    _put(registry.addr, "/v2/lab/busybox/manifests/multi", index_bytes, index["mediaType"])
    other = fresh(tmp_path)
    r = cli(other, "pull", f"{registry.addr}/lab/busybox:multi")
    assert r.returncode == 0, r.stderr
    index_digest = "sha256:" + hashlib.sha256(index_bytes).hexdigest()
    assert f"Digest: {index_digest}" in r.stdout.decode()
    got = json.loads(cli(other, "image", "inspect", f"{registry.addr}/lab/busybox:multi").stdout)
    assert got[0]["Id"] == engine.image_inspect("busybox")["Id"]
    assert got[0]["Architecture"] == arch
    # --platform picks another entry (its image is not runnable here, as in Docker)
    r = cli(other, "pull", "--platform", "linux/riscv64", f"{registry.addr}/lab/busybox:multi")
    assert r.returncode == 0, r.stderr
    got = json.loads(cli(other, "image", "inspect", f"{registry.addr}/lab/busybox:multi").stdout)
    assert (got[0]["Id"], got[0]["Architecture"]) == (config_digest, "riscv64")
    # a single-platform image asked for another platform: Docker's refusal
    r = cli(other, "pull", "--platform", "linux/riscv64", f"{registry.addr}/lab/busybox:1")
    assert text(r)[::2] == (
        1,
        f"Error response from daemon: image with reference {registry.addr}/lab/busybox:1 was "
        f"found but does not match the specified platform: wanted linux/riscv64, actual: "
        f"linux/{arch}\n",
    )


def test_an_interrupted_pull_leaves_the_store_as_it_was(engine, registry, tmp_path):
    ref_path = "lab/busybox:1"
    engine.image_tag("busybox", f"{registry.addr}/{ref_path}")
    cli(engine.paths.root, "push", f"{registry.addr}/{ref_path}")
    proxy = _StallingProxy(registry.addr)
    other = fresh(tmp_path)
    cli(other, "images")
    before = state_of(other)
    p = cli_popen(other, "pull", f"{proxy.addr}/{ref_path}", stdout=-1, stderr=-1)
    try:
        assert proxy.stalled.wait(30), "the pull never reached a layer"
        p.kill()
        p.wait(30)
    finally:
        proxy.release.set()
    assert cli(other, "images", "-q").stdout == b""
    blobs, layers, _ = state_of(other)
    assert (blobs, layers) == before[:2]
    r = cli(other, "pull", f"{proxy.addr}/{ref_path}")
    assert r.returncode == 0, r.stderr
    assert b"Pull complete" in r.stdout
    # what the killed pull left (abandoned work, named after it) the next pull removed
    assert [n for n in state_of(other)[2] if not n.startswith(".")] == []
    proxy.stop()


def test_a_layer_is_unpacked_while_it_downloads_out_of_the_stores_sight(engine, registry, tmp_path):
    """Half a layer downloaded: its files are already unpacked, in the pull's work folder
    only; the pull killed there leaves the store as it was, and its staged layer is gone
    once the store is next used (the next pull sweeps what a dead pull left)."""
    ref_path = "lab/busybox:1"
    engine.image_tag("busybox", f"{registry.addr}/{ref_path}")
    cli(engine.paths.root, "push", f"{registry.addr}/{ref_path}")
    proxy = _StallingProxy(registry.addr)
    other = fresh(tmp_path)
    cli(other, "images")
    before = state_of(other)
    p = cli_popen(other, "pull", f"{proxy.addr}/{ref_path}", stdout=-1, stderr=-1)
    tmp = os.path.join(other, "tmp")

    def staged_files() -> list[str]:
        found = []
        for name in os.listdir(tmp):
            for dirpath, dirs, files in os.walk(os.path.join(tmp, name)):
                if "/diff" in dirpath:
                    found += dirs + files
        return found

    try:
        assert proxy.stalled.wait(30), "the pull never reached a layer"
        assert wait_until(staged_files, what="files unpacked while the layer downloads")
        assert state_of(other)[:2] == before[:2]  # nothing in the store yet
        p.kill()
        p.wait(30)
    finally:
        proxy.release.set()
    assert state_of(other)[:2] == before[:2]
    assert any(n.startswith(f"pull-{p.pid}-") for n in os.listdir(tmp))
    r = cli(other, "pull", f"{proxy.addr}/{ref_path}")
    assert r.returncode == 0, r.stderr
    assert [n for n in os.listdir(tmp) if not n.startswith(".")] == []
    r = cli(other, "run", "--rm", f"{proxy.addr}/{ref_path}", "echo", "pulled")
    assert (r.returncode, r.stdout) == (0, b"pulled\n")
    proxy.stop()


def test_a_pulled_layer_is_read_once(engine, registry, tmp_path):
    """The bytes the pulling process reads with read(2) (``rchar`` of /proc/PID/io: files,
    its own modules; a socket's recv is not counted) while it pulls a 24 MB incompressible
    layer: the layer comes in from the socket and is never read back from a file (unpacking
    it from a downloaded tar, or from the stored blob, reads 24 MB more)."""
    size = 24 << 20
    content = os.urandom(size)
    _, diff_ids = _push_image(registry.addr, "lab/big", "1", [_tar({"big": content})])
    ref = f"{registry.addr}/lab/big:1"
    other = fresh(tmp_path)
    # /proc/PID/io starts "rchar: N"
    r, rchar_text = _pull_reporting(other, ref, "open('/proc/self/io').read().split()[1]")
    assert b"Pull complete" in r.stdout, r.stderr
    rchar = int(rchar_text)
    assert rchar < size // 2, rchar
    layer = os.path.join(other, "overlay", diff_ids[0].split(":")[1], "diff", "big")
    with open(layer, "rb") as f:
        assert hashlib.sha256(f.read()).digest() == hashlib.sha256(content).digest()


def test_a_pull_whose_tmp_is_another_filesystem(engine, registry, tmp_path):
    """$ROOT/tmp mounted apart from overlay/ (a tmpfs here): a staged layer cannot be renamed
    in, so the commit unpacks its blob instead; the image is whole all the same."""
    ref = f"{registry.addr}/lab/busybox:1"
    engine.image_tag("busybox", ref)
    cli(engine.paths.root, "push", ref)
    other = fresh(tmp_path)
    cli(other, "images")
    tmp = os.path.join(other, "tmp")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1g", "tmpfs", tmp], check=True)
    try:
        r = cli(other, "pull", ref)
        assert r.returncode == 0, r.stderr
        assert [n for n in os.listdir(tmp) if not n.startswith(".")] == []
    finally:
        subprocess.run(["umount", tmp], check=True)
    r = cli(other, "run", "--rm", ref, "echo", "pulled")
    assert (r.returncode, r.stdout) == (0, b"pulled\n")


# What `pull` of an image already present must not load: it costs the CLI's start (http.client
# with the email package ~17 ms, typing ~3.5, urllib.parse, ipaddress, queue, the idna codec
# ~1.5 ms each) or belongs to downloads (tarfile, zlib, shutil, registry.download).
# benchmarks/bench_registry.py measures the verb.
UP_TO_DATE_FORBIDDEN = (
    "http.client",
    "email",
    "typing",
    "urllib.parse",
    "ipaddress",
    "queue",
    "encodings.idna",
    "tarfile",
    "zlib",
    "shutil",
    "dockerlab.engine.registry.download",
    "dockerlab.engine.images.inflate",
    "zstandard",
)


def test_an_up_to_date_pull_loads_no_slow_module(engine, registry, tmp_path):
    ref = f"{registry.addr}/lab/busybox:1"
    engine.image_tag("busybox", ref)
    cli(engine.paths.root, "push", ref)
    other = fresh(tmp_path)
    assert cli(other, "pull", ref).returncode == 0
    r, loaded = _pull_reporting(
        other, ref, f"[m for m in {UP_TO_DATE_FORBIDDEN!r} if m in sys.modules]"
    )
    assert b"Image is up to date" in r.stdout, r.stderr
    assert loaded == "[]"


def test_an_early_corruption_and_an_unsafe_layer_are_refused(engine, registry, tmp_path):
    """A blob corrupt from its first bytes (the extraction stops at once: the digest is
    still what is reported), and layers with the right digests whose entries climb out of
    the layer (``../``, or through a symlink placed by an earlier entry): refused, nothing
    written outside, the store unchanged."""
    outside = tmp_path / "outside"
    outside.mkdir()
    good = _tar({"etc/hello": b"hello\n"})
    _push_image(registry.addr, "lab/corrupt", "1", [good])
    manifest = json.loads(_get(registry.addr, "/v2/lab/corrupt/manifests/1"))
    layer = manifest["layers"][0]["digest"]
    path = registry.blob_file(layer)
    data = bytearray(open(path, "rb").read())
    data[12] ^= 0xFF
    with open(path, "wb") as f:
        f.write(data)
    other = fresh(tmp_path)
    cli(other, "images")
    before = state_of(other)
    r = cli(other, "pull", f"{registry.addr}/lab/corrupt:1")
    assert text(r)[::2] == (
        1,
        f"Error response from daemon: filesystem layer verification failed for digest {layer}\n",
    )
    assert state_of(other) == before
    climbing = _tar({"../../../../../../escaped": b"x"})
    _push_image(registry.addr, "lab/unsafe", "1", [climbing])
    via_link = _tar(
        {"etc/hello": b"hello\n"}, links={"evil": str(outside)}, then={"evil/pwned": b"x"}
    )
    _push_image(registry.addr, "lab/unsafe", "2", [via_link])
    for tag in ("1", "2"):
        r = cli(other, "pull", f"{registry.addr}/lab/unsafe:{tag}")
        code, _, err = text(r)
        assert code == 1 and "failed to register layer: sha256:" in err, err
        assert "Traceback" not in err and "/tmp/" not in err  # no staging path shown
        assert state_of(other) == before
    # a config whose DiffIDs are not digests (they name files of the store) is refused
    _push_image(registry.addr, "lab/unsafe", "3", [good], ["sha256:../../../../etc"])
    r = cli(other, "pull", f"{registry.addr}/lab/unsafe:3")
    assert text(r)[::2] == (
        1,
        "Error response from daemon: invalid diff ID digest 'sha256:../../../../etc': only "
        "sha256 digests are supported\n",
    )
    assert state_of(other) == before
    assert list(outside.iterdir()) == []
    for dirpath, _dirs, files in os.walk(tmp_path):
        assert "escaped" not in files and "pwned" not in files, dirpath


def test_basic_auth_login_push_pull_logout(engine, auth_registry, config_dir, tmp_path):
    reg = auth_registry
    root = engine.paths.root
    ref = f"{reg.addr}/lab/busybox:1"
    engine.image_tag("busybox", ref)
    r = cli(root, "pull", ref)
    assert text(r)[::2] == (
        1,
        f'Error response from daemon: Head "http://{reg.addr}/v2/lab/busybox/manifests/1": '
        "no basic auth credentials\n",
    )
    r = cli(root, "login", "-u", USER, "-p", "wrong", reg.addr)
    assert text(r) == (
        1,
        "",
        "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"
        f"Error response from daemon: login attempt to http://{reg.addr}/v2/ failed with "
        "status: 401 Unauthorized\n",
    )
    assert not (config_dir / "config.json").exists()
    r = cli(root, "login", "-u", USER, "--password-stdin", reg.addr, input=f"{PASSWORD}\n".encode())
    assert r.returncode == 0 and r.stdout == b"Login Succeeded\n"
    cfg = config_dir / "config.json"
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    import base64

    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert json.loads(cfg.read_text()) == {"auths": {reg.addr: {"auth": auth}}}
    assert cli(root, "push", ref).returncode == 0
    other = fresh(tmp_path)
    r = cli(other, "pull", ref)
    assert r.returncode == 0, r.stderr
    r = cli(root, "logout", reg.addr)
    assert text(r) == (0, f"Removing login credentials for {reg.addr}\n", "")
    assert json.loads(cfg.read_text()) == {"auths": {}}
    # stored but wrong: the registry's words
    cfg.write_text(
        json.dumps({"auths": {reg.addr: {"auth": base64.b64encode(b"labuser:x").decode()}}})
    )
    r = cli(other, "pull", ref)
    assert text(r)[::2] == (
        1,
        "Error response from daemon: unauthorized: authentication required\n",
    )


def test_bearer_token_flow(engine, token_registry, config_dir, tmp_path):
    reg = token_registry
    root = engine.paths.root
    ref = f"{reg.addr}/lab/busybox:1"
    engine.image_tag("busybox", ref)
    r = cli(root, "push", ref)
    assert r.returncode == 1
    assert r.stderr.decode().startswith("unauthorized: ")
    r = cli(root, "login", "-u", USER, "--password-stdin", reg.addr, input=b"wrong\n")
    assert text(r)[::2] == (
        1,
        f'Error response from daemon: Get "http://{reg.addr}/v2/": unauthorized: '
        "incorrect username or password\n",
    )
    r = cli(root, "login", "-u", USER, "--password-stdin", reg.addr, input=f"{PASSWORD}\n".encode())
    assert r.returncode == 0 and r.stdout == b"Login Succeeded\n"
    query = reg.tokens.requests[-1]["query"]
    assert (query["account"], query["client_id"], query["service"]) == (
        USER,
        "docker",
        "lab-registry",
    )
    r = cli(root, "push", ref)
    assert r.returncode == 0, r.stderr
    assert any(
        q["query"].get("scope") == "repository:lab/busybox:push,pull" for q in reg.tokens.requests
    )
    other = fresh(tmp_path)
    r = cli(other, "pull", ref)
    assert r.returncode == 0, r.stderr
    got = json.loads(cli(other, "image", "inspect", ref).stdout)[0]["Id"]
    assert got == engine.image_inspect("busybox")["Id"]


def test_https_registry(engine, tls_registry, tmp_path):
    """A loopback registry over HTTPS with a self-signed certificate works without
    certs.d (Docker skips verification for loopback); the scheme used is https."""
    ref = f"{tls_registry.addr}/lab/busybox:1"
    engine.image_tag("busybox", ref)
    r = cli(engine.paths.root, "push", ref)
    assert r.returncode == 0, r.stderr
    other = fresh(tmp_path)
    assert cli(other, "pull", ref).returncode == 0
    assert any('"GET /v2/ HTTP' in line or "/v2/" in line for line in tls_registry.log)
    from dockerlab.engine.registry.client import Client, Settings

    c = Client(tls_registry.addr, "lab/busybox", settings=Settings())
    c.ping()
    assert c.scheme == "https"
    # verified against certs.d/HOST:PORT/ca.crt when the registry is not insecure
    certs = tmp_path / "certs.d" / tls_registry.addr
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_bytes(open(tls_registry.cert, "rb").read())
    strict = Settings(certs_dirs=[str(tmp_path / "certs.d")])
    strict.is_insecure = lambda netloc: False  # type: ignore[method-assign]
    c = Client(tls_registry.addr, "lab/busybox", settings=strict)
    c.ping()
    assert c.scheme == "https"
    # and refused without it, in Docker's words
    bare = Settings(certs_dirs=[str(tmp_path / "nothing")])
    bare.is_insecure = lambda netloc: False  # type: ignore[method-assign]
    with pytest.raises(Exception) as err:
        Client(tls_registry.addr, "lab/busybox", settings=bare).ping()
    assert f'Get "https://{tls_registry.addr}/v2/": x509: ' in str(err.value)


def test_search_lists_the_catalog(engine, registry):
    root = engine.paths.root
    for name in ("lab/busybox:1", "lab/web:1", "other/db:1"):
        engine.image_tag("busybox", f"{registry.addr}/{name}")
        assert cli(root, "push", f"{registry.addr}/{name}").returncode == 0
    r = cli(root, "search", f"{registry.addr}/lab")
    width = len(f"{registry.addr}/lab/busybox")
    rows = [("NAME", "DESCRIPTION", "STARS", "OFFICIAL")] + [
        (f"{registry.addr}/lab/{n}", "", "0", "") for n in ("busybox", "web")
    ]
    expected = "".join(
        f"{a.ljust(width)}   {b.ljust(11)}   {c.ljust(5)}   {d}\n" for a, b, c, d in rows
    )
    assert text(r) == (0, expected, "")
    r = cli(root, "search", "--format", "{{.Name}}", "--limit", "1", f"{registry.addr}/other")
    assert text(r) == (0, f"{registry.addr}/other/db\n", "")
    r = cli(root, "search", "--filter", "is-official=true", f"{registry.addr}/lab")
    assert r.stdout.decode().splitlines()[1:] == []


# ---- helpers -----------------------------------------------------------------------------


def _conn(addr: str) -> http.client.HTTPConnection:
    host, port = addr.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=30)


def _get(addr: str, path: str) -> bytes:
    c = _conn(addr)
    accept = (
        "application/vnd.docker.distribution.manifest.v2+json, "
        "application/vnd.docker.distribution.manifest.list.v2+json"
    )
    c.request("GET", path, headers={"Accept": accept})
    r = c.getresponse()
    data = r.read()
    assert r.status == 200, (path, r.status, data)
    c.close()
    return data


def _put(addr: str, path: str, body: bytes, ctype: str) -> None:
    c = _conn(addr)
    c.request("PUT", path, body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    assert r.status == 201, (path, r.status, r.read())
    c.close()


def _upload(addr: str, repo: str, body: bytes, digest: str) -> None:
    c = _conn(addr)
    c.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    r = c.getresponse()
    r.read()
    location = r.getheader("Location")
    assert r.status == 202 and location
    if "://" in location:
        location = "/" + location.split("://", 1)[1].split("/", 1)[1]
    c.request(
        "PUT",
        f"{location}&digest={digest}",
        body=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    r = c.getresponse()
    assert r.status == 201, r.read()
    c.close()


def _pull_reporting(root: str, ref: str, report: str) -> tuple[subprocess.CompletedProcess, str]:
    """``dockerlab pull ref`` in a process that prints ``report`` (a Python expression,
    evaluated as it exits) on its last line of stderr: (the process, that line)."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['dockerlab', 'pull', sys.argv.pop()]\n"
        "try:\n"
        "    runpy.run_module('dockerlab', run_name='__main__', alter_sys=True)\n"
        "finally:\n"
        f"    sys.stderr.write('\\n' + str({report}) + '\\n')\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, ref], env=cli_env(root), capture_output=True, timeout=120
    )
    return r, r.stderr.decode().splitlines()[-1]


def _tar(
    files: dict[str, bytes],
    links: dict[str, str] | None = None,
    then: dict[str, bytes] | None = None,
) -> bytes:
    """A layer tar: ``files``, then symlinks ``links`` (name -> target), then ``then``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            tf.addfile(ti, io.BytesIO(data))
        for name, target in (links or {}).items():
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname = tarfile.SYMTYPE, target
            tf.addfile(ti)
        for name, data in (then or {}).items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _push_image(
    addr: str, repo: str, tag: str, tars: list[bytes], diff_ids: list[str] | None = None
) -> tuple[str, list[str]]:
    """Push an image made of the layer ``tars`` (gzipped) by hand: (its ID, its DiffIDs);
    ``diff_ids``: what its config claims instead of the tars' digests."""
    claimed = diff_ids
    diff_ids, layers = [], []
    for tar in tars:
        comp = zlib.compressobj(1, zlib.DEFLATED, 31)
        blob = comp.compress(tar) + comp.flush()
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        _upload(addr, repo, blob, digest)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        layers.append(
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len(blob),
                "digest": digest,
            }
        )
    diff_ids = claimed or diff_ids
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    _upload(addr, repo, config, config_digest)
    mtype = "application/vnd.docker.distribution.manifest.v2+json"
    manifest = {
        "schemaVersion": 2,
        "mediaType": mtype,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": config_digest,
        },
        "layers": layers,
    }
    _put(addr, f"/v2/{repo}/manifests/{tag}", json.dumps(manifest).encode(), mtype)
    return config_digest, diff_ids


class _StallingProxy:
    """A loopback HTTP proxy to a registry that, while ``release`` is unset, sends the first
    bytes of a layer blob and then holds the connection (``stalled`` is set)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.addr = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.done = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.done:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        import http.server  # noqa: F401 - parsing by hand below keeps it small

        f = conn.makefile("rb")
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                if not line.startswith((b"GET ", b"HEAD ", b"POST ", b"PUT ", b"PATCH ")):
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                    return  # a TLS ClientHello, answered as Distribution does
                method, path, _ = line.decode().split(" ", 2)
                headers = {}
                while (h := f.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip()] = v.strip()
                length = int(headers.get("Content-Length", "0"))
                body = f.read(length) if length else None
                up = _conn(self.target)
                fwd = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
                up.request(method, path, body=body, headers=fwd)
                r = up.getresponse()
                data = r.read()
                out = [f"HTTP/1.1 {r.status} {r.reason}\r\n".encode()]
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        out.append(f"{k}: {v}\r\n".encode())
                out.append(f"Content-Length: {len(data)}\r\n\r\n".encode())
                conn.sendall(b"".join(out))
                blob = "/blobs/" in path and method == "GET" and len(data) > 100_000
                if blob and not self.release.is_set():
                    conn.sendall(data[: len(data) // 3])
                    self.stalled.set()
                    self.release.wait(60)
                    return
                conn.sendall(data)
                up.close()
        except OSError:
            return
        finally:
            f.close()
            conn.close()

    def stop(self) -> None:
        self.done = True
        self.sock.close()
