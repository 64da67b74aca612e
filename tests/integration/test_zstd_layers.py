"""zstd-compressed layers (``application/vnd.oci.image.layer.v1.tar+zstd``): pulled from a real
registry (Debian's docker-registry) in pull's single pass and run, pushed back as they are,
loaded from an archive; a zstd bomb and corrupt zstd data refused with the store unchanged.
The images are made here from real tars with the ``zstandard`` module."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest
import zstandard
from helpers import cli, cli_env
from registry_fixture import registry
from test_registry import (
    _fresh_roots_leave_no_network,
    _get,
    _pull_reporting,
    _put,
    _upload,
    fresh,
    state_of,
    text,
)

__all__ = ["_fresh_roots_leave_no_network", "registry"]  # fixtures

ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
HELLO = b"hello from a zstd layer\n"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _zstd(data: bytes, frames: int = 1) -> bytes:
    """``data`` as a streaming zstd writer makes it (no content size), in ``frames`` frames
    with a skippable frame between them (as zstd:chunked writes)."""
    out = []
    step = -(-len(data) // frames)
    for at in range(0, len(data), step):
        buf = io.BytesIO()
        with zstandard.ZstdCompressor(level=3).stream_writer(buf, closefd=False) as w:
            w.write(data[at : at + step])
        out.append(buf.getvalue())
    skippable = b"\x50\x2a\x4d\x18" + (4).to_bytes(4, "little") + b"meta"
    return skippable.join(out)


def _hello_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("srv/hello.txt")
        ti.size, ti.mode = len(HELLO), 0o644
        tf.addfile(ti, io.BytesIO(HELLO))
    return buf.getvalue()


def _layers(engine) -> list[bytes]:
    """Two real layer tars: busybox's (from the store) and one holding /srv/hello.txt."""
    store = engine.image_store
    config = json.loads(open(store.blob_path(engine.image_inspect("busybox")["Id"]), "rb").read())
    (diff,) = config["rootfs"]["diff_ids"]
    return [open(store.blob_path(diff), "rb").read(), _hello_tar()]


