"""Storage drivers (engine/storage): overlay2, fuse-overlayfs and vfs, chosen once per state
root (probed, or asked for with --storage-driver / DOCKERLAB_STORAGE_DRIVER), every layer verb
on each, as root and rootless (a temporary user), and nothing left behind."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import subprocess
import tarfile

import pytest
from helpers import cli
from users import REPO

FUSE_MISSING = (
    None
    if shutil.which("fuse-overlayfs") or os.path.exists("/usr/bin/fuse-overlayfs")
    else "fuse-overlayfs is missing (Debian package fuse-overlayfs)"
) or (None if os.path.exists("/dev/fuse") else "no /dev/fuse (the fuse kernel module)")
needs_fuse = pytest.mark.skipif(FUSE_MISSING is not None, reason=FUSE_MISSING or "")

SCRIPT = (
    "echo hi > /new; rm /bin/ls; rm -rf /etc; mkdir /etc; echo n > /etc/made; "
    "mkdir -p /usr/x/y; echo z > /usr/x/y/z; chmod 700 /tmp"
)
EXPECTED = [
    ("/bin", 0),
    ("/bin/ls", 2),
    ("/etc", 0),
    ("/etc/group", 2),
    ("/etc/made", 1),
    ("/etc/mtab", 2),
    ("/etc/passwd", 2),
    ("/new", 1),
    ("/tmp", 0),
    ("/usr", 1),
    ("/usr/x", 1),
    ("/usr/x/y", 1),
    ("/usr/x/y/z", 1),
]


def _fuse_processes(root: str) -> list[str]:
    """fuse-overlayfs programs still serving a folder under ``root``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"fuse-overlayfs") and root.encode() in b" ".join(argv):
            found.append(f"fuse-overlayfs pid {pid}")
    return found


def _mounts_under(root: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(root)]


def _changes(engine, cid: str) -> list[tuple[str, int]]:
    return [(c["Path"], c["Kind"]) for c in engine.diff(cid) if not c["Path"].startswith("/etc/x")]


def _run(engine, *cmd: str, name: str | None = None) -> str:
    cid = engine.create(
        {"Image": "busybox", "Cmd": list(cmd), "HostConfig": {"NetworkMode": "none"}}, name
    )["Id"]
    engine.start(cid)
    engine.wait(cid)
    return cid


def _logs(engine, cid: str) -> str:
    return b"".join(e.data for e in engine.logs(cid)).decode()


def _every_verb(engine, driver: str) -> None:
    """run, diff, commit (and a run of the image), export, cp in and out, sizes, rm."""
    cid = _run(engine, "sh", "-c", SCRIPT, name="changed")
    assert engine.inspect(cid)["GraphDriver"]["Name"] == driver
    assert engine.inspect(cid)["Driver"] == driver
    assert _changes(engine, cid) == EXPECTED
    image = engine.commit(cid, "committed:1")
    out = _run(engine, "sh", "-c", "ls /bin/ls /etc/passwd; test -e /new || echo untouched")
    assert _logs(engine, out) == "/bin/ls\n/etc/passwd\nuntouched\n"  # the image is as it was
    shown = _run_image(engine, image)
    assert shown.startswith("hi\nn\n"), shown
    assert "No such file" in shown  # (stderr and stdout: their order is not kept)
    assert "drwx------" in shown
    buf = io.BytesIO()
    engine.export(cid, buf)
    buf.seek(0)
    names = tarfile.open(fileobj=buf).getnames()
    assert "new" in names and "bin/sh" in names and "bin/ls" not in names
    sizes = engine.inspect(cid, size=True)
    assert sizes["SizeRw"] > 0 and sizes["SizeRootFs"] > sizes["SizeRw"]
    engine.remove(out)
    engine.remove(cid)
    assert not os.path.exists(engine.paths.layer(cid))


def _run_image(engine, image: str) -> str:
    cid = engine.create(
        {
            "Image": image,
            "Cmd": ["sh", "-c", "cat /new /etc/made; ls /bin/ls; ls -ld /tmp 2>&1"],
            "HostConfig": {"NetworkMode": "none"},
        }
    )["Id"]
    engine.start(cid)
    engine.wait(cid)
    text = _logs(engine, cid)
    engine.remove(cid)
    return text


# ---- root mode ------------------------------------------------------------------------------


