"""The one in-root resolver: openat2 and the fallback walk give the same answers."""

from __future__ import annotations

import errno
import os

import pytest

from dockerlab.engine.runtime import inroot
from dockerlab.engine.runtime.inroot import Root


@pytest.fixture(params=["openat2", "walk"])
def mode(request, monkeypatch):
    if request.param == "openat2" and not inroot.HAVE_OPENAT2:
        pytest.skip("the kernel has no openat2 (Linux 5.6)")
    if request.param == "walk":
        monkeypatch.setattr(inroot, "HAVE_OPENAT2", False)
    return request.param


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("in")
    os.symlink("/a", root / "abs")
    os.symlink("../../../../../..", root / "a" / "up")
    os.symlink("/etc/passwd", root / "pw")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    (tmp_path / "outside").write_text("host")
    return root


@pytest.mark.parametrize(
    "path,follow,expected",
    [
        ("/abs/b/f", True, "/a/b/f"),
        ("abs", False, "/abs"),
        ("/a/up/a/b/f", True, "/a/b/f"),
        ("/../../a/b/f", True, "/a/b/f"),
        ("/a/b/..", True, "/a"),
        ("/", True, "/"),
    ],
)
def test_links_and_dotdot_stay_inside_the_root(tree, mode, path, follow, expected):
    with Root(str(tree)) as r, r.resolve(path, follow) as entry:
        assert entry.path == expected


def test_a_link_to_a_host_file_is_looked_up_in_the_root(tree, mode):
    with Root(str(tree)) as r:
        with pytest.raises(FileNotFoundError):
            r.resolve("/pw")
        with pytest.raises(FileNotFoundError):
            r.resolve("/a/up/outside")


def test_link_loops_end_with_eloop(tree, mode):
    with Root(str(tree)) as r, pytest.raises(OSError) as exc:
        r.resolve("/loop1")
    assert exc.value.errno == errno.ELOOP


def test_mounts_lead_to_their_sources_and_back(tree, tmp_path, mode):
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "v").write_text("volume")
    os.symlink("/a/b/f", vol / "back")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 x\n")
    (tree / "etc").mkdir()
    (tree / "etc" / "hosts").write_text("")
    with Root(str(tree), [("/data", str(vol)), ("/etc/hosts", str(hosts))]) as r:
        for path, content, mount in (
            ("/data/v", "volume", "/data"),
            ("/a/../data/back", "in", None),
            ("/etc/hosts", "127.0.0.1 x\n", "/etc/hosts"),
        ):
            with r.resolve(path) as entry:
                assert entry.mount == mount
                with open(entry.open()) as f:
                    assert f.read() == content


def test_mkdirs_follows_links_inside_and_creates_the_rest(tree, mode):
    with Root(str(tree)) as r, r.mkdirs("/abs/new/deep", 0o750) as entry:
        assert entry.path == "/a/new/deep" and entry.is_dir
    assert oct((tree / "a" / "new").stat().st_mode & 0o777) == oct(0o750)


def test_parent_resolves_all_but_the_last_component(tree, mode):
    folder, name = Root(str(tree)).parent("/abs/b/f")
    with folder:
        assert (folder.path, name) == ("/a/b", "f")


def test_entries_of_other_kinds_are_never_reopened(tree, mode):
    os.mkfifo(tree / "fifo")
    with Root(str(tree)) as r, r.resolve("/fifo") as entry, pytest.raises(OSError):
        entry.open()
