"""Layer tars: unpacking never escapes its folder; whiteouts convert both ways."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile

import pytest

from dockerlab.engine.images.archive import pack_dir, unpack_layer
from dockerlab.errors import InvalidParameter

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="root is needed for mknod, chown and trusted.* xattrs"
)


def _tar(*entries: tuple) -> io.BytesIO:
    """Entries: (name, kind, extra) with kind file|dir|sym|lnk; extra = data or link target."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, extra in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1_600_000_000
            if kind == "file":
                data = extra.encode()
                ti.size = len(data)
                ti.mode = 0o644
                tf.addfile(ti, io.BytesIO(data))
                continue
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, extra
            elif kind == "lnk":
                ti.type, ti.linkname = tarfile.LNKTYPE, extra
            tf.addfile(ti)
    buf.seek(0)
    return buf


@pytest.fixture
def sandbox(tmp_path):
    """(dest, outside): an empty layer folder and a sibling folder that must stay untouched."""
    dest = tmp_path / "dest"
    outside = tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (outside / "keep").write_text("original")
    return dest, outside


def _untouched(outside) -> bool:
    return sorted(os.listdir(outside)) == ["keep"] and (outside / "keep").read_text() == "original"


def test_entry_climbing_out_with_dotdot_is_refused(sandbox):
    dest, outside = sandbox
    with pytest.raises(InvalidParameter):
        unpack_layer(_tar(("../outside/evil", "file", "x")), str(dest))
    with pytest.raises(InvalidParameter):
        unpack_layer(_tar(("a/../../outside/evil", "file", "x")), str(dest))
    assert _untouched(outside)
    assert sorted(os.listdir(dest.parent)) == ["dest", "outside"]


def test_absolute_entry_lands_inside_the_layer(sandbox, tmp_path):
    dest, outside = sandbox
    target = str(outside / "abs")
    unpack_layer(_tar((target, "file", "x")), str(dest))
    assert _untouched(outside)
    assert (dest / target.lstrip("/")).read_text() == "x"


def test_file_written_through_an_earlier_symlink_is_refused(sandbox):
    dest, outside = sandbox
    for link_target in (str(outside), "../outside"):
        with pytest.raises(InvalidParameter):
            unpack_layer(
                _tar(("link", "sym", link_target), ("link/evil", "file", "pwned")), str(dest)
            )
        assert _untouched(outside)
        os.unlink(dest / "link")


def test_symlink_then_same_name_file_replaces_the_link_not_its_target(sandbox):
    dest, outside = sandbox
    unpack_layer(_tar(("keep", "sym", str(outside / "keep")), ("keep", "file", "mine")), str(dest))
    assert _untouched(outside)
    assert (dest / "keep").read_text() == "mine" and not (dest / "keep").is_symlink()


def test_hardlink_to_a_file_outside_the_layer_is_refused(sandbox):
    dest, outside = sandbox
    for target in ("/etc/passwd", "../outside/keep", str(outside / "keep")):
        with pytest.raises(InvalidParameter):
            unpack_layer(_tar(("passwd", "lnk", target)), str(dest))
    assert os.listdir(dest) == []
    assert os.stat(outside / "keep").st_nlink == 1


def test_hardlink_inside_the_layer_shares_the_inode(sandbox):
    dest, _ = sandbox
    unpack_layer(_tar(("a", "file", "data"), ("b", "lnk", "a")), str(dest))
    assert os.stat(dest / "a").st_ino == os.stat(dest / "b").st_ino


