"""docker cp on real containers: both ways, running and stopped, Docker's rules and messages."""

from __future__ import annotations

import io
import os
import tarfile

import pytest
from helpers import cli_main, wait_until

from dockerlab.errors import DockerlabError, NotFound


def started(engine, script: str) -> str:
    cid, _ = engine.run(
        {"Image": "busybox", "Cmd": ["sh", "-c", script + " && sleep 300"]}, attach=""
    )

    def ready() -> bool:
        try:
            return bool(engine.path_stat(cid, "/ready"))
        except NotFound:
            return False

    wait_until(ready, what="the container to get ready")
    return cid


SETUP = "mkdir -p /d/sub && echo hi > /d/a && echo s > /d/sub/b && ln -s /d /lnk && touch /ready"


def cli(engine, *args, stdin=None):
    return cli_main(engine.paths.root, *args, stdin=stdin)


def tree(folder) -> list[str]:
    out = []
    for dirpath, dirs, files in os.walk(folder):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(dirpath, n), folder))
    return sorted(out)


def mounts_under(root: str) -> list[str]:
    with open("/proc/self/mounts") as f:
        return [line for line in f if root in line.split()[1]]


def test_cp_file_from_running_container_to_new_local_name(engine, tmp_path):
    cid = started(engine, SETUP)
    assert cli(engine, "cp", f"{cid}:/d/a", str(tmp_path / "copy"))[0] == 0
    assert (tmp_path / "copy").read_text() == "hi\n"


def test_cp_directory_into_existing_local_directory_nests_it(engine, tmp_path):
    cid = started(engine, SETUP)
    (tmp_path / "dst").mkdir()
    assert cli(engine, "cp", f"{cid}:/d", str(tmp_path / "dst"))[0] == 0
    assert tree(tmp_path / "dst") == ["d", "d/a", "d/sub", "d/sub/b"]


def test_cp_directory_dot_copies_its_content_only(engine, tmp_path):
    cid = started(engine, SETUP)
    (tmp_path / "dst").mkdir()
    assert cli(engine, "cp", f"{cid}:/d/.", str(tmp_path / "dst"))[0] == 0
    assert tree(tmp_path / "dst") == ["a", "sub", "sub/b"]


def test_cp_directory_to_missing_path_creates_it(engine, tmp_path):
    cid = started(engine, SETUP)
    assert cli(engine, "cp", f"{cid}:/d", str(tmp_path / "new"))[0] == 0
    assert tree(tmp_path / "new") == ["a", "sub", "sub/b"]


def test_cp_file_to_missing_directory_with_slash_says_no_such_directory(engine, tmp_path):
    cid = started(engine, SETUP)
    assert cli(engine, "cp", f"{cid}:/d/a", str(tmp_path / "nodir") + "/") == (
        1,
        "",
        "no such directory\n",
    )


def test_cp_directory_onto_a_file_cannot_copy_directory(engine, tmp_path):
    cid = started(engine, SETUP)
    (tmp_path / "f").write_text("x")
    assert cli(engine, "cp", f"{cid}:/d", str(tmp_path / "f")) == (1, "", "cannot copy directory\n")


def test_cp_missing_source_uses_dockers_message(engine, tmp_path):
    cid = started(engine, SETUP)
    code, _, err = cli(engine, "cp", f"{cid}:/nonexist", str(tmp_path / "o"))
    assert (code, err) == (
        1,
        f"Error response from daemon: Could not find the file /nonexist in container {cid}\n",
    )


def test_cp_follow_link_copies_the_target_under_the_link_name(engine, tmp_path):
    cid = started(engine, SETUP)
    assert cli(engine, "cp", f"{cid}:/lnk", str(tmp_path / "l1"))[0] == 0
    assert os.readlink(tmp_path / "l1") == "/d"
    assert cli(engine, "cp", "-L", f"{cid}:/lnk", str(tmp_path / "l2"))[0] == 0
    assert tree(tmp_path / "l2") == ["a", "sub", "sub/b"]


