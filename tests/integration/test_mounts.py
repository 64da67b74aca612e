"""--read-only, --tmpfs, --mount, --volumes-from, --shm-size and the init layer, read back from
inside real containers (/proc/mounts, touch, ls) as Docker's own tests do."""

from __future__ import annotations

import functools
import io
import json
import os
import tarfile

import helpers
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(engine):
    """`dockerlab ARGS` on the test's root, text output, no traceback allowed."""
    return functools.partial(helpers.cli, engine.paths.root, text=True, clean=True)


def mounts_line(out: str, point: str) -> str:
    """The /proc/mounts line of ``point``, without the device column."""
    lines = [ln for ln in out.splitlines() if ln.split()[1:2] == [point]]
    assert len(lines) == 1, out
    return " ".join(lines[0].split()[1:4])


# ---- --read-only -----------------------------------------------------------------------------


def test_read_only_root_refuses_writes_as_docker_says(cli):
    r = cli("run", "--rm", "--read-only", "busybox", "touch", "/x")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "touch: /x: Read-only file system\n")


def test_read_only_keeps_dev_shm_volumes_and_tmpfs_writable_and_etc_files_read_only(cli):
    script = (
        "grep ' / ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; "
        "for p in /dev/x /dev/shm/x /v/x /t/x /etc/hosts /etc/hostname /etc/resolv.conf /tmp/x; "
        "do touch $p 2>/dev/null && echo $p ok || echo $p ro; done"
    )
    r = cli("run", "--rm", "--read-only", "-v", "vol:/v", "--tmpfs", "/t", "busybox", "sh", "-c",
            script)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == [
        "ro",
        "/dev/x ok",
        "/dev/shm/x ok",
        "/v/x ok",
        "/t/x ok",
        "/etc/hosts ro",
        "/etc/hostname ro",
        "/etc/resolv.conf ro",
        "/tmp/x ro",
        "",
    ]
    cid = cli("create", "busybox").stdout.strip()
    r = cli("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", cid)
    assert r.stdout == "false\n"


def test_read_only_root_still_gets_a_missing_workdir(cli):
    r = cli("run", "--rm", "--read-only", "-w", "/made/here", "busybox", "pwd")
    assert (r.returncode, r.stdout) == (0, "/made/here\n"), r.stderr


# ---- --tmpfs ---------------------------------------------------------------------------------


def test_tmpfs_gets_dockers_default_options_and_the_ones_given(cli):
    r = cli("run", "--rm", "--tmpfs", "/mnt", "--tmpfs", "/run:size=1m,mode=700",
            "--tmpfs", "/a:exec", "--tmpfs", "/b:ro,uid=5",
            "--tmpfs", "/c:nr_inodes=100,rw,dev,suid,private",
            "busybox", "sh", "-c", "cat /proc/mounts; stat -c '%n %a %u' /mnt /run /b")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert mounts_line(r.stdout, "/mnt") == "/mnt tmpfs rw,nosuid,nodev,noexec,relatime"
    assert mounts_line(r.stdout, "/run") == (
        "/run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=700"
    )
    assert mounts_line(r.stdout, "/a") == "/a tmpfs rw,nosuid,nodev,relatime"
    assert mounts_line(r.stdout, "/b") == "/b tmpfs ro,nosuid,nodev,noexec,relatime,uid=5"
    assert mounts_line(r.stdout, "/c") == "/c tmpfs rw,noexec,relatime,nr_inodes=100"
    assert r.stdout.endswith("/mnt 1777 0\n/run 700 0\n/b 1777 5\n")


def test_tmpfs_is_recorded_as_docker_records_it(cli):
    cid = cli("create", "--tmpfs", "/mnt", "--tmpfs", "/run:size=1m", "busybox").stdout.strip()
    r = cli("inspect", "-f", "{{json .HostConfig.Tmpfs}} {{json .Mounts}}", cid)
    assert r.stdout == '{"/mnt":"","/run":"size=1m"} []\n'