def _config(diff_ids: list[str]) -> bytes:
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["cat", "/srv/hello.txt"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()


def _push_zstd(addr: str, repo: str, tag: str, blobs: list[bytes], diff_ids: list[str]) -> str:
    """An OCI image whose layers are the zstd ``blobs``, pushed by plain HTTP: its ID."""
    layers = []
    for blob in blobs:
        _upload(addr, repo, blob, _sha(blob))
        layers.append({"mediaType": ZSTD_LAYER, "size": len(blob), "digest": _sha(blob)})
    config = _config(diff_ids)
    _upload(addr, repo, config, _sha(config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": len(config),
            "digest": _sha(config),
        },
        "layers": layers,
    }
    _put(addr, f"/v2/{repo}/manifests/{tag}", json.dumps(manifest).encode(), OCI_MANIFEST)
    return _sha(config)


def test_a_zstd_image_pulls_runs_and_pushes_back_as_it_is(engine, registry, tmp_path):
    tars = _layers(engine)
    blobs = [_zstd(tars[0], frames=3), _zstd(tars[1])]
    diff_ids = [_sha(t) for t in tars]
    ref = f"{registry.addr}/lab/zstd:1"
    image_id = _push_zstd(registry.addr, "lab/zstd", "1", blobs, diff_ids)

    other = fresh(tmp_path)
    r, loaded = _pull_reporting(other, ref, "'zstandard' in sys.modules")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().splitlines()
    assert out[-2:] == [f"Status: Downloaded newer image for {ref}", ref]
    assert [line for line in out if "Pull complete" in line] == [
        f"{_sha(b)[7:19]}: Pull complete" for b in blobs
    ]
    assert loaded == "True"  # imported: a zstd layer was met
    got = json.loads(cli(other, "image", "inspect", ref).stdout)[0]
    assert got["Id"] == image_id
    assert got["RootFS"]["Layers"] == diff_ids
    r = cli(other, "run", "--rm", "--network", "none", ref)
    assert (r.returncode, r.stdout) == (0, HELLO), r.stderr
    r = cli(other, "run", "--rm", "--network", "none", ref, "sh", "-c", "echo $((6*7))")
    assert (r.returncode, r.stdout) == (0, b"42\n"), r.stderr

    # push: the registry holds the zstd blobs; they are named as they are, never re-made
    code, out, err = text(cli(other, "push", ref))
    assert (code, err) == (0, ""), out
    assert out.count("Layer already exists") == 2
    copy = f"{registry.addr}/lab/zstd-copy:1"
    assert cli(other, "tag", ref, copy).returncode == 0
    code, out, err = text(cli(other, "push", copy))
    assert (code, err) == (0, ""), out
    assert out.count("Mounted from lab/zstd") == 2
    manifest = json.loads(_get(registry.addr, "/v2/lab/zstd-copy/manifests/1"))
    assert manifest["config"]["digest"] == image_id
    assert [(d["mediaType"], d["digest"], d["size"]) for d in manifest["layers"]] == [
        (ZSTD_LAYER, _sha(b), len(b)) for b in blobs
    ]
    for blob in blobs:
        assert _get(registry.addr, f"/v2/lab/zstd-copy/blobs/{_sha(blob)}") == blob
    third = fresh(tmp_path, "third")
    assert cli(third, "pull", copy).returncode == 0
    assert json.loads(cli(third, "image", "inspect", copy).stdout)[0]["Id"] == image_id


def test_a_gzip_pull_does_not_import_zstandard(engine, registry, tmp_path):
    ref = f"{registry.addr}/lab/busybox:gz"
    engine.image_tag("busybox", ref)
    assert cli(engine.paths.root, "push", ref).returncode == 0
    r, loaded = _pull_reporting(fresh(tmp_path), ref, "'zstandard' in sys.modules")
    assert r.returncode == 0, r.stderr
    assert loaded == "False"


def test_without_the_zstandard_module_a_zstd_layer_is_refused_clearly(engine, registry, tmp_path):
    tar = _hello_tar()
    blob = _zstd(tar)
    _push_zstd(registry.addr, "lab/znomod", "1", [blob], [_sha(tar)])
    other = fresh(tmp_path)
    cli(other, "images")
    before = state_of(other)
    code = (
        "import runpy, sys\n"
        "sys.modules['zstandard'] = None  # as if it were not installed\n"
        "sys.argv = ['dockerlab', 'pull', sys.argv.pop()]\n"
        "runpy.run_module('dockerlab', run_name='__main__', alter_sys=True)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, f"{registry.addr}/lab/znomod:1"],
        env=cli_env(other),
        capture_output=True,
        timeout=120,
    )
    assert r.returncode == 1
    assert r.stderr.decode() == (
        f"Error response from daemon: layer {_sha(blob)} is zstd-compressed: reading it needs "
        "the zstandard module: pip install zstandard\n"
    )
    assert state_of(other) == before


def test_a_zstd_bomb_is_refused_and_nothing_is_kept(engine, registry, tmp_path):
    """300 MiB of zeros in a few kB of zstd (a 1000:1 gzip bomb is mild beside it): stopped
    at the inflate bounds, inflated a piece at a time, never held in memory."""
    zeros = bytes(1 << 20)
    diff = hashlib.sha256()
    buf = io.BytesIO()
    with zstandard.ZstdCompressor(level=19).stream_writer(buf, closefd=False) as w:
        for _ in range(300):
            diff.update(zeros)
            w.write(zeros)
    blob = buf.getvalue()
    assert len(blob) < 100_000
    _push_zstd(registry.addr, "lab/zbomb", "1", [blob], ["sha256:" + diff.hexdigest()])
    other = fresh(tmp_path)
    cli(other, "images")
    before = state_of(other)
    peak = "[x.split()[1] for x in open('/proc/self/status') if x.startswith('VmHWM')][0]"
    r, hwm = _pull_reporting(other, f"{registry.addr}/lab/zbomb:1", peak)
    assert r.returncode == 1
    assert "refusing a decompression bomb" in r.stderr.decode(), r.stderr
    assert int(hwm) < 150_000, hwm  # KiB
    assert state_of(other) == before


@pytest.mark.parametrize("damage", ["truncated", "reserved-bit"])
def test_corrupt_zstd_data_is_refused_and_nothing_is_kept(engine, registry, tmp_path, damage):
    """The blob's digest is right (the registry serves what it was given): the zstd data in
    it is bad, cut short or with a frame header no decoder accepts."""
    tar = _hello_tar()
    blob = _zstd(tar + bytes(10_000))
    cut, bad_header = blob[:-7], blob[:4] + bytes([blob[4] | 0x08]) + blob[5:]  # reserved bit
    blob = cut if damage == "truncated" else bad_header
    repo = f"lab/zbad-{damage}"
    _push_zstd(registry.addr, repo, "1", [blob], [_sha(tar + bytes(10_000))])
    other = fresh(tmp_path)
    cli(other, "images")
    before = state_of(other)
    code, out, err = text(cli(other, "pull", f"{registry.addr}/{repo}:1"))
    assert code == 1
    prefix = f"Error response from daemon: failed to register layer: {_sha(blob)}: "
    assert err.startswith(prefix), err
    if damage == "truncated":
        assert err == prefix + "unexpected EOF (the zstd data is truncated)\n"
    else:
        assert err == prefix + "zstd decompress error: Unsupported frame parameter\n"
    assert state_of(other) == before


# ---- load ----------------------------------------------------------------------------------


def _docker_archive(tars: list[bytes], blobs: list[bytes], tag: str) -> bytes:
    """A docker-archive (``manifest.json``, config, layer files) whose layer files are
    ``blobs`` (compressed as they are), the config naming the ``tars``' DiffIDs."""
    config = _config([_sha(t) for t in tars])
    names = [f"{_sha(b)[7:]}/layer.tar" for b in blobs]
    manifest = json.dumps([{"Config": "config.json", "RepoTags": [tag], "Layers": names}])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        entries = [*zip(names, blobs), ("config.json", config), ("manifest.json", manifest)]
        for name, data in entries:
            data = data.encode() if isinstance(data, str) else data
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_load_of_an_archive_with_zstd_layers_runs(engine, tmp_path):
    tars = _layers(engine)
    archive = _docker_archive(tars, [_zstd(tars[0], frames=2), _zstd(tars[1])], "zload:1")
    path = tmp_path / "zload.tar"
    path.write_bytes(archive)
    root = engine.paths.root
    code, out, err = text(cli(root, "load", "-i", str(path)))
    assert (code, out, err) == (0, "Loaded image: zload:1\n", "")
    inspect = json.loads(cli(root, "image", "inspect", "zload:1").stdout)[0]
    assert inspect["RootFS"]["Layers"] == [_sha(t) for t in tars]
    r = cli(root, "run", "--rm", "--network", "none", "zload:1")
    assert (r.returncode, r.stdout) == (0, HELLO), r.stderr
    # the whole archive zstd-compressed, as `docker load` reads it too
    engine.image_remove("zload:1", force=True)
    zpath = tmp_path / "zload.tar.zst"
    zpath.write_bytes(_zstd(archive))
    assert text(cli(root, "load", "-i", str(zpath))) == (0, "Loaded image: zload:1\n", "")


def test_load_refuses_a_zstd_layer_bomb_and_corrupt_zstd(engine, tmp_path):
    root = engine.paths.root
    before = os.listdir(engine.image_store.blobs)
    zeros = bytes(1 << 20)
    buf = io.BytesIO()
    with zstandard.ZstdCompressor(level=19).stream_writer(buf, closefd=False) as w:
        for _ in range(300):
            w.write(zeros)
    bomb = _docker_archive([b"x"], [buf.getvalue()], "zbomb:1")
    path = tmp_path / "bomb.tar"
    path.write_bytes(bomb)
    code, out, err = text(cli(root, "load", "-i", str(path)))
    assert code == 1 and "refusing a decompression bomb" in err, err
    tar = _hello_tar()
    cut = _docker_archive([tar], [_zstd(tar)[:-5]], "zcut:1")
    path.write_bytes(cut)
    code, out, err = text(cli(root, "load", "-i", str(path)))
    assert code == 1, err
    assert "is not valid zstd: unexpected EOF (the zstd data is truncated)" in err, err
    assert os.listdir(engine.image_store.blobs) == before
    assert os.listdir(engine.paths.tmp) == []


def test_import_of_a_zstd_tarball_runs(engine, tmp_path):
    tars = _layers(engine)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as out:
        for layer in tars:  # busybox's files and /srv/hello.txt in one tar
            with tarfile.open(fileobj=io.BytesIO(layer)) as tf:
                for m in tf:
                    out.addfile(m, tf.extractfile(m) if m.isreg() else None)
    path = tmp_path / "rootfs.tar.zst"
    path.write_bytes(_zstd(buf.getvalue()))
    root = engine.paths.root
    r = cli(root, "import", str(path), "zimport:1")
    assert r.returncode == 0, r.stderr
    r = cli(root, "run", "--rm", "--network", "none", "zimport:1", "cat", "/srv/hello.txt")
    assert (r.returncode, r.stdout) == (0, HELLO), r.stderr
    path.write_bytes(_zstd(buf.getvalue())[:-9])
    r = cli(root, "import", str(path), "zcut:1")
    assert r.returncode == 1
    assert r.stderr.decode() == (
        "Error response from daemon: invalid archive: unexpected EOF (the zstd data is truncated)\n"
    )
