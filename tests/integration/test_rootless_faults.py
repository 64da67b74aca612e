"""Rootless faults, each run for real as a temporary unprivileged user (tests/users.py): the
runtime folder missing, unwritable or another user's; a full home; several processes of one
user starting containers at once from a cold start; user namespaces disabled by sysctl."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from helpers import cli, wait_until
from registry_fixture import registry  # noqa: F401  (a fixture)
from test_rootless import MISSING, User, image_tar  # noqa: F401  (image_tar: a fixture)
from users import REPO

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@contextlib.contextmanager
def rootless_user(runtime_dir: bool = False) -> Iterator[User]:
    user = User()
    try:
        if runtime_dir:  # as logind makes it: /run/user/UID, 0700, the user's
            user.user.runtime_dir = f"/run/user/{user.uid}"
            os.makedirs(user.user.runtime_dir, 0o700, exist_ok=True)
            os.chown(user.user.runtime_dir, user.uid, user.user.gid)
        yield user
    finally:
        if user.user.runtime_dir:
            user.user.runtime_dir = None  # (temp_user did not make it)
            shutil.rmtree(f"/run/user/{user.uid}", ignore_errors=True)
        user.remove()


def _clean(got: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in got.stderr and "[Errno" not in got.stderr, got.stderr


# ---- the runtime folder ----------------------------------------------------------------------
def test_no_xdg_runtime_dir_falls_back_to_a_private_tmp_folder(image_tar):  # noqa: F811
    with rootless_user() as user:
        assert user.cli("load", "-i", image_tar).returncode == 0
        got = user.cli("run", "--rm", "--network", "none", "busybox", "echo", "ok")
        assert got.returncode == 0 and got.stdout == "ok\n", got.stderr
        base = f"/tmp/dockerlab-{user.uid}"
        st = os.lstat(base)
        assert st.st_uid == user.uid and st.st_mode & 0o777 == 0o700


def test_xdg_runtime_dir_of_another_user_is_refused(image_tar):  # noqa: F811
    """The attack: XDG_RUNTIME_DIR names a folder another user owns (sudo -u keeps the
    caller's), where that user could watch or replace the sockets."""
    with rootless_user() as victim, rootless_user() as other:
        theirs = os.path.join("/tmp", f"dl-theirs-{other.uid}")
        os.mkdir(theirs, 0o777)
        os.chmod(theirs, 0o777)  # (even one the victim may write in)
        os.chown(theirs, other.uid, -1)
        try:
            for args in (("load", "-i", image_tar), ("ps",)):
                got = victim.user.dockerlab(*args, env={"XDG_RUNTIME_DIR": theirs})
                assert got.returncode != 0, got.stdout
                assert "XDG_RUNTIME_DIR" in got.stderr and theirs in got.stderr, got.stderr
                assert "another user" in got.stderr
                _clean(got)
            assert os.listdir(theirs) == []  # nothing of the victim's went there
        finally:
            shutil.rmtree(theirs, ignore_errors=True)


def test_xdg_runtime_dir_missing_or_unwritable_is_told(image_tar):  # noqa: F811
    with rootless_user() as user:
        missing = f"/run/user/{user.uid}"  # as after `su` without a login session
        shutil.rmtree(missing, ignore_errors=True)
        got = user.user.dockerlab("ps", env={"XDG_RUNTIME_DIR": missing})
        assert got.returncode != 0
        assert f"XDG_RUNTIME_DIR ({missing})" in got.stderr and "unset it" in got.stderr
        _clean(got)
        mine = os.path.join(user.home, "rt")
        os.mkdir(mine, 0o500)
        os.chown(mine, user.uid, -1)
        got = user.user.dockerlab("ps", env={"XDG_RUNTIME_DIR": mine})
        assert got.returncode != 0
        assert f"XDG_RUNTIME_DIR ({mine})" in got.stderr and "not writable" in got.stderr
        _clean(got)
        os.chmod(mine, 0o700)  # once it is usable, everything works
        got = user.user.dockerlab("load", "-i", image_tar, env={"XDG_RUNTIME_DIR": mine})
        assert got.returncode == 0, got.stderr
        got = user.user.dockerlab(
            "run", "--rm", "--network", "none", "busybox", "true", env={"XDG_RUNTIME_DIR": mine}
        )
        assert got.returncode == 0, got.stderr
        assert os.path.isdir(os.path.join(mine, "dockerlab"))


# ---- a full home -----------------------------------------------------------------------------
@contextlib.contextmanager
def small_home(user: User, size: str) -> Iterator[str]:
    """The user's home on a tmpfs of `size`, so it can fill up; lazily unmounted after (the
    user's namespace holder keeps its own copy of the mount)."""
    home = user.home
    subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={size},mode=0700,uid={user.uid},gid={user.user.gid}",
            "dltesthome",
            home,
        ],
        check=True,
    )
    try:
        yield home
    finally:
        subprocess.run(["umount", "-l", home], check=False)