def test_tmpfs_bad_options_are_refused_when_it_starts(cli):
    cid = cli("create", "--tmpfs", "/x:bogus", "busybox").stdout.strip()
    assert cid  # Docker creates it: the options are checked by start
    r = cli("start", cid)
    assert r.returncode == 1
    assert 'invalid tmpfs option ["bogus"]' in r.stderr
    r = cli("run", "--rm", "--tmpfs", "/x:foo=1", "busybox", "true")
    assert r.returncode == 125
    assert 'Error response from daemon: invalid tmpfs option ["foo" "1"]' in r.stderr


def test_tmpfs_destination_must_be_absolute_and_not_the_root(cli):
    r = cli("create", "--tmpfs", "x", "busybox")
    assert "invalid mount path: 'x' mount path must be absolute" in r.stderr
    r = cli("create", "--tmpfs", "/:size=1m", "busybox")
    assert "invalid specification: destination can't be '/'" in r.stderr
    assert cli("ps", "-aq").stdout == ""


def test_tmpfs_and_a_bind_on_one_destination_are_refused(cli, tmp_path):
    r = cli("create", "-v", f"{tmp_path}:/data", "--tmpfs", "/data", "busybox")
    assert r.returncode != 0
    assert "Duplicate mount point: /data" in r.stderr


# ---- --shm-size ------------------------------------------------------------------------------


def test_shm_size_defaults_to_64m_and_sizes_dev_shm(cli):
    cid = cli("create", "busybox").stdout.strip()
    assert cli("inspect", "-f", "{{.HostConfig.ShmSize}}", cid).stdout == "67108864\n"
    r = cli("run", "--rm", "busybox", "grep", " /dev/shm ", "/proc/mounts")
    assert mounts_line(r.stdout, "/dev/shm") == (
        "/dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k"
    )
    r = cli("run", "--rm", "--shm-size", "1m", "busybox", "sh", "-c",
            "grep ' /dev/shm ' /proc/mounts; df -k /dev/shm | tail -1")  # fmt: skip
    assert mounts_line(r.stdout, "/dev/shm").endswith(",size=1024k")
    assert r.stdout.splitlines()[1].split()[1] == "1024"
    cid = cli("create", "--shm-size", "2m", "busybox").stdout.strip()
    assert cli("inspect", "-f", "{{.HostConfig.ShmSize}}", cid).stdout == "2097152\n"


def test_shm_size_bad_value_is_the_flags_error(cli):
    r = cli("run", "--shm-size", "-1", "busybox")
    assert (r.returncode, r.stderr.splitlines()[0]) == (
        125,
        'invalid argument "-1" for "--shm-size" flag: invalid size: \'-1\'',
    )


# ---- --mount ---------------------------------------------------------------------------------


def test_mount_bind_volume_and_tmpfs_from_inside(cli, tmp_path):
    (tmp_path / "hello.txt").write_text("hello from bind\n")
    script = (
        "cat /data/hello.txt; echo w > /v/w; touch /data/x 2>&1; grep -E ' /(data|v|t) ' "
        "/proc/mounts | cut -d' ' -f2-4"
    )
    r = cli("run", "--rm", "--mount", f"type=bind,src={tmp_path},dst=/data,readonly",
            "--mount", "type=volume,source=mv,target=/v",
            "--mount", "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1700",
            "busybox", "sh", "-c", script)  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["hello from bind", "touch: /data/x: Read-only file system"]
    by_point = {ln.split()[0]: ln.split() for ln in lines[2:]}
    assert by_point["/data"][2].startswith("ro,")
    assert by_point["/v"][2].startswith("rw,")
    assert " ".join(by_point["/t"]) == (
        "/t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1700"
    )
    mountpoint = json.loads(cli("volume", "inspect", "mv").stdout)[0]["Mountpoint"]
    with open(os.path.join(mountpoint, "w")) as f:
        assert f.read() == "w\n"


