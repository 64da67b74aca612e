"""Reading archives without an engine: staging, symlinks inside the archive, digests."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from dockerlab.engine.images.saveload import LoadError, _read_docker, _read_oci, _Staged


def _tar(entries: list[tuple[str, bytes | None, str]]) -> io.BytesIO:
    """(name, data, linkname): data None and a linkname make a symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data, link in entries:
            ti = tarfile.TarInfo(name)
            if data is None:
                ti.type, ti.linkname = tarfile.SYMTYPE, link
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    buf.seek(0)
    return buf


def _layer(name: str = "hello", data: bytes = b"hi\n") -> bytes:
    return _tar([(name, data, "")]).getvalue()


def _staged(tmp_path, entries) -> _Staged:
    s = _Staged(str(tmp_path))
    s.read(_tar(entries))
    return s


def _config(layers: list[bytes]) -> bytes:
    diff_ids = ["sha256:" + hashlib.sha256(x).hexdigest() for x in layers]
    return json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()


def test_legacy_manifest_with_symlinked_shared_layer_is_read(tmp_path):
    layer = _layer()
    cfg = _config([layer])
    cid = hashlib.sha256(cfg).hexdigest()
    manifest = json.dumps(
        [{"Config": f"{cid}.json", "RepoTags": ["a:1"], "Layers": ["v2/layer.tar"]}]
    ).encode()
    s = _staged(
        tmp_path,
        [
            ("v1/layer.tar", layer, ""),
            ("v2/layer.tar", None, "../v1/layer.tar"),
            (f"{cid}.json", cfg, ""),
            ("manifest.json", manifest, ""),
        ],
    )
    (image,) = _read_docker(s)
    assert image.id == "sha256:" + cid
    assert [t.familiar() for t in image.tags] == ["a:1"]


def test_layer_not_matching_the_config_diff_id_is_refused(tmp_path):
    cfg = _config([_layer()])
    manifest = json.dumps([{"Config": "c.json", "Layers": ["l.tar"]}]).encode()
    s = _staged(
        tmp_path,
        [
            ("l.tar", _layer(data=b"evil\n"), ""),
            ("c.json", cfg, ""),
            ("manifest.json", manifest, ""),
        ],
    )
    with pytest.raises(LoadError, match="does not match the image config"):
        _read_docker(s)


def test_config_whose_name_is_not_its_digest_is_refused(tmp_path):
    cfg = _config([])
    name = "0" * 64 + ".json"
    manifest = json.dumps([{"Config": name, "Layers": []}]).encode()
    s = _staged(tmp_path, [(name, cfg, ""), ("manifest.json", manifest, "")])
    with pytest.raises(LoadError, match="corrupt"):
        _read_docker(s)


def test_layers_count_mismatch_uses_dockers_message(tmp_path):
    cfg = _config([_layer()])
    manifest = json.dumps([{"Config": "c.json", "Layers": []}]).encode()
    s = _staged(tmp_path, [("c.json", cfg, ""), ("manifest.json", manifest, "")])
    with pytest.raises(LoadError, match="layers length mismatch: expected 1, got 0"):
        _read_docker(s)


@pytest.mark.parametrize("name", ["../evil", "/etc/evil", "a/../../evil"])
def test_outer_entries_outside_the_archive_are_refused(tmp_path, name):
    with pytest.raises(LoadError, match="absolute path|outside of the archive"):
        _staged(tmp_path, [(name, b"x", "")])


def test_symlink_pointing_out_of_the_archive_is_never_followed(tmp_path):
    manifest = json.dumps([{"Config": "c.json", "Layers": []}]).encode()
    s = _staged(
        tmp_path, [("c.json", None, "../../../../etc/passwd"), ("manifest.json", manifest, "")]
    )
    with pytest.raises(LoadError, match="outside of the archive"):
        _read_docker(s)


def test_absolute_symlink_is_resolved_inside_the_archive(tmp_path):
    cfg = _config([])
    manifest = json.dumps([{"Config": "c.json", "Layers": []}]).encode()
    s = _staged(
        tmp_path,
        [("real.json", cfg, ""), ("c.json", None, "/real.json"), ("manifest.json", manifest, "")],
    )
    (image,) = _read_docker(s)
    assert image.id == "sha256:" + hashlib.sha256(cfg).hexdigest()


def test_oci_layout_with_gzip_layer_and_name_annotation_is_read(tmp_path):
    import gzip

    layer = _layer()
    gz = gzip.compress(layer, mtime=0)
    cfg = _config([layer])

    def d(b: bytes) -> str:
        return "sha256:" + hashlib.sha256(b).hexdigest()

    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "config": {"digest": d(cfg), "size": len(cfg)},
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": d(gz),
                    "size": len(gz),
                }
            ],
        }
    ).encode()
    index = json.dumps(
        {
            "manifests": [
                {
                    "digest": d(manifest),
                    "size": len(manifest),
                    "annotations": {"io.containerd.image.name": "docker.io/library/x:2"},
                }
            ]
        }
    ).encode()
    s = _staged(
        tmp_path,
        [(f"blobs/sha256/{d(b)[7:]}", b, "") for b in (cfg, gz, manifest)]
        + [("index.json", index, ""), ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', "")],
    )
    (image,) = _read_oci(s)
    assert [t.familiar() for t in image.tags] == ["x:2"]
    assert image.layers[0][1] == d(layer)


def test_truncated_archive_is_refused(tmp_path):
    data = _tar([("a", b"x" * 5000, "")]).getvalue()[:2000]
    with pytest.raises(LoadError, match="Error processing tar file"):
        _Staged(str(tmp_path)).read(io.BytesIO(data))