def _fill(path: str) -> None:
    """Write `path` until the filesystem is full (as root: tmpfs keeps nothing back)."""
    chunk = b"\0" * 65536
    with open(path, "wb") as f:
        while True:
            try:
                f.write(chunk)
                f.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    os.chown(path, 0, 0)


def _store_entries(store: str) -> dict[str, list[str]]:
    """Every file and folder of the store but the event journal and locks."""
    out: dict[str, list[str]] = {}
    for sub in ("containers", "overlay", "tmp", "image", "volumes"):
        found = []
        for folder, dirs, files in os.walk(os.path.join(store, sub)):
            for name in dirs + files:
                if not name.endswith(".lock"):
                    found.append(os.path.relpath(os.path.join(folder, name), store))
        out[sub] = sorted(found)
    return out


def test_full_home_load_run_commit_build_fail_cleanly_and_recover(image_tar):  # noqa: F811
    # (load keeps 256 MiB free on the disk it expands an archive onto: the home is larger)
    with rootless_user() as user, small_home(user, "400m"):
        filler = os.path.join(user.home, "filler")
        _fill(filler)
        got = user.cli("load", "-i", image_tar)
        print("LOAD", got.returncode, got.stdout, got.stderr)
        assert got.returncode == 1, got.stderr
        assert "no space left on device" in got.stderr
        _clean(got)
        assert user.cli("images", "-q").stdout == ""
        print(_store_entries(user.store))
        os.unlink(filler)
        got = user.cli("load", "-i", image_tar)
        assert got.returncode == 0, got.stderr
        got = user.cli(
            "run", "--name", "base", "--network", "none", "busybox", "sh", "-c", "echo hi > /hi"
        )
        assert got.returncode == 0, got.stderr
        before = _store_entries(user.store)
        _fill(filler)
        for args, code in (
            (("run", "--network", "none", "busybox", "true"), 125),
            (("create", "--network", "none", "busybox", "true"), 125),
            (("commit", "base", "snap"), 1),
        ):
            got = user.cli(*args)
            print(args, got.returncode, got.stdout, got.stderr)
            assert got.returncode == code, (args, got.stderr)
            assert "no space left on device" in got.stderr, (args, got.stderr)
            _clean(got)
        ctx = os.path.join("/tmp", f"dl-ctx-{user.uid}")
        os.makedirs(ctx, exist_ok=True)
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM busybox\nRUN echo built > /built\n")
        os.chmod(ctx, 0o755)
        try:
            got = user.cli("build", "-t", "b", ctx)
            print("BUILD", got.returncode, got.stdout, got.stderr)
            assert got.returncode == 1
            assert "no space left on device" in got.stderr
            _clean(got)
            after = _store_entries(user.store)
            assert after == before, (before, after)  # nothing half-made stays
            os.unlink(filler)
            ps = user.cli("ps", "-a", "--format", "{{.Names}}")
            assert ps.returncode == 0 and ps.stdout.split() == ["base"], ps.stderr
            images = user.cli("images", "--format", "{{.Repository}}")
            assert images.stdout.split() == ["busybox"], images.stdout
            assert user.cli("commit", "base", "snap").returncode == 0
            got = user.cli("run", "--rm", "--network", "none", "snap", "cat", "/hi")
            assert got.stdout == "hi\n", got.stderr
            got = user.cli("build", "-t", "b", ctx)
            assert got.returncode == 0, got.stderr
        finally:
            shutil.rmtree(ctx, ignore_errors=True)
            user.cli("rm", "-f", "base")