def test_mount_is_recorded_in_inspect_as_docker_shows_it(cli, tmp_path):
    cid = cli("create", "--mount", f"type=bind,src={tmp_path},dst=/b,readonly",
              "--mount", "type=volume,src=mv1,dst=/v,volume-nocopy",
              "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1700",
              "--mount", "dst=/anon", "busybox").stdout.strip()  # fmt: skip
    info = json.loads(cli("inspect", cid).stdout)[0]
    assert info["HostConfig"]["Mounts"] == [
        {"Type": "bind", "Source": str(tmp_path), "Target": "/b", "ReadOnly": True},
        {"Type": "volume", "Source": "mv1", "Target": "/v",
         "VolumeOptions": {"NoCopy": True, "DriverConfig": {}}},
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 960}},
        {"Type": "volume", "Target": "/anon"},
    ]  # fmt: skip
    mounts = {m["Destination"]: m for m in info["Mounts"]}
    assert mounts["/b"] == {"Type": "bind", "Source": str(tmp_path), "Destination": "/b",
                            "Mode": "", "RW": False, "Propagation": "rprivate"}  # fmt: skip
    assert mounts["/v"]["Name"] == "mv1" and mounts["/v"]["Mode"] == "z"
    assert mounts["/t"] == {"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "",
                            "RW": True, "Propagation": ""}  # fmt: skip
    anon = mounts["/anon"]["Name"]
    assert len(anon) == 64 and mounts["/anon"]["Driver"] == "local"
    cli("rm", "-v", cid)
    assert anon not in cli("volume", "ls", "-q").stdout  # anonymous: removed with -v
    assert "mv1" in cli("volume", "ls", "-q").stdout


def test_mount_never_creates_a_missing_bind_source(cli, tmp_path):
    missing = tmp_path / "nope"
    r = cli("run", "--rm", "--mount", f"type=bind,src={missing},dst=/x", "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.startswith(
        'dockerlab: Error response from daemon: invalid mount config for type "bind": '
        f"bind source path does not exist: {missing}"
    )
    assert not missing.exists()
    assert cli("ps", "-aq").stdout == ""


def test_mount_flag_errors_are_the_clis(cli):
    r = cli("run", "--mount", 'type=bind,src=a"b,dst=/x', "busybox")
    assert r.returncode == 125
    assert r.stderr.splitlines()[0] == (
        'invalid argument "type=bind,src=a\\"b,dst=/x" for "--mount" flag: parse error on '
        'line 1, column 16: bare " in non-quoted-field'
    )
    r = cli("create", "--mount", "type=tmpfs", "busybox")
    assert r.stderr.splitlines()[0] == (
        'invalid argument "type=tmpfs" for "--mount" flag: target is required'
    )


def test_mount_and_v_on_one_destination_are_refused(cli, tmp_path):
    r = cli("create", "-v", f"{tmp_path}:/data", "--mount", f"type=bind,src={tmp_path},dst=/data",
            "busybox")  # fmt: skip
    assert r.returncode != 0
    assert "Error response from daemon: Duplicate mount point: /data" in r.stderr
    assert cli("ps", "-aq").stdout == ""


def test_mount_volume_copies_the_image_unless_nocopy(cli):
    assert cli("run", "--rm", "--mount", "src=full,dst=/etc", "busybox", "true").returncode == 0
    r = cli("run", "--rm", "--mount", "src=empty,dst=/etc,volume-nocopy", "busybox", "true")
    assert r.returncode == 0, r.stderr
    volumes = {v["Name"]: v["Mountpoint"] for v in
               json.loads(cli("volume", "inspect", "full", "empty").stdout)}  # fmt: skip
    assert "passwd" in os.listdir(volumes["full"])
    assert "passwd" not in os.listdir(volumes["empty"])


def test_mount_bind_propagation_reaches_the_kernel(cli, tmp_path):
    r = cli("run", "--rm", "--mount", f"type=bind,src={tmp_path},dst=/p,bind-propagation=rshared",
            "busybox", "grep", " /p ", "/proc/self/mountinfo")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "shared:" in r.stdout.split(" - ")[0]


# ---- --volumes-from --------------------------------------------------------------------------