def test_cp_to_stdout_streams_a_tar(engine):
    cid = started(engine, SETUP)
    buf = io.BytesIO()
    engine.copy_from(cid, "/d", buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tf:
        assert sorted(tf.getnames()) == ["d", "d/a", "d/sub", "d/sub/b"]


def test_cp_into_running_container_shows_up_inside(engine, tmp_path):
    cid = started(engine, SETUP)
    (tmp_path / "note").write_text("from host\n")
    assert cli(engine, "cp", str(tmp_path / "note"), f"{cid}:/d/")[0] == 0
    proc = engine.exec(cid, ["cat", "/d/note"], stdout=-1)
    assert proc.communicate()[0] == b"from host\n"


def test_cp_into_stopped_container_lands_in_writable_layer_and_unmounts(engine, tmp_path):
    cid, att = engine.run({"Image": "busybox", "Cmd": ["true"]})
    att.collect()
    (tmp_path / "note").write_text("while stopped\n")
    assert cli(engine, "cp", str(tmp_path / "note"), f"{cid}:/etc/note")[0] == 0
    diff = os.path.join(engine.inspect(cid)["GraphDriver"]["Data"]["UpperDir"])
    assert open(os.path.join(diff, "etc", "note")).read() == "while stopped\n"
    assert mounts_under(engine.paths.root) == []
    assert [n for n in os.listdir(engine.paths.tmp) if n.startswith("cp-")] == []
    buf = io.BytesIO()
    engine.copy_from(cid, "/etc/note", buf)
    assert mounts_under(engine.paths.root) == []


def test_cp_through_container_symlink_to_etc_never_touches_the_host(engine, tmp_path):
    cid = started(engine, "ln -s ../../../../etc /d_etc && touch /ready")
    marker = f"dockerlab-cp-test-{os.getpid()}"
    (tmp_path / marker).write_text("x")
    assert cli(engine, "cp", str(tmp_path / marker), f"{cid}:/d_etc/")[0] == 0
    assert not os.path.exists(f"/etc/{marker}")
    proc = engine.exec(cid, ["ls", f"/etc/{marker}"], stdout=-1)
    assert proc.communicate()[0].strip() == f"/etc/{marker}".encode()


def test_cp_from_container_symlink_to_host_file_reads_the_containers_file(engine, tmp_path):
    cid = started(engine, "echo container > /etc/mine && ln -s /etc/mine /x && touch /ready")
    assert cli(engine, "cp", "-L", f"{cid}:/x", str(tmp_path / "x"))[0] == 0
    assert (tmp_path / "x").read_text() == "container\n"


def test_cp_into_read_only_volume_is_refused(engine, tmp_path):
    src = tmp_path / "ro"
    src.mkdir()
    cid, _ = engine.run(
        {"Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": {"Binds": [f"{src}:/ro:ro"]}},
        attach="",
    )
    (tmp_path / "f").write_text("x")
    assert cli(engine, "cp", str(tmp_path / "f"), f"{cid}:/ro/x") == (
        1,
        "",
        "Error response from daemon: mounted volume is marked read-only\n",
    )
    assert os.listdir(src) == []


def test_cp_into_volume_writes_the_volume(engine, tmp_path):
    cid, _ = engine.run(
        {"Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": {"Binds": ["cpvol:/data"]}},
        attach="",
    )
    (tmp_path / "f").write_text("vol\n")
    assert cli(engine, "cp", str(tmp_path / "f"), f"{cid}:/data/")[0] == 0
    mountpoint = engine.volume_inspect("cpvol")["Mountpoint"]
    assert open(os.path.join(mountpoint, "f")).read() == "vol\n"


def test_cp_keeps_uid_and_gid_from_the_archive(engine, tmp_path):
    cid = started(engine, "touch /ready")
    f = tmp_path / "owned"
    f.write_text("x")
    os.chown(f, 1234, 4321)
    assert cli(engine, "cp", "-a", str(f), f"{cid}:/owned")[0] == 0
    proc = engine.exec(cid, ["stat", "-c", "%u:%g", "/owned"], stdout=-1)
    assert proc.communicate()[0] == b"1234:4321\n"


def test_cp_from_stdin_needs_a_directory_destination(engine):
    cid = started(engine, SETUP)
    code, _, err = cli(engine, "cp", "-", f"{cid}:/d/a", stdin=io.TextIOWrapper(io.BytesIO()))
    assert (code, err) == (1, f'destination "{cid}:/d/a" must be a directory\n')


def test_copy_to_takes_a_tar_stream(engine):
    cid = started(engine, SETUP)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("streamed.txt")
        ti.size = 3
        tf.addfile(ti, io.BytesIO(b"abc"))
    buf.seek(0)
    engine.copy_to(cid, "/d", buf)
    assert engine.path_stat(cid, "/d/streamed.txt")["size"] == 3


def test_copy_to_refuses_tar_entries_climbing_out(engine, tmp_path):
    cid = started(engine, SETUP)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("../" * 30 + os.path.relpath(tmp_path / "evil", "/"))
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
    buf.seek(0)
    with pytest.raises(DockerlabError):
        engine.copy_to(cid, "/d", buf)
    assert not (tmp_path / "evil").exists()


def test_path_stat_reports_go_file_mode_and_resolved_link_target(engine):
    cid = started(engine, SETUP)
    st = engine.path_stat(cid, "/lnk")
    assert st["name"] == "lnk" and st["linkTarget"] == "/d"
    assert st["mode"] & (1 << 27)
    assert engine.path_stat(cid, "/d")["mode"] & (1 << 31)


def test_cp_between_two_containers_is_refused(engine):
    assert cli(engine, "cp", "a:/x", "b:/y") == (
        1,
        "",
        "copying between containers is not supported\n",
    )


def test_cp_of_etc_from_a_container_has_dockers_mtab_link(engine, tmp_path):
    # compat-diffs cp-from-dir-new: Docker's /etc holds the init layer's mtab -> /proc/mounts
    cid = started(engine, "touch /ready")
    assert cli(engine, "cp", f"{cid}:/etc", str(tmp_path / "etccopy"))[0] == 0
    names = sorted(os.listdir(tmp_path / "etccopy"))
    assert names == ["group", "hostname", "hosts", "mtab", "passwd", "resolv.conf"]
    assert os.readlink(tmp_path / "etccopy" / "mtab") == "/proc/mounts"