def test_full_home_pull_fails_cleanly_and_works_after(engine, registry):  # noqa: F811
    ref = f"{registry.addr}/lab/busybox"
    assert cli(engine.paths.root, "tag", "busybox", ref).returncode == 0
    assert cli(engine.paths.root, "push", ref).returncode == 0
    with rootless_user() as user, small_home(user, "400m"):
        filler = os.path.join(user.home, "filler")
        assert user.cli("images").returncode == 0  # the store's folders made first
        before = _store_entries(user.store)
        _fill(filler)
        got = user.cli("pull", ref)
        assert got.returncode == 1, got.stderr
        assert "no space left on device" in got.stderr, got.stderr
        _clean(got)
        assert _store_entries(user.store) == before  # no half-written blob or layer
        os.unlink(filler)
        got = user.cli("pull", ref)
        assert got.returncode == 0, got.stderr
        got = user.cli("run", "--rm", "--network", "host", ref, "true")
        assert got.returncode == 0, got.stderr


# ---- one user, many processes at once ---------------------------------------------------------
def _holders(uid: int) -> set[str]:
    """The user namespaces of the user's forkservers: one per namespace holder (the
    monitors it forked keep its command line, and its namespace)."""
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if any(a.endswith(b"forkserver.py") for a in argv) and b"rootless" in argv:
                found.add(os.readlink(f"/proc/{pid}/ns/user"))
        except OSError:
            continue
    return found


