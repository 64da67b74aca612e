"""save and load on real stores: Docker's archive format, digests, atomicity, safety."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

import pytest

from dockerlab.cli import main
from dockerlab.engine.images.saveload import LoadError

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "docker20-save-tiny.tar")
FIXTURE_ID = "sha256:40561f69032451ab46b04f15c8cd19767119c263563f58b7fcf5bf8569073186"


def saved(engine, *refs) -> bytes:
    buf = io.BytesIO()
    engine.save(list(refs), buf)
    return buf.getvalue()


def members(data: bytes) -> dict[str, bytes | None]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf:
            out[m.name] = tf.extractfile(m).read() if m.isreg() else None
    return out


def snapshot(engine) -> dict[str, str]:
    """Every file under the state root's image and overlay folders, with its content hash."""
    out = {}
    for top in (engine.paths.image, engine.paths.overlay):
        for folder, dirs, files in os.walk(top):
            for name in dirs + files:
                path = os.path.join(folder, name)
                if name == "lock":
                    continue
                digest = ""
                if os.path.isfile(path) and not os.path.islink(path):
                    with open(path, "rb") as f:
                        digest = hashlib.sha256(f.read()).hexdigest()
                out[os.path.relpath(path, engine.paths.root)] = digest
    return out


def layer_tar(entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, payload in entries:
            ti = tarfile.TarInfo(name)
            if kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, payload
                tf.addfile(ti)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            else:
                ti.size = len(payload)
                tf.addfile(ti, io.BytesIO(payload))
    return buf.getvalue()


def archive_with_layer(layer: bytes, tag: str = "evil:1") -> bytes:
    cfg = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()],
            },
        }
    ).encode()
    manifest = json.dumps(
        [{"Config": "c.json", "RepoTags": [tag], "Layers": ["l/layer.tar"]}]
    ).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (("l/layer.tar", layer), ("c.json", cfg), ("manifest.json", manifest)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_save_writes_oci_layout_manifest_json_and_repositories(engine):
    files = members(saved(engine, "busybox"))
    image_id = engine.image_inspect("busybox")["Id"]
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    (entry,) = json.loads(files["manifest.json"])
    assert entry["Config"] == "blobs/sha256/" + image_id[7:]
    assert entry["RepoTags"] == ["busybox:latest"]
    for layer in entry["Layers"]:
        assert hashlib.sha256(files[layer]).hexdigest() == layer.rsplit("/", 1)[1]
    index = json.loads(files["index.json"])
    ann = index["manifests"][0]["annotations"]
    assert ann["io.containerd.image.name"] == "docker.io/library/busybox:latest"
    assert ann["org.opencontainers.image.ref.name"] == "latest"
    assert "busybox" in json.loads(files["repositories"])


def test_save_is_deterministic(engine):
    assert saved(engine, "busybox") == saved(engine, "busybox")


def test_save_of_images_sharing_layers_writes_each_layer_once(engine):
    engine.image_tag("busybox", "other:1")
    data = saved(engine, "busybox", "other:1")
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        names = tf.getnames()
    assert len(names) == len(set(names))
    entry = json.loads(members(data)["manifest.json"])
    assert [e["RepoTags"] for e in entry] == [["busybox:latest", "other:1"]]


def test_saved_image_loads_with_same_id_and_runs(engine):
    data = saved(engine, "busybox")
    image_id = engine.image_inspect("busybox")["Id"]
    engine.image_remove("busybox", force=True)
    assert engine.load(io.BytesIO(data)) == ["busybox:latest"]
    assert engine.image_inspect("busybox")["Id"] == image_id
    _, att = engine.run(
        {"Image": "busybox", "Cmd": ["echo", "back"], "HostConfig": {"AutoRemove": True}}
    )
    assert att.collect()[:2] == (0, b"back\n")


def test_archive_saved_by_real_docker_loads_and_runs(engine):
    with open(FIXTURE, "rb") as f:
        assert engine.load(f) == ["dockerlab-fixture:tiny"]
    assert engine.image_inspect("dockerlab-fixture:tiny")["Id"] == FIXTURE_ID
    _, att = engine.run({"Image": "dockerlab-fixture:tiny", "HostConfig": {"AutoRemove": True}})
    assert att.collect()[:2] == (0, b"hello from an image saved by Docker\n")


def test_untagged_image_saved_by_id_loads_as_image_id(engine):
    image_id = engine.image_inspect("busybox")["Id"]
    data = saved(engine, image_id)
    assert json.loads(members(data)["manifest.json"])[0]["RepoTags"] is None
    assert engine.load(io.BytesIO(data)) == [image_id]


def test_corrupt_layer_is_refused_and_store_unchanged(engine):
    data = bytearray(saved(engine, "busybox"))
    engine.image_remove("busybox", force=True)
    before = snapshot(engine)
    at = data.find(b"bin/busybox")  # inside the layer blob
    data[at + 2000] ^= 0xFF
    with pytest.raises(LoadError):
        engine.load(io.BytesIO(bytes(data)))
    assert snapshot(engine) == before


def test_truncated_archive_is_refused_and_store_unchanged(engine):
    data = saved(engine, "busybox")
    before = snapshot(engine)
    with pytest.raises(LoadError, match="Error processing tar file"):
        engine.load(io.BytesIO(data[: len(data) // 2]))
    assert snapshot(engine) == before


def test_layer_climbing_out_with_dotdot_is_refused_and_writes_nothing_outside(engine, tmp_path):
    target = tmp_path / "escaped"
    rel = os.path.relpath(target, "/")
    layer = layer_tar([("ok", "file", b"1"), ("../" * 40 + rel, "file", b"pwned")])
    before = snapshot(engine)
    with pytest.raises(LoadError):
        engine.load(io.BytesIO(archive_with_layer(layer)))
    assert not target.exists()
    assert snapshot(engine) == before


def test_layer_writing_through_its_own_symlink_is_refused(engine, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    layer = layer_tar([("x", "sym", str(outside)), ("x/evil", "file", b"pwned")])
    before = snapshot(engine)
    with pytest.raises(LoadError):
        engine.load(io.BytesIO(archive_with_layer(layer)))
    assert os.listdir(outside) == []
    assert snapshot(engine) == before


def test_layer_with_absolute_names_stays_inside_the_layer(engine, tmp_path):
    target = tmp_path / "abs-target"
    layer = layer_tar([(str(target), "file", b"inside")])
    assert engine.load(io.BytesIO(archive_with_layer(layer, "abs:1"))) == ["abs:1"]
    assert not target.exists()


def test_outer_archive_symlink_to_a_host_file_is_not_read(engine):
    manifest = json.dumps([{"Config": "c.json", "Layers": []}]).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("c.json")
        ti.type, ti.linkname = tarfile.SYMTYPE, "/etc/hostname"
        tf.addfile(ti)
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(manifest)
        tf.addfile(ti, io.BytesIO(manifest))
    with pytest.raises(LoadError, match="not in the archive"):
        engine.load(io.BytesIO(buf.getvalue()))


@pytest.mark.parametrize("name", ["../../evil.json", "/evil.json"])
def test_outer_archive_entries_outside_its_folder_are_refused(engine, name):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo(name)
        ti.size = 2
        tf.addfile(ti, io.BytesIO(b"{}"))
    with pytest.raises(LoadError):
        engine.load(io.BytesIO(buf.getvalue()))
    assert not os.path.exists(os.path.join(engine.paths.root, "..", "evil.json"))


def test_cli_save_load_round_trip_prints_loaded_image(engine, tmp_path, capsys):
    out_file = tmp_path / "bb.tar"
    root = ["--root", engine.paths.root]
    assert main([*root, "save", "-o", str(out_file), "busybox"]) == 0
    assert main([*root, "load", "-i", str(out_file)]) == 0
    assert capsys.readouterr().out == "Loaded image: busybox:latest\n"


def test_cli_save_refuses_a_terminal(engine):
    import pty

    master, slave = pty.openpty()
    try:
        out = open(slave, "w", closefd=False)
        err = io.StringIO()
        assert main(["--root", engine.paths.root, "save", "busybox"], out=out, err=err) == 1
        assert err.getvalue() == (
            "cowardly refusing to save to a terminal. Use the -o flag or redirect\n"
        )
    finally:
        os.close(master)
        os.close(slave)


def test_cli_save_of_unknown_image_fails_and_leaves_no_file(engine, tmp_path):
    err = io.StringIO()
    code = main(
        ["--root", engine.paths.root, "save", "-o", str(tmp_path / "x.tar"), "nosuch"],
        out=io.StringIO(),
        err=err,
    )
    assert code == 1
    assert err.getvalue() == "Error response from daemon: No such image: nosuch\n"
    assert os.listdir(tmp_path) == ["root"]


# ---- inputs that expand far beyond their size -----------------------------------------------
BOMB_MIB = 640  # what each bomb below claims; the bound stops it at 256 MiB


def _header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    ti = tarfile.TarInfo(name)
    ti.size, ti.type = size, kind
    return ti.tobuf(format=tarfile.GNU_FORMAT)


def gzip_bomb(head: bytes, mib: int, tail: bytes = b"") -> bytes:
    """One gzip member: ``head``, ``mib`` MiB of zeros, ``tail`` (about 1 KB per MiB)."""
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    return b"".join(
        [c.compress(head), *(c.compress(zeros) for _ in range(mib)), c.compress(tail), c.flush()]
    )


@pytest.fixture(scope="module")
def tar_gz_bomb() -> bytes:
    """A 0.7 MB gzip of a tar holding one 640 MiB file of zeros."""
    name = "blobs/sha256/" + "a" * 64
    return gzip_bomb(_header(name, BOMB_MIB << 20), BOMB_MIB, b"\0" * 1024)


def wchar() -> int:
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("wchar:")).split()[1])


def test_load_of_a_gzip_bomb_stops_at_the_expansion_bound(engine, tar_gz_bomb):
    assert len(tar_gz_bomb) < 1 << 20
    before, written = snapshot(engine), wchar()
    with pytest.raises(LoadError, match="over 100 times its size: refusing a decompression"):
        engine.load(io.BytesIO(tar_gz_bomb))
    written = wchar() - written
    assert written < (256 + 16) << 20, f"load wrote {written} bytes"
    assert snapshot(engine) == before
    assert os.listdir(engine.paths.tmp) == []


def test_load_of_a_gzip_layer_bomb_stops_at_the_expansion_bound(engine):
    layer_gz = gzip_bomb(_header("big", BOMB_MIB << 20), BOMB_MIB, b"\0" * 1024)
    data = archive_with_layer(layer_gz)  # the config names a diff ID the bomb will not have
    before, written = snapshot(engine), wchar()
    with pytest.raises(LoadError, match="refusing a decompression bomb"):
        engine.load(io.BytesIO(data))
    written = wchar() - written
    assert written < (256 + 16) << 20, f"load wrote {written} bytes"
    assert snapshot(engine) == before


def test_cli_load_refuses_a_huge_long_name_header_without_reading_it(engine, tmp_path):
    """A GNU long-name entry claiming 512 MiB: Go's archive/tar refuses above 1 MiB; reading
    it whole took 2 GB of memory. The child's address space is capped to fail fast."""
    import resource
    import subprocess
    import sys

    path = tmp_path / "longname.tar.gz"
    path.write_bytes(
        gzip_bomb(_header("././@LongLink", 512 << 20, tarfile.GNUTYPE_LONGNAME), 512, b"\0" * 1024)
    )
    cap = 384 << 20

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    r = subprocess.run(
        [sys.executable, "-m", "dockerlab", "--root", engine.paths.root, "load", "-i", str(path)],
        capture_output=True,
        preexec_fn=limit,
        timeout=120,
    )
    assert r.returncode == 1
    assert b"archive/tar: header field too long" in r.stderr, r.stderr[-400:]
    assert b"Traceback" not in r.stderr


def test_gzip_compressed_save_loads_also_in_several_gzip_members(engine):
    import gzip

    data = saved(engine, "busybox")
    image_id = engine.image_inspect("busybox")["Id"]
    engine.image_remove("busybox")
    assert engine.load(io.BytesIO(gzip.compress(data))) == ["busybox:latest"]
    engine.image_remove("busybox")
    half = len(data) // 2
    two = gzip.compress(data[:half]) + gzip.compress(data[half:])  # as pigz/concatenation make
    assert engine.load(io.BytesIO(two)) == ["busybox:latest"]
    assert engine.image_inspect("busybox")["Id"] == image_id


def test_load_refuses_an_archive_of_countless_entries(engine, monkeypatch):
    from dockerlab.engine.images import saveload

    monkeypatch.setattr(saveload, "_MAX_ENTRIES", 50)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for i in range(60):
            tf.addfile(tarfile.TarInfo(f"f{i}"), io.BytesIO(b""))
    with pytest.raises(LoadError, match="more than 50 entries"):
        engine.load(io.BytesIO(buf.getvalue()))
