"""`export` and `import` on real containers: flat tars of the merged filesystem and back."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

import pytest
from helpers import wait_until

from dockerlab.errors import InvalidParameter


def run(engine, script: str, image: str = "busybox", **body) -> str:
    cid, att = engine.run({"Image": image, "Cmd": ["sh", "-c", script], **body})
    code, out, err = att.collect()
    assert code == 0, err
    return cid


def exported(engine, cid) -> dict[str, tarfile.TarInfo]:
    buf = io.BytesIO()
    engine.export(cid, buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tf:
        members = {m.name.rstrip("/"): m for m in tf.getmembers()}
        members["__data__"] = {
            m.name: tf.extractfile(m).read()  # type: ignore[union-attr]
            for m in tf.getmembers()
            if m.isreg() and m.size < 100
        }
    return members


def test_export_of_a_stopped_container_is_its_merged_filesystem(engine):
    cid = run(engine, "echo hi > /root/z && rm /etc/passwd && mkdir /d")
    tar = exported(engine, cid)
    assert tar["__data__"]["root/z"] == b"hi\n"
    assert "etc/passwd" not in tar and tar["d"].isdir() and tar["bin/busybox"].isreg()
    assert tar["bin/sh"].issym() and tar["bin/sh"].linkname == "busybox"
    assert not any(n.startswith(".wh.") or "/.wh." in n for n in tar)
    assert not [m for m in os.listdir(engine.paths.tmp) if m.startswith("export-")]


def test_export_holds_the_engines_files_empty_and_no_proc_sys_or_dev_contents(engine):
    cid = run(engine, "cat /etc/hostname > /seen")
    tar = exported(engine, cid)
    assert tar["__data__"]["seen"].strip()  # the container saw its real hostname
    for name in ("etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv"):
        assert tar[name].size == 0
    assert not [n for n in tar if n.startswith(("proc/", "sys/", "dev/null"))]


def test_export_holds_dockers_whole_init_layer_console_and_mtab_link(engine):
    # compat-diffs export-count: Docker's init layer also has dev/console and etc/mtab
    cid = run(engine, "readlink /etc/mtab > /seen")
    tar = exported(engine, cid)
    assert tar["__data__"]["seen"] == b"/proc/mounts\n"
    assert tar["etc/mtab"].issym() and tar["etc/mtab"].linkname == "/proc/mounts"
    assert tar["dev/console"].isreg() and tar["dev/console"].size == 0
    for name in ("etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv", "dev/console"):
        assert tar[name].mode == 0o755  # as Docker's init layer makes them


def test_export_of_a_running_container_reads_its_live_filesystem(engine):
    cid, _ = engine.run(
        {"Image": "busybox", "Cmd": ["sh", "-c", "echo live > /now; sleep 30"]}, attach=""
    )
    wait_until(lambda: engine.diff(cid))
    tar = exported(engine, cid)
    assert tar["__data__"]["now"] == b"live\n"
    assert not [n for n in tar if n.startswith("proc/")]


def test_export_then_import_makes_a_one_layer_image_that_runs(engine):
    cid = run(engine, "echo kept > /kept")
    buf = io.BytesIO()
    engine.export(cid, buf)
    buf.seek(0)
    image_id = engine.import_image(buf, "flat:1", changes=['CMD ["cat", "/kept"]'])
    info = engine.image_inspect("flat:1")
    assert info["Id"] == image_id and len(info["RootFS"]["Layers"]) == 1
    assert info["Config"]["Cmd"] == ["cat", "/kept"] and info["Parent"] == ""
    history = engine.image_history("flat:1")
    assert [h["Comment"] for h in history] == ["Imported from -"]
    cid2, att = engine.run({"Image": "flat:1"})
    assert att.collect()[:2] == (0, b"kept\n")


def test_import_reads_gzip_and_takes_a_message(engine):
    cid = run(engine, "true")
    buf = io.BytesIO()
    engine.export(cid, buf)
    packed = io.BytesIO(gzip.compress(buf.getvalue()))
    engine.import_image(packed, "gz:1", message="from a gzip")
    assert engine.image_history("gz:1")[0]["Comment"] == "from a gzip"
    assert (
        engine.image_inspect("gz:1")["RootFS"]["Layers"]
        == engine.image_inspect(engine.import_image(io.BytesIO(buf.getvalue())))["RootFS"]["Layers"]
    )


def _tar(*members: tuple[str, bytes | None, str]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data, link in members:
            ti = tarfile.TarInfo(name)
            if link:
                ti.type, ti.linkname = tarfile.SYMTYPE, link
                tf.addfile(ti)
            else:
                ti.size = len(data or b"")
                tf.addfile(ti, io.BytesIO(data or b""))
    buf.seek(0)
    return buf


@pytest.mark.parametrize(
    "members",
    [
        [("../escaped", b"x", "")],
        [("a/../../escaped", b"x", "")],
        [("evil", None, "{outside}"), ("evil/escaped", b"x", "")],
    ],
)
def test_import_never_writes_outside_the_layer(engine, tmp_path, members):
    outside = tmp_path / "outside"
    outside.mkdir()
    members = [(n, d, link.format(outside=outside)) for n, d, link in members]
    with pytest.raises(InvalidParameter):
        engine.import_image(_tar(*members), "evil:1")
    assert not (outside / "escaped").exists()
    assert not (tmp_path / "escaped").exists()
    assert not engine.image_store.exists("evil:1")


def test_import_takes_absolute_names_relative_to_the_layer(engine):
    engine.import_image(_tar(("/abs/file", b"inside", "")), "abs:1")
    assert not os.path.exists("/abs/file")
    assert engine.file_at_layer("abs:1", 0, "/abs/file") == b"inside"


def test_import_of_something_that_is_not_a_tar_is_refused(engine):
    with pytest.raises(InvalidParameter):
        engine.import_image(io.BytesIO(b"not a tar at all" * 64))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cli_export_refuses_a_terminal_and_writes_with_o(engine, tmp_path):
    from dockerlab.cli import main

    cid = run(engine, "touch /x")
    err = io.StringIO()
    code = main(["--root", engine.paths.root, "export", cid], _Terminal(), err)
    assert code == 1
    assert err.getvalue() == (
        "cowardly refusing to save to a terminal. Use the -o flag or redirect\n"
    )
    target = tmp_path / "out.tar"
    code = main(
        ["--root", engine.paths.root, "container", "export", "-o", str(target), cid],
        io.StringIO(),
        err,
    )
    assert code == 0
    with tarfile.open(target) as tf:
        assert "x" in tf.getnames()


def test_cli_import_from_a_file_prints_the_id_and_refuses_urls(engine, tmp_path):
    from dockerlab.cli import main

    cid = run(engine, "true")
    target = tmp_path / "fs.tar"
    with open(target, "wb") as f:
        engine.export(cid, f)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "--root",
            engine.paths.root,
            "image",
            "import",
            "-c",
            'CMD ["sh"]',
            str(target),
            "fromfile:1",
        ],
        out,
        err,
    )
    assert code == 0, err.getvalue()
    assert out.getvalue().strip() == engine.image_inspect("fromfile:1")["Id"]
    code = main(
        ["--root", engine.paths.root, "import", "https://example.com/x.tar"], io.StringIO(), err
    )
    assert code == 1 and "not supported" in err.getvalue()
    code = main(
        ["--root", engine.paths.root, "import", str(tmp_path / "missing.tar")], io.StringIO(), err
    )
    assert code == 1 and "no such file or directory" in err.getvalue()


def _wchar() -> int:
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("wchar:")).split()[1])


def test_import_of_a_gzip_bomb_stops_at_the_expansion_bound(engine):
    """0.7 MB of gzip claiming a 640 MiB file: refused once 256 MiB are out, not written."""
    import zlib

    ti = tarfile.TarInfo("zeros")
    ti.size = 640 << 20
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    bomb = b"".join(
        [
            c.compress(ti.tobuf()),
            *(c.compress(zeros) for _ in range(640)),
            c.compress(b"\0" * 1024),
            c.flush(),
        ]
    )
    assert len(bomb) < 1 << 20
    written = _wchar()
    with pytest.raises(InvalidParameter, match="refusing a decompression bomb"):
        engine.import_image(io.BytesIO(bomb), "bomb:1")
    written = _wchar() - written
    assert written < (256 + 16) << 20, f"import wrote {written} bytes"
    assert not engine.image_store.exists("bomb:1")
    assert os.listdir(engine.paths.tmp) == []


def test_import_refuses_a_long_name_header_over_a_mebibyte(engine):
    ti = tarfile.TarInfo("x" * (2 << 20))  # a 2 MiB name: GNU long-name entry of 2 MiB
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        tf.addfile(ti, io.BytesIO(b""))
    with pytest.raises(InvalidParameter, match="archive/tar: header field too long"):
        engine.import_image(io.BytesIO(buf.getvalue()), "long:1")


def test_import_refuses_a_later_long_name_header_over_a_mebibyte(engine):
    """Past the first entry the layer extractor reads the headers: same bound there."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        tf.addfile(tarfile.TarInfo("ok"), io.BytesIO(b""))
        tf.addfile(tarfile.TarInfo("y" * (2 << 20)), io.BytesIO(b""))
    with pytest.raises(InvalidParameter) as exc:
        engine.import_image(io.BytesIO(buf.getvalue()), "long:2")
    assert "archive/tar: header field too long" in str(exc.value)[:200]
    assert not engine.image_store.exists("long:2")