def _as_user(user: User, argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        ["runuser", "-u", user.name, "--", *argv],
        env=user.user.env({"PYTHONPATH": REPO}),
        cwd=user.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _all_done(procs: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=180)
        out.append((p.returncode, stdout, stderr))
    return out


def _state_is_sound(user: User, names: list[str]) -> None:
    """Every record reads back (ps, inspect), and a new run still works."""
    ps = user.cli("ps", "-a", "--format", "{{.Names}} {{.Status}}")
    assert ps.returncode == 0, ps.stderr
    _clean(ps)
    assert sorted(line.split()[0] for line in ps.stdout.splitlines()) == sorted(names)
    for name in names:
        got = user.cli("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name)
        assert got.stdout == "exited 0\n", (name, got.stdout, got.stderr)
    got = user.cli("run", "--rm", "--network", "none", "busybox", "echo", "again")
    assert got.stdout == "again\n", got.stderr


def test_cli_runs_from_a_cold_start_at_once_all_succeed_one_holder(image_tar):  # noqa: F811
    with rootless_user() as user:
        assert user.cli("load", "-i", image_tar).returncode == 0
        assert _holders(user.uid) == set()  # cold: no namespace holder yet
        python = user.user.python()
        names = [f"k{i}" for i in range(4)]
        procs = [
            _as_user(
                user,
                [
                    python,
                    "-m",
                    "dockerlab",
                    "run",
                    "--name",
                    name,
                    "--network",
                    "none",
                    "busybox",
                    "echo",
                    name,
                ],
            )
            for name in names
        ]
        procs += [  # and --rm ones, racing removal with the others' starts
            _as_user(
                user,
                [
                    python,
                    "-m",
                    "dockerlab",
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    "busybox",
                    "echo",
                    f"rm{i}",
                ],
            )
            for i in range(2)
        ]
        results = _all_done(procs)
        for (code, stdout, stderr), want in zip(results, names + ["rm0", "rm1"]):
            assert code == 0, stderr
            assert stdout == f"{want}\n", stderr
            assert "Traceback" not in stderr
        assert len(_holders(user.uid)) == 1
        _state_is_sound(user, names)
        assert len(_holders(user.uid)) == 1


def test_engine_api_in_two_processes_from_a_cold_start(image_tar):  # noqa: F811
    """Two notebook kernels of one user, each with its own Engine, start containers at once."""
    code = (
        "import sys\n"
        "from dockerlab.engine import Engine\n"
        "e = Engine()\n"
        "tag = sys.argv[1]\n"
        "for i in range(3):\n"
        "    body = {'Image': 'busybox', 'Cmd': ['true'], 'HostConfig': {'NetworkMode': 'none'}}\n"
        "    cid, _ = e.run(body, name=f'{tag}{i}', attach='')\n"
        "    e.wait(cid)\n"
        "print('ok')\n"
    )
    with rootless_user() as user:
        assert user.cli("load", "-i", image_tar).returncode == 0
        assert _holders(user.uid) == set()
        python = user.user.python()
        results = _all_done([_as_user(user, [python, "-c", code, tag]) for tag in "ab"])
        for rc, stdout, stderr in results:
            assert rc == 0 and stdout == "ok\n", stderr
        assert len(_holders(user.uid)) == 1
        _state_is_sound(user, [f"{t}{i}" for t in "ab" for i in range(3)])


# ---- user namespaces disabled ---------------------------------------------------------------
# Root's write to the host's user.max_user_namespaces is refused on this VM (and would stop every
# other user's containers meanwhile); the limit is per user namespace and enforced at every level
# above too, so the test sets it to 0 in a namespace of its own (all IDs mapped as they are) and
# runs the user's CLI there as the user: the kernel really refuses it a user namespace.
def _without_userns(user: User, argv: list[str]) -> subprocess.CompletedProcess:
    """`argv` as the user, in a user namespace whose user.max_user_namespaces is 0."""
    code = (
        "import ctypes, os, sys\n"
        "uid, gid = int(sys.argv[1]), int(sys.argv[2])\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "ready_r, ready_w = os.pipe()\n"
        "go_r, go_w = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    if libc.unshare(0x10000000) != 0:\n"  # CLONE_NEWUSER
        "        os._exit(99)\n"
        "    os.write(ready_w, b'u')\n"
        "    os.read(go_r, 1)\n"
        "    os.setresgid(0, 0, 0)\n"
        "    os.setresuid(0, 0, 0)\n"
        "    with open('/proc/sys/user/max_user_namespaces', 'w') as f:\n"
        "        f.write('0')\n"
        "    os.setgroups([])\n"
        "    os.setresgid(gid, gid, gid)\n"
        "    os.setresuid(uid, uid, uid)\n"
        "    os.execvp(sys.argv[3], sys.argv[3:])\n"
        "os.read(ready_r, 1)\n"
        "for name in ('uid_map', 'gid_map'):\n"
        "    with open(f'/proc/{pid}/{name}', 'w') as f:\n"
        "        f.write('0 0 4294967295')\n"
        "os.write(go_w, b'g')\n"
        "sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(user.uid), str(user.user.gid), *argv],
        env=user.user.env({"PYTHONPATH": REPO}),
        cwd=user.home,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_user_namespaces_disabled_names_the_sysctl(image_tar):  # noqa: F811
    with rootless_user() as user:
        assert user.cli("load", "-i", image_tar).returncode == 0
        probe = (
            "import ctypes, os\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "print(libc.unshare(0x10000000), os.strerror(ctypes.get_errno()), os.getuid())\n"
        )
        got = _without_userns(user, [user.user.python(), "-c", probe])
        assert got.stdout == f"-1 No space left on device {user.uid}\n", got.stderr  # refused
        python = [user.user.python(), "-m", "dockerlab"]
        got = _without_userns(
            user, [*python, "run", "--rm", "--network", "none", "busybox", "true"]
        )
        assert got.returncode == 125, got.stderr
        assert "sysctl user.max_user_namespaces=0" in got.stderr, got.stderr
        assert "administrator" in got.stderr
        _clean(got)
        # the server that could not make its namespace has said so and is exiting: no holder
        wait_until(lambda: _holders(user.uid) == set(), what="the refused server's exit")
        assert user.cli("ps", "-a", "-q").stdout == ""  # nothing half-made
        got = user.cli("run", "--rm", "--network", "none", "busybox", "echo", "back")
        assert got.stdout == "back\n", got.stderr