@needs_root
def test_oci_whiteouts_become_overlay_whiteouts(sandbox):
    dest, _ = sandbox
    unpack_layer(
        _tar(
            ("etc", "dir", None),
            ("etc/.wh.motd", "file", ""),
            ("opt", "dir", None),
            ("opt/.wh..wh..opq", "file", ""),
            ("opt/new", "file", "n"),
        ),
        str(dest),
    )
    st = os.lstat(dest / "etc" / "motd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert not (dest / "etc" / ".wh.motd").exists()
    assert os.getxattr(dest / "opt", "trusted.overlay.opaque") == b"y"
    assert not (dest / "opt" / ".wh..wh..opq").exists()
    assert (dest / "opt" / "new").read_text() == "n"


@needs_root
def test_overlay_xattrs_in_a_tar_are_not_trusted(sandbox):
    dest, _ = sandbox
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("d")
        ti.type = tarfile.DIRTYPE
        ti.pax_headers = {
            "SCHILY.xattr.trusted.overlay.redirect": "/etc",
            "SCHILY.xattr.user.note": "hello",
        }
        tf.addfile(ti)
    buf.seek(0)
    unpack_layer(buf, str(dest))
    assert "trusted.overlay.redirect" not in os.listxattr(dest / "d")
    assert os.getxattr(dest / "d", "user.note") == b"hello"


@needs_root
def test_unpack_keeps_modes_owners_times_and_devices(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "suid").write_text("x")
    os.chown(src / "suid", 1000, 1001)
    os.chmod(src / "suid", 0o4755)
    os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mkfifo(src / "fifo", 0o600)
    os.symlink("/bin/busybox", src / "sh")
    (src / "dir").mkdir(mode=0o750)
    os.utime(src / "dir", (1_500_000_000, 1_500_000_000))
    os.utime(src / "suid", (1_500_000_001, 1_500_000_001))
    buf = io.BytesIO()
    pack_dir(str(src), buf)
    buf.seek(0)
    dest = tmp_path / "dest"
    dest.mkdir()
    unpack_layer(buf, str(dest))
    st = os.stat(dest / "suid")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o4755)
    assert int(st.st_mtime) == 1_500_000_001
    assert os.stat(dest / "null").st_rdev == os.makedev(1, 3)
    assert stat.S_ISFIFO(os.lstat(dest / "fifo").st_mode)
    assert os.readlink(dest / "sh") == "/bin/busybox"
    assert stat.S_IMODE(os.stat(dest / "dir").st_mode) == 0o750
    assert int(os.stat(dest / "dir").st_mtime) == 1_500_000_000


@needs_root
def test_pack_turns_overlay_whiteouts_into_oci_whiteouts(tmp_path):
    src = tmp_path / "upper"
    (src / "etc").mkdir(parents=True)
    os.mknod(src / "etc" / "motd", stat.S_IFCHR, os.makedev(0, 0))
    (src / "opt").mkdir()
    os.setxattr(src / "opt", "trusted.overlay.opaque", b"y")
    (src / "opt" / "new").write_text("n")
    buf = io.BytesIO()
    digest = pack_dir(str(src), buf)
    assert digest == "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest()
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert list(members) == ["etc", "etc/.wh.motd", "opt", "opt/.wh..wh..opq", "opt/new"]
    assert members["etc/.wh.motd"].isreg() and members["etc/.wh.motd"].size == 0
    assert not any("overlay" in k for m in members.values() for k in m.pax_headers)


def test_pack_is_deterministic(tmp_path):
    src = tmp_path / "src"
    (src / "b").mkdir(parents=True)
    (src / "b" / "f").write_text("1")
    (src / "a").write_text("2")
    os.link(src / "a", src / "a2")
    first, second = io.BytesIO(), io.BytesIO()
    assert pack_dir(str(src), first) == pack_dir(str(src), second)
    assert first.getvalue() == second.getvalue()
    first.seek(0)
    with tarfile.open(fileobj=first) as tf:
        names = [(m.name, m.type) for m in tf.getmembers()]
    assert names == [
        ("a", tarfile.REGTYPE),
        ("a2", tarfile.LNKTYPE),
        ("b", tarfile.DIRTYPE),
        ("b/f", tarfile.REGTYPE),
    ]