def test_volumes_from_mounts_the_others_volumes_and_binds_at_the_same_places(cli, tmp_path):
    (tmp_path / "f").write_text("bound\n")
    cli("create", "--name", "data", "-v", "named:/n", "-v", "/anon", "-v", f"{tmp_path}:/b",
        "busybox")  # fmt: skip
    r = cli("run", "--rm", "--volumes-from", "data", "busybox", "sh", "-c",
            "cat /b/f; echo n > /n/x; echo a > /anon/x; echo ok")  # fmt: skip
    assert (r.returncode, r.stdout) == (0, "bound\nok\n"), r.stderr
    r = cli("run", "--rm", "--volumes-from", "data:ro", "busybox", "sh", "-c",
            "cat /n/x /anon/x; touch /n/y 2>&1; touch /b/y 2>&1; true")  # fmt: skip
    assert r.stdout == (
        "n\na\ntouch: /n/y: Read-only file system\ntouch: /b/y: Read-only file system\n"
    )
    cid = cli("create", "--volumes-from", "data:ro", "busybox").stdout.strip()
    info = json.loads(cli("inspect", cid).stdout)[0]
    assert info["HostConfig"]["VolumesFrom"] == ["data:ro"]
    mounts = {m["Destination"]: m for m in info["Mounts"]}
    assert sorted(mounts) == ["/anon", "/b", "/n"]
    assert not any(m["RW"] for m in mounts.values())
    assert mounts["/n"]["Name"] == "named" and mounts["/n"]["Mode"] == ""
    # the consumer's `rm -v` leaves the volume it borrowed
    anon = mounts["/anon"]["Name"]
    cli("rm", "-v", cid)
    assert anon in cli("volume", "ls", "-q").stdout


def test_volumes_from_refusals_are_the_daemons(cli):
    r = cli("create", "--volumes-from", "nope", "busybox")
    assert "No such container: nope" in r.stderr
    cli("create", "--name", "x", "busybox")
    for mode in ("foo", "rshared", "nocopy"):
        r = cli("create", "--volumes-from", f"x:{mode}", "busybox")
        assert f"Error response from daemon: invalid mode: {mode}" in r.stderr


# ---- the tree runc makes ---------------------------------------------------------------------


def test_etc_mtab_links_to_proc_mounts_and_dev_console_is_in_the_tree(engine, cli, tmp_path):
    r = cli("run", "--name", "tree", "busybox", "sh", "-c",
            "readlink /etc/mtab; grep -c ' / ' /etc/mtab; ls /dev/console 2>&1; true")  # fmt: skip
    assert r.stdout.splitlines()[:2] == ["/proc/mounts", "1"], (r.stdout, r.stderr)
    # no terminal, no /dev/console inside (runc makes it for a terminal only)
    assert "No such file or directory" in r.stdout.splitlines()[2]
    buf = io.BytesIO()
    engine.export("tree", buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        mtab = tar.getmember("etc/mtab")
        assert mtab.issym() and mtab.linkname == "/proc/mounts"
        assert tar.getmember("dev/console").isreg()
        assert {tar.getmember(n).mode for n in ("dev/console", ".dockerenv", "etc/hosts")} == {
            0o755
        }  # as Docker's init layer makes them
    out = tmp_path / "etccopy"
    assert cli("cp", "tree:/etc", str(out)).returncode == 0
    assert sorted(os.listdir(out)) == [
        "group", "hostname", "hosts", "mtab", "passwd", "resolv.conf"
    ]  # fmt: skip
    assert cli("diff", "tree").stdout == ""  # the init layer is not the container's change


# ---- attacks: a link in the image never sends a mount target onto the host -----------------


def test_tmpfs_and_mount_targets_through_an_image_link_stay_inside_the_root(engine, cli, tmp_path):
    # The image holds /evil -> <an empty host folder>. Resolved on the host (the naive
    # os.makedirs(rootfs + target) and a mount on that path), a --tmpfs or --mount target
    # under /evil would be made in the host's folder and mounted there; resolved in the
    # root it lands in the container's own tree, at that path.
    host_dir = tmp_path / "host-folder"
    host_dir.mkdir()
    r = cli("run", "--name", "mk", "busybox", "ln", "-s", str(host_dir), "/evil")
    assert r.returncode == 0, r.stderr
    assert cli("commit", "mk", "evil:1").returncode == 0
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "marker").write_text("bound\n")
    script = f"grep -o ' {host_dir}/[a-z0-9]* ' /proc/mounts; cat {host_dir}/b/marker"
    r = cli(
        "run", "--rm", "--tmpfs", "/evil/t1", "--mount", "type=tmpfs,dst=/evil/t2",
        "--mount", f"type=bind,src={tmp_path / 'src'},dst=/evil/b",
        "--mount", "type=volume,src=ev,dst=/evil/v", "evil:1", "sh", "-c", script,
    )  # fmt: skip
    assert os.listdir(host_dir) == [], "a mount target was made in the host's folder"
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == sorted(
        [f"{host_dir}/{n}" for n in ("t1", "t2", "b", "v")] + ["bound"]
    )