def test_vfs_every_layer_verb_as_root(engine, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_STORAGE_DRIVER", "vfs")
    _every_verb(engine, "vfs")
    assert engine.info()["Driver"] == "vfs"


@needs_fuse
def test_fuse_overlayfs_every_layer_verb_as_root(engine, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_STORAGE_DRIVER", "fuse-overlayfs")
    _every_verb(engine, "fuse-overlayfs")
    assert _fuse_processes(engine.paths.root) == []


@needs_fuse
def test_fuse_overlayfs_leaves_nothing_after_a_failed_start_or_a_killed_monitor(
    engine, monkeypatch
):
    import signal

    from helpers import pid_gone, wait_until

    monkeypatch.setenv("DOCKERLAB_STORAGE_DRIVER", "fuse-overlayfs")
    root = str(engine.paths.root)
    cid = engine.create(
        {"Image": "busybox", "Cmd": ["/no/such"], "HostConfig": {"NetworkMode": "none"}}
    )["Id"]
    with pytest.raises(Exception, match="no such file"):
        engine.start(cid)
    wait_until(lambda: _fuse_processes(root) == [], what="fuse-overlayfs to end")
    assert _mounts_under(root) == []
    engine.remove(cid)
    cid = engine.create(
        {"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"NetworkMode": "none"}}
    )["Id"]
    engine.start(cid)
    assert _fuse_processes(root) != []
    monitor = engine.store.find(cid).state["MonitorPid"]
    os.kill(monitor, signal.SIGKILL)
    wait_until(lambda: pid_gone(monitor), what="the monitor to die")
    engine.remove(cid, force=True)
    wait_until(lambda: _fuse_processes(root) == [], what="fuse-overlayfs to end")
    assert _mounts_under(root) == []
    assert not os.path.exists(engine.paths.layer(cid))


def test_vfs_diff_is_overlay2_diff(engine, busybox_root, tmp_path, monkeypatch):
    """The same changes seen by comparing trees (vfs) and by reading an upper layer."""
    cid = _run(engine, "sh", "-c", SCRIPT)
    on_overlay = _changes(engine, cid)
    from dockerlab.engine import Engine

    root = tmp_path / "vfsroot"
    shutil.copytree(busybox_root, root, symlinks=True)
    monkeypatch.setenv("DOCKERLAB_STORAGE_DRIVER", "vfs")
    other = Engine(str(root))
    vid = _run(other, "sh", "-c", SCRIPT)
    try:
        assert _changes(other, vid) == on_overlay == EXPECTED
    finally:
        other.remove(vid, force=True)
    assert _mounts_under(str(root)) == []
    assert [n for n in os.listdir(root / "overlay") if len(n) > 64 or n.startswith(vid)] == []


def test_vfs_cp_into_a_stopped_container_and_out(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_STORAGE_DRIVER", "vfs")
    root = str(engine.paths.root)
    cid = engine.create(
        {"Image": "busybox", "Cmd": ["cat", "/given"], "HostConfig": {"NetworkMode": "none"}}
    )["Id"]
    (tmp_path / "given").write_text("from the host\n")
    got = cli(root, "cp", str(tmp_path / "given"), f"{cid}:/given", env={})
    assert got.returncode == 0, got.stderr
    engine.start(cid)
    engine.wait(cid)
    assert _logs(engine, cid) == "from the host\n"
    got = cli(root, "cp", f"{cid}:/given", str(tmp_path / "back"))
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "back").read_text() == "from the host\n"
    assert [c["Path"] for c in engine.diff(cid)] == ["/given"]


def test_vfs_build_run_and_copy_steps(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_STORAGE_DRIVER", "vfs")
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "f.txt").write_text("copied\n")
    (tmp_path / "ctx" / "Dockerfile").write_text(
        "FROM busybox\nRUN echo built > /built && rm /bin/ls\nCOPY f.txt /f.txt\n"
    )
    root = str(engine.paths.root)
    got = cli(root, "build", "-q", "-t", "vfsbuilt", str(tmp_path / "ctx"))
    assert got.returncode == 0, got.stderr
    got = cli(root, "run", "--rm", "--network", "none", "vfsbuilt", "sh", "-c",
              "cat /built /f.txt; ls /bin/ls")  # fmt: skip
    assert got.stdout == b"built\ncopied\n", got.stdout + got.stderr
    assert b"No such file" in got.stderr


def test_info_and_prune_and_df_on_vfs(engine, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_STORAGE_DRIVER", "vfs")
    root = str(engine.paths.root)
    got = cli(root, "run", "--name", "p1", "--network", "none", "busybox", "sh", "-c",
              "head -c 5000 /dev/zero > /blob")  # fmt: skip
    assert got.returncode == 0, got.stderr
    info = cli(root, "info", text=True).stdout
    assert " Storage Driver: vfs\n" in info
    df = engine.system_df()
    assert [c["SizeRw"] for c in df["Containers"]] == [5000]
    pruned = engine.prune()
    assert pruned["SpaceReclaimed"] == 5000
    assert [n for n in os.listdir(engine.paths.overlay) if not n.startswith(("l", "."))] == [
        n for n in os.listdir(engine.paths.overlay) if len(n) == 64 and os.path.exists(
            os.path.join(engine.paths.overlay, n, "layer.json"))
    ]  # fmt: skip


def test_driver_is_recorded_and_a_store_never_mixes_drivers(engine, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_STORAGE_DRIVER", "vfs")
    root = str(engine.paths.root)
    got = cli(root, "create", "--name", "kept", "--network", "none", "busybox", text=True)
    assert got.returncode == 0, got.stderr
    got = cli(
        root, "--storage-driver", "overlay2", "create", "--network", "none", "busybox", text=True
    )
    assert got.returncode != 0
    assert 'uses the storage driver "vfs"' in got.stderr and "Traceback" not in got.stderr
    got = cli(root, "info", text=True, env={"DOCKERLAB_STORAGE_DRIVER": ""})
    assert " Storage Driver: vfs\n" in got.stdout
    assert cli(root, "rm", "kept").returncode == 0
    # with no containers left the store may change driver (images are kept)
    got = cli(root, "--storage-driver", "overlay2", "run", "--rm", "--network", "none",
              "busybox", "true", text=True)  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert (
        cli(root, "info", text=True, env={"DOCKERLAB_STORAGE_DRIVER": ""}).stdout.count(
            " Storage Driver: overlay2\n"
        )
        == 1
    )


def test_an_unknown_or_unusable_driver_is_refused_in_words(engine, monkeypatch):
    root = str(engine.paths.root)
    got = cli(root, "--storage-driver", "zfs", "run", "--rm", "busybox", "true", text=True)
    assert got.returncode == 125
    assert "driver not supported: zfs" in got.stderr and "Traceback" not in got.stderr
    from dockerlab.engine.storage import drivers, fuse

    monkeypatch.setattr(fuse, "program", lambda: None)
    monkeypatch.setenv("DOCKERLAB_STORAGE_DRIVER", "fuse-overlayfs")
    with pytest.raises(Exception, match="apt-get install fuse-overlayfs"):
        drivers.current(engine.paths)


def test_a_half_made_copy_is_removed_on_the_next_load(engine, monkeypatch):
    """A create killed while copying leaves its staging folder and a partial copy: the next
    verb that takes the store's lock removes both."""
    monkeypatch.setenv("DOCKERLAB_STORAGE_DRIVER", "vfs")
    cid = "ab" * 32
    staging = os.path.join(engine.paths.containers, f".creating-{cid}")
    os.makedirs(staging)
    partial = os.path.join(engine.paths.layer(cid), "merged", "bin")
    os.makedirs(partial)
    with open(os.path.join(partial, "sh"), "wb") as f:
        f.write(b"half")
    _run(engine, "true")
    assert not os.path.exists(staging)
    assert not os.path.exists(engine.paths.layer(cid))


@contextlib.contextmanager
def _state_root_on_overlayfs(tmp_path):
    """A state root on an overlay filesystem, where the kernel refuses another overlay's
    upper layer (as in many Kubernetes pods)."""
    base = tmp_path / "ovl"
    for d in ("lower", "upper", "work", "mnt"):
        (base / d).mkdir(parents=True)
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={base}/lower,upperdir={base}/upper,workdir={base}/work", str(base / "mnt")],
        check=True,
    )  # fmt: skip
    try:
        yield base / "mnt"
    finally:
        subprocess.run(["umount", "-l", str(base / "mnt")], check=False)


def test_a_state_root_where_overlay_is_refused_probes_a_fallback(
    busybox_root, tmp_path, monkeypatch
):
    monkeypatch.delenv("DOCKERLAB_STORAGE_DRIVER", raising=False)
    from dockerlab.engine import Engine

    with _state_root_on_overlayfs(tmp_path) as mnt:
        root = mnt / "root"
        shutil.copytree(busybox_root, root, symlinks=True)
        eng = Engine(str(root))
        try:
            cid = _run(eng, "sh", "-c", SCRIPT)
            driver = eng.inspect(cid)["GraphDriver"]["Name"]
            assert driver == ("vfs" if FUSE_MISSING else "fuse-overlayfs")
            why = dict(eng.info()["DriverStatus"])["Chosen"]
            assert "overlay2: the kernel refused an overlay mount" in why
            assert _changes(eng, cid) == EXPECTED  # (fuse-overlayfs: .wh. file whiteouts)
            image = eng.commit(cid, "onovl:1")
            shown = _run_image(eng, image)
            assert shown.startswith("hi\nn\n") and "No such file" in shown, shown
            eng.remove(cid)
            for c in eng.container_ids():
                eng.remove(c, force=True)
        finally:
            for c in eng.container_ids():
                eng.remove(c, force=True)
            shutil.rmtree(eng.paths.run, ignore_errors=True)
        assert _fuse_processes(str(root)) == []
        assert _mounts_under(str(root)) == []


# ---- rootless (a temporary user) --------------------------------------------------------


def _acl_for(uid: int) -> bytes:
    """A POSIX access ACL (the kernel's xattr form) giving ``uid`` read and write."""
    user_obj, user, group_obj, mask, other, undefined = 1, 2, 4, 0x10, 0x20, 0xFFFFFFFF
    entries = [(user_obj, 6, undefined), (user, 6, uid), (group_obj, 0, undefined),
               (mask, 6, undefined), (other, 0, undefined)]  # fmt: skip
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


@pytest.fixture(scope="module")
def carol(tmp_path_factory):
    from test_rootless import MISSING, _make_user

    if MISSING:
        pytest.skip(MISSING)
    from dockerlab.engine import Engine

    folder = tmp_path_factory.mktemp("storage")
    eng = Engine(str(folder / "root"))
    eng.image_bootstrap("busybox")
    tar = f"/tmp/dockerlab-storage-busybox-{os.getpid()}.tar"
    with open(tar, "wb") as f:
        eng.save(["busybox"], f)
    os.chmod(tar, 0o644)
    try:
        user = _make_user(tar)
        user.tar = tar
        yield user
        user.remove()
    finally:
        os.unlink(tar)


def _as(user, driver: str, *args: str, input: str | None = None):
    return user.user.dockerlab(
        *args, env={"DOCKERLAB_ROOT": os.path.join(user.home, driver)}, input=input
    )


@pytest.mark.parametrize("driver", ["vfs", "fuse-overlayfs"])
def test_rootless_every_layer_verb(carol, driver):
    """As an unprivileged user: run, exec, diff, commit, export, cp, build, df, prune, rm."""
    store = os.path.join(carol.home, driver)
    os.makedirs(store, exist_ok=True)
    shutil.chown(store, carol.uid, carol.uid)
    with contextlib.ExitStack() as undo:
        if driver == "fuse-overlayfs":
            if FUSE_MISSING:
                pytest.skip(FUSE_MISSING)
            assert _as(carol, driver, "load", "-i", carol.tar).returncode == 0
            got = _as(carol, driver, "--storage-driver", driver, "run", "--rm", "busybox", "true")
            assert got.returncode != 0 and "/dev/fuse" in got.stderr, got.stderr
            assert "chmod 0666 /dev/fuse" in got.stderr and "Traceback" not in got.stderr
            mode = os.stat("/dev/fuse").st_mode & 0o7777
            os.setxattr("/dev/fuse", "system.posix_acl_access", _acl_for(carol.uid))
            undo.callback(os.chmod, "/dev/fuse", mode)
            undo.callback(os.removexattr, "/dev/fuse", "system.posix_acl_access")
        _rootless_verbs(carol, driver)
    assert _fuse_processes(store) == []


def _rootless_verbs(user, driver: str) -> None:
    def dl(*args: str):
        got = _as(user, driver, "--storage-driver", driver, *args)
        assert got.returncode == 0, f"{args}: {got.stderr}"
        return got.stdout

    dl("load", "-i", user.tar)  # its own store for this driver
    dl("run", "--name", "v1", "--network", "none", "busybox", "sh", "-c", SCRIPT)
    assert [tuple(line.split(" ", 1)[::-1]) for line in dl("diff", "v1").splitlines()] == [
        (p, "CAD"[k]) for p, k in EXPECTED
    ]
    dl("commit", "v1", "rl:committed")
    shown = _as(user, driver, "run", "--rm", "--network", "none", "rl:committed", "sh", "-c",
                "cat /new /etc/made; ls /bin/ls")  # fmt: skip
    assert shown.stdout == "hi\nn\n" and "No such file" in shown.stderr, shown
    exported = subprocess.run(
        ["tar", "t"], input=_as_bytes(user, driver, "export", "v1"), capture_output=True
    ).stdout.decode()
    assert "new\n" in exported and "bin/ls\n" not in exported
    open(os.path.join(user.home, "given"), "w").write("given\n")
    dl("cp", os.path.join(user.home, "given"), "v1:/given")
    dl("cp", "v1:/new", os.path.join(user.home, "back"))
    assert open(os.path.join(user.home, "back")).read() == "hi\n"
    dl("run", "-d", "--name", "v2", "--network", "none", "busybox", "sleep", "30")
    assert dl("exec", "v2", "cat", "/etc/hostname").strip()
    dl("rm", "-f", "v2")
    ctx = os.path.join(user.home, "ctx")
    os.makedirs(ctx, exist_ok=True)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("FROM busybox\nRUN echo built > /built\n")
    subprocess.run(["chown", "-R", f"{user.uid}:{user.uid}", ctx], check=True)
    dl("build", "-q", "-t", "rl:built", ctx)
    assert dl("run", "--rm", "--network", "none", "rl:built", "cat", "/built") == "built\n"
    assert "v1" in dl("ps", "-a", "-s")
    assert "Containers" in dl("system", "df")
    assert f"Storage Driver: {driver}" in dl("info")
    dl("container", "prune", "-f")
    store = os.path.join(user.home, driver)
    left = [n for n in os.listdir(os.path.join(store, "overlay")) if n[:1] not in ("l", ".")]
    layers = [n for n in left if os.path.exists(os.path.join(store, "overlay", n, "layer.json"))]
    assert left == layers  # every container's layers (and copies) went with it
    assert _mounts_under(store) == []


def _as_bytes(user, driver: str, *args: str) -> bytes:
    env = user.user.env({"PYTHONPATH": REPO,
                         "DOCKERLAB_ROOT": os.path.join(user.home, driver),
                         "DOCKERLAB_STORAGE_DRIVER": driver})  # fmt: skip
    got = subprocess.run(
        ["runuser", "-u", user.name, "--", user.user.python(), "-m", "dockerlab", *args],
        env=env,
        cwd=user.home,
        capture_output=True,
        timeout=60,
    )
    assert got.returncode == 0, got.stderr
    return got.stdout


def test_rootless_probe_chooses_overlay_in_the_user_namespace(carol):
    got = carol.cli("info")
    assert got.returncode == 0, got.stderr
    assert " Storage Driver: overlay2\n" in got.stdout
    assert "Chosen: probed: the kernel's overlay mount works" in got.stdout
    assert "userxattr: true" in got.stdout


def test_rootless_vfs_copies_files_of_subordinate_owners_in_the_namespace(carol):
    """Image files owned by a subordinate uid (as extraction in the user namespace makes
    them), unreadable to the user: the copy is made by the namespace's root, owners kept."""
    store = os.path.join(carol.home, "vfs-owners")
    env = {"DOCKERLAB_ROOT": store, "DOCKERLAB_STORAGE_DRIVER": "vfs"}
    got = carol.user.dockerlab("load", "-i", carol.tar, env=env)
    assert got.returncode == 0, got.stderr
    layers = [
        os.path.join(store, "overlay", n, "diff")
        for n in os.listdir(os.path.join(store, "overlay"))
        if os.path.isdir(os.path.join(store, "overlay", n, "diff", "etc"))
    ]
    secret = os.path.join(layers[0], "etc", "secret")
    with open(secret, "w") as f:
        f.write("kept\n")
    os.chown(secret, carol.subuid + 999, carol.subuid + 999)  # uid 1000 in the container
    os.chmod(secret, 0o600)
    got = carol.user.dockerlab(
        "run", "--name", "owned", "--network", "none", "busybox", "sh", "-c",
        "stat -c '%u %g %a' /etc/secret; cat /etc/secret", env=env,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert got.stdout == "1000 1000 600\nkept\n"
    assert carol.user.dockerlab("diff", "owned", env=env).stdout == ""
    got = carol.user.dockerlab("rm", "owned", env=env)
    assert got.returncode == 0, got.stderr
    overlay = os.path.join(store, "overlay")
    left = [n for n in os.listdir(overlay) if n[:1] not in ("l", ".")]
    assert [n for n in left if not os.path.exists(os.path.join(overlay, n, "layer.json"))] == []
