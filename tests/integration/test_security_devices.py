"""The device cgroup, attacked for real: a default container may mknod any device (as with
Docker) but may open only Docker's default devices and its ``--device`` ones.

Each attack uses a host device the test makes: a loop device over a file holding a secret
(``losetup``), and the host's ``tty1`` (char 4:1). Before the device cgroup, a container read
and wrote the loop device and wrote to tty1.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import uuid

import helpers
import pytest
from helpers import daemon

from dockerlab import errors
from dockerlab.engine.runtime.cgroups import devices as D
from dockerlab.engine.runtime.cgroups.mounts import parse_mountinfo

pytestmark = pytest.mark.integration

SECRET = b"host-secret-0123"


def run(engine, cmd, **body):
    cid, att = engine.run({"Image": "busybox", "Cmd": list(cmd), **body})
    return cid, att.collect()


def sh(engine, script, **body):
    _, (code, out, err) = run(engine, ["sh", "-c", script], **body)
    return code, out.decode(), err.decode()


@pytest.fixture
def loop(tmp_path):
    """(device path, major, minor, backing file) of a loop device over a file of secrets."""
    backing = tmp_path / "disk.img"
    backing.write_bytes(SECRET * 4096)
    made = subprocess.run(["losetup", "-f", "--show", str(backing)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"losetup cannot attach a loop device here: {made.stderr.strip()}")
    dev = made.stdout.strip()
    rdev = os.stat(dev).st_rdev
    try:
        yield dev, os.major(rdev), os.minor(rdev), backing
    finally:
        subprocess.run(["losetup", "-d", dev], capture_output=True)


# ---- the attacks ----------------------------------------------------------------------------
def test_mknod_of_a_host_block_device_works_but_it_cannot_be_read_or_written(engine, loop):
    _, major, minor, backing = loop
    code, out, err = sh(
        engine,
        f"mknod /disk b {major} {minor} && echo made; "
        "dd if=/disk bs=16 count=1 2>&1; "
        "echo overwritten | dd of=/disk conv=notrunc 2>&1",
    )
    assert "made" in out  # Docker allows mknod of any device ("b *:* m")
    assert SECRET.decode() not in out
    assert out.count("Operation not permitted") == 2, out
    assert backing.read_bytes()[:16] == SECRET


def test_host_tty_made_with_mknod_cannot_be_opened_for_writing(engine):
    code, out, err = sh(engine, "mknod /tty1 c 4 1 && echo made; echo owned > /tty1")
    assert "made" in out
    assert code != 0 and "Operation not permitted" in err


def test_exec_is_held_to_the_same_device_rules(engine, loop):
    _, major, minor, _ = loop
    cid = daemon(engine)
    proc = engine.exec(
        cid,
        ["sh", "-c", f"mknod /d b {major} {minor}; dd if=/d count=1"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode != 0
    assert b"Operation not permitted" in out and SECRET not in out


def test_a_device_node_shipped_in_an_image_does_not_open(engine, loop):
    """An image from anywhere may carry device nodes (the layer unpacker makes them)."""
    _, major, minor, _ = loop
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add("/bin/busybox", "bin/busybox")
        node = tarfile.TarInfo("disk")
        node.type, node.mode, node.devmajor, node.devminor = tarfile.BLKTYPE, 0o666, major, minor
        tar.addfile(node)
    buf.seek(0)
    tag = f"devimg-{uuid.uuid4().hex[:8]}:1"
    engine.import_image(buf, tag)
    _, (code, out, err) = run(engine, ["/bin/busybox", "dd", "if=/disk", "count=1"], Image=tag)
    assert code != 0 and SECRET not in out
    assert b"Operation not permitted" in err


def test_docker_default_devices_still_work(engine):
    code, out, err = sh(
        engine,
        "echo x > /dev/null && head -c 4 /dev/zero | wc -c && "
        "head -c 4 /dev/urandom | wc -c && head -c 4 /dev/random | wc -c"
        " && ! echo x 2>/dev/null > /dev/full && echo ok",
    )
    assert code == 0, err
    assert out.split() == ["4", "4", "4", "ok"]


def test_a_terminal_container_opens_its_pty(engine):
    _, (code, out, _) = run(engine, ["sh", "-c", "tty && echo hi > $(tty)"], Tty=True)
    assert code == 0 and b"/dev/pts/" in out and b"hi" in out


def test_the_cgroup_holds_dockers_rules(engine):
    cid = daemon(engine)
    with open("/proc/self/mountinfo") as f:
        points = [
            p
            for p, kind, opts in parse_mountinfo(f.read())
            if kind == "cgroup" and "devices" in opts.split(",")
        ]
    if not points:
        pytest.skip("no cgroup v1 devices hierarchy on this host")
    with open(os.path.join(points[0], "dockerlab", cid, "devices.list")) as f:
        listed = set(f.read().split("\n")) - {""}
    assert listed == {
        "c *:* m",
        "b *:* m",
        "c 1:3 rwm",
        "c 1:5 rwm",
        "c 1:7 rwm",
        "c 1:8 rwm",
        "c 1:9 rwm",
        "c 5:0 rwm",
        "c 5:1 rwm",
        "c 5:2 rwm",
        "c 10:200 rwm",
        "c 136:* rwm",
    }


# ---- --device and privileged ---------------------------------------------------------------
def _rwx(mode: str) -> str:
    bits = int(mode, 8)
    return "".join(c if bits & (1 << (8 - i)) else "-" for i, c in enumerate("rwxrwxrwx"))


def test_device_flag_creates_the_node_and_allows_it(engine, loop):
    dev, major, minor, backing = loop
    devices = [{"PathOnHost": dev, "PathInContainer": "/dev/xdisk", "CgroupPermissions": "rwm"}]
    code, out, err = sh(
        engine,
        "stat -c '%A %t:%T' /dev/xdisk; dd if=/dev/xdisk bs=16 count=1"
        " 2>/dev/null; echo; printf overwritten | dd of=/dev/xdisk"
        " conv=notrunc,fsync 2>/dev/null && echo wrote",
        HostConfig={"Devices": devices},
    )
    assert code == 0, err
    mode = oct(os.stat(dev).st_mode & 0o777)
    assert out.splitlines()[0] == f"b{_rwx(mode)} {major:x}:{minor:x}"
    assert SECRET.decode() in out and "wrote" in out
    assert backing.read_bytes()[:11] == b"overwritten"


def test_device_flag_with_read_permission_only_refuses_writes(engine, loop):
    dev, _, _, backing = loop
    devices = [{"PathOnHost": dev, "PathInContainer": "/dev/xdisk", "CgroupPermissions": "r"}]
    code, out, err = sh(
        engine,
        "dd if=/dev/xdisk bs=16 count=1 2>/dev/null; echo; echo x | dd of=/dev/xdisk 2>&1",
        HostConfig={"Devices": devices},
    )
    assert SECRET.decode() in out and "Operation not permitted" in out
    assert backing.read_bytes()[:16] == SECRET


def test_device_flag_with_a_folder_adds_every_device_in_it(engine):
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("this host has no /dev/net/tun")
    code, out, _ = sh(
        engine,
        "ls /dev/mynet",
        HostConfig={
            "Devices": [
                {
                    "PathOnHost": "/dev/net",
                    "PathInContainer": "/dev/mynet",
                    "CgroupPermissions": "rwm",
                }
            ]
        },
    )
    assert code == 0 and out.split() == ["tun"]


def test_a_missing_host_device_fails_the_start_with_dockers_error(engine):
    body = {
        "Image": "busybox",
        "Cmd": ["true"],
        "HostConfig": {
            "Devices": [
                {
                    "PathOnHost": "/dev/nonexistent-dl",
                    "PathInContainer": "/dev/x",
                    "CgroupPermissions": "rwm",
                }
            ]
        },
    }
    cid = engine.create(body)["Id"]
    with pytest.raises(errors.CommandNotFound) as caught:
        engine.start(cid)
    message = (
        "error gathering device information while adding custom device "
        '"/dev/nonexistent-dl": no such file or directory'
    )
    assert str(caught.value) == message
    state = engine.inspect(cid)["State"]
    assert (state["Status"], state["Error"]) == ("created", message)


def test_a_host_file_that_is_no_device_is_refused(engine):
    body = {
        "Image": "busybox",
        "Cmd": ["true"],
        "HostConfig": {
            "Devices": [
                {
                    "PathOnHost": "/etc/hostname",
                    "PathInContainer": "/dev/x",
                    "CgroupPermissions": "rwm",
                }
            ]
        },
    }
    with pytest.raises(errors.ContainerStartError, match="not a device node"):
        engine.run(body)


def test_cli_device_flag_errors_and_exit_codes(engine):
    def cli(*args):
        done = helpers.cli(engine.paths.root, *args, text=True)
        return done.returncode, done.stderr

    code, err = cli("run", "--rm", "--device", "/dev/null:/dev/n:rwx", "busybox", "true")
    assert code == 125 and "bad mode specified: rwx" in err
    code, err = cli("run", "--rm", "--device", "/dev/nonexistent-dl", "busybox", "true")
    assert code == 127
    assert (
        "Error response from daemon: error gathering device information while adding "
        'custom device "/dev/nonexistent-dl": no such file or directory'
    ) in err
    assert "Traceback" not in err


def test_inspect_shows_devices_as_docker_does(engine):
    cid = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    assert engine.inspect(cid)["HostConfig"]["Devices"] == []
    mapping = {
        "PathOnHost": "/dev/null",
        "PathInContainer": "/dev/mynull",
        "CgroupPermissions": "rw",
    }
    cid = engine.create(
        {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Devices": [mapping]}}
    )["Id"]
    assert engine.inspect(cid)["HostConfig"]["Devices"] == [mapping]


def test_privileged_container_gets_the_hosts_devices(engine, loop):
    dev, _, _, _ = loop
    code, out, err = sh(
        engine,
        f"ls {dev} /dev/tty1 && dd if={dev} bs=16 count=1 2>/dev/null",
        HostConfig={"Privileged": True},
    )
    assert code == 0, err
    assert SECRET.decode() in out


# ---- cgroup v2: the eBPF device filter, on this kernel ------------------------------------
def _cgroup2_root() -> str | None:
    with open("/proc/self/mountinfo") as f:
        for point, kind, _ in parse_mountinfo(f.read()):
            if kind == "cgroup2":
                return point
    return None


def test_cgroup_v2_device_filter_refuses_what_docker_refuses(tmp_path, loop):
    """The BPF program attached to a real cgroup2 folder (this host's, even an empty hybrid
    ``unified`` mount) judges a real process's opens and mknods."""
    from dockerlab.engine.runtime.cgroups import Resources, bpf
    from dockerlab.engine.runtime.cgroups.v2 import CgroupV2

    root = _cgroup2_root()
    if root is None:
        pytest.skip("no cgroup2 file system is mounted on this host")
    if not bpf.supported():
        pytest.skip("this kernel cannot load cgroup device programs")
    dev, major, minor, _ = loop
    cg = CgroupV2(f"dockerlab-test/{uuid.uuid4().hex[:12]}", root=root)
    cg.create(Resources())
    probe = f"""
import os, sys
sys.stdin.readline()
def attempt(what, fn):
    try:
        fn()
        print(what, "ok")
    except OSError as exc:
        print(what, exc.errno)
attempt("null", lambda: os.close(os.open("/dev/null", os.O_RDWR)))
attempt("zero", lambda: os.close(os.open("/dev/zero", os.O_RDONLY)))
attempt("mknod", lambda: os.mknod({str(tmp_path / "tty1")!r}, 0o600 | 0o020000,
                                 os.makedev(4, 1)))
attempt("tty1", lambda: os.close(os.open({str(tmp_path / "tty1")!r}, os.O_WRONLY)))
attempt("loop", lambda: os.close(os.open({dev!r}, os.O_RDONLY)))
"""
    child = subprocess.Popen(
        [sys.executable, "-S", "-c", probe],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert cg.set_devices(D.rules_for(False, []))
        cg.add(child.pid)
        out, _ = child.communicate("go\n", timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        cg.destroy()
        try:
            os.rmdir(os.path.join(root, "dockerlab-test"))
        except OSError:
            pass
    assert out.split("\n")[:5] == ["null ok", "zero ok", "mknod ok", "tty1 1", "loop 1"]
    # the same node opens outside the cgroup: the refusal was the filter's
    os.close(os.open(dev, os.O_RDONLY))


# ---- no device cgroup at all: the fallback -------------------------------------------------
def test_without_a_device_cgroup_image_nodes_do_not_open_and_mknod_is_gone(tmp_path, loop):
    """What the container's first process does when the monitor finds no way to enforce
    device rules (``DeviceControl`` False): a nodev root and no CAP_MKNOD after execve."""
    _, major, minor, _ = loop
    root = tmp_path / "root"
    root.mkdir()
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = f"""
import os, stat, sys
sys.path.insert(0, {repo!r})
from dockerlab.engine.runtime import linux as L, rootfs
L.unshare(L.CLONE_NEWNS)
L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)
root = {str(root)!r}
L.mount("tmpfs", root, "tmpfs", 0, "mode=755")  # stands for the overlay
os.mknod(root + "/disk", 0o600 | stat.S_IFBLK, os.makedev({major}, {minor}))
rootfs.prepare(root, [], [], nodev=True)
try:
    os.close(os.open(root + "/disk", os.O_RDONLY))
    print("opened")
except OSError as exc:
    print("refused", exc.errno)
L.prctl(L.PR_CAPBSET_DROP, L.CAPS.index("MKNOD"))
os.execv("/bin/busybox", ["busybox", "mknod", {str(tmp_path / "t")!r}, "c", "4", "1"])
"""
    done = subprocess.run(
        [sys.executable, "-S", "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.split("\n")[0] == "refused 13"  # EACCES: a nodev mount
    assert done.returncode != 0 and "Operation not permitted" in done.stderr
    assert not (tmp_path / "t").exists()


def v2_cli(engine, *args: str) -> subprocess.CompletedProcess:
    """The CLI on cgroup v2: on a v1 host, in a mount namespace where a cgroup2 mount (the
    hybrid host's empty ``unified`` one) is bound over /sys/fs/cgroup, so the engine and the
    monitors it starts there run their v2 code on the real kernel."""
    root = _cgroup2_root()
    if root is None:
        pytest.skip("no cgroup2 file system is mounted on this host")
    env = {**os.environ, "DOCKERLAB_ROOT": engine.paths.root}
    cmd = [sys.executable, "-m", "dockerlab", *args]
    if root != "/sys/fs/cgroup":
        cmd = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            f'mount --bind "{root}" /sys/fs/cgroup && exec "$0" "$@"',
            *cmd,
        ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


def test_on_cgroup_v2_the_engine_attaches_the_device_filter(engine, loop):
    _, major, minor, backing = loop
    done = v2_cli(
        engine,
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        f"mknod /disk b {major} {minor} && echo made; dd if=/disk count=1; "
        "echo x > /dev/null && echo null-ok; mknod /tty1 c 4 1; echo owned > /tty1",
    )
    assert "made" in done.stdout and "null-ok" in done.stdout, done.stderr
    assert SECRET.decode() not in done.stdout
    assert done.stderr.count("Operation not permitted") == 2, done.stderr
    assert backing.read_bytes()[:16] == SECRET