# ---- local volumes with options (volume-opt, volume create -o) -------------------------------


def _mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def test_volume_opt_mounts_the_volume_while_containers_use_it(cli):
    opts = 'volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=2m,mode=700"'
    r = cli("run", "-d", "--name", "keep", "--mount", f"type=volume,src=tv,dst=/w,{opts}",
            "busybox", "sh", "-c", "echo hi > /w/f; touch /ready; sleep 60")  # fmt: skip
    assert r.returncode == 0, r.stderr
    info = json.loads(cli("volume", "inspect", "tv").stdout)[0]
    assert info["Options"] == {"device": "tmpfs", "o": "size=2m,mode=700", "type": "tmpfs"}
    data = info["Mountpoint"]
    helpers.wait_until(lambda: os.path.exists(os.path.join(data, "f")))
    assert _mounted(data)  # on the host, as Docker's local driver mounts it
    r = cli("run", "--rm", "-v", "tv:/x", "busybox", "sh", "-c",
            "grep ' /x ' /proc/mounts | cut -d' ' -f3,4; cat /x/f")  # fmt: skip
    assert r.stdout == "tmpfs rw,relatime,size=2048k,mode=700\nhi\n", r.stderr
    assert _mounted(data)  # the other user still runs
    assert cli("rm", "-f", "keep").returncode == 0
    helpers.wait_until(lambda: not _mounted(data))  # the last user gone: unmounted
    r = cli("run", "--rm", "-v", "tv:/x", "busybox", "ls", "/x")
    assert r.stdout == ""  # a fresh tmpfs, as Docker's


def test_volume_create_options_are_checked_as_the_local_driver_does(cli):
    r = cli("volume", "create", "-o", "foo=bar", "xx")
    assert r.stderr == 'Error response from daemon: create xx: invalid option: "foo"\n'
    r = cli("volume", "create", "-o", "type=tmpfs", "xx")
    assert r.stderr == 'Error response from daemon: create xx: missing required option: "device"\n'
    assert cli("volume", "ls", "-q").stdout == ""
    cli("volume", "create", "-o", "type=bogusfs", "-o", "device=x", "bad")
    r = cli("run", "--rm", "-v", "bad:/b", "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.startswith(
        "dockerlab: Error response from daemon: error while mounting volume '"
    )
    assert "failed to mount local volume: mount x:" in r.stderr and "no such device" in r.stderr


def test_mount_bind_nonrecursive_leaves_the_sources_submounts_out(cli, tmp_path):
    from dockerlab.engine.runtime import linux as L

    sub = tmp_path / "src" / "sub"
    sub.mkdir(parents=True)
    L.mount("tmpfs", str(sub), "tmpfs", 0, "size=1m")
    try:
        (sub / "on-submount").write_text("x")
        src = tmp_path / "src"
        r = cli("run", "--rm", "--mount", f"type=bind,src={src},dst=/b", "busybox", "ls", "/b/sub")
        assert r.stdout == "on-submount\n", r.stderr
        r = cli("run", "--rm", "--mount", f"type=bind,src={src},dst=/b,bind-nonrecursive",
                "busybox", "ls", "/b/sub")  # fmt: skip
        assert (r.returncode, r.stdout) == (0, ""), r.stderr
    finally:
        L.umount(str(sub), L.MNT_DETACH)