def test_pack_then_unpack_round_trips_contents(tmp_path):
    src = tmp_path / "src"
    (src / "d" / "e").mkdir(parents=True)
    (src / "d" / "e" / "f").write_bytes(b"\x00" * 100_000)
    os.symlink("e/f", src / "d" / "ln")
    tar = tmp_path / "layer.tar"
    with open(tar, "wb") as f:
        pack_dir(str(src), f)
    dest = tmp_path / "dest"
    dest.mkdir()
    unpack_layer(str(tar), str(dest))
    assert (dest / "d" / "e" / "f").read_bytes() == b"\x00" * 100_000
    assert os.readlink(dest / "d" / "ln") == "e/f"


def _gnu_sparse_tar(real_size: int = 1 << 30) -> io.BytesIO:
    """One GNU sparse (type ``S``) member: 512 stored bytes at the end of a ``real_size``
    file, the rest a hole (what ``tar --sparse`` writes)."""

    def octal(value: int, width: int) -> bytes:
        return f"{value:0{width - 1}o}".encode() + b"\0"

    header = bytearray(512)
    header[0:3] = b"big"
    header[100:108] = octal(0o644, 8)
    header[108:116] = octal(0, 8)
    header[116:124] = octal(0, 8)
    header[124:136] = octal(512, 12)
    header[136:148] = octal(1_600_000_000, 12)
    header[156:157] = b"S"
    header[257:265] = b"ustar  \0"
    header[386:398] = octal(real_size - 512, 12)
    header[398:410] = octal(512, 12)
    header[483:495] = octal(real_size, 12)
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}".encode() + b"\0 "
    return io.BytesIO(bytes(header) + b"x" * 512 + bytes(1024))


def test_gnu_sparse_member_is_refused_as_docker_does(sandbox):
    dest, _ = sandbox
    with tarfile.open(fileobj=_gnu_sparse_tar()) as tf:  # the fixture really is sparse
        assert tf.getmembers()[0].issparse()
    with pytest.raises(
        InvalidParameter,
        match=r"^Error processing tar file\(exit status 1\): "
        r"unhandled tar header type 83$",
    ):
        unpack_layer(_gnu_sparse_tar(), str(dest))
    assert os.listdir(dest) == []


def test_hardlink_to_a_folder_is_refused_in_layers_and_cp_alike(sandbox):
    from dockerlab.engine.images.archive import Breakout, extract

    dest, _ = sandbox
    for layer in (True, False):
        with pytest.raises(Breakout, match='invalid hardlink "d2" -> "d"'):
            extract(_tar(("d", "dir", ""), ("d2", "lnk", "d")), str(dest), layer=layer)


def test_every_breakout_is_one_error_type(sandbox):
    from dockerlab.engine.images.archive import Breakout, extract

    dest, outside = sandbox
    for layer in (True, False):
        for entries in (
            (("../x", "file", "x"),),
            (("l", "sym", str(outside)), ("l/x", "file", "x")),
            (("h", "lnk", "../outside/keep"),),
        ):
            with pytest.raises(Breakout):
                extract(_tar(*entries), str(dest), layer=layer)
    assert _untouched(outside)


def test_pax_sparse_member_keeps_its_holes(sandbox):
    # GNU.sparse 1.0 in PAX headers (what GNU tar --posix --sparse writes): the 1 GB file is
    # written as a sparse file, as Go's reader writes it for Docker, not a GB of zeros.
    real = 1 << 30
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("GNUSparseFile.0/big")
        ti.pax_headers = {
            "GNU.sparse.major": "1",
            "GNU.sparse.minor": "0",
            "GNU.sparse.name": "big",
            "GNU.sparse.realsize": str(real),
        }
        body = f"1\n{real - 512}\n512\n".encode().ljust(512, b"\0") + b"x" * 512
        ti.size = len(body)
        tf.addfile(ti, io.BytesIO(body))
    buf.seek(0)
    dest, _ = sandbox
    unpack_layer(buf, str(dest))
    st = os.stat(dest / "big")
    assert st.st_size == real and st.st_blocks * 512 < (1 << 20)
    with open(dest / "big", "rb") as f:
        f.seek(real - 512)
        assert f.read() == b"x" * 512
