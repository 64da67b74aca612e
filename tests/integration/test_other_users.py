"""dockerlab for a user other than root (issue 13, "set-up for everyone"): the installed CLI
starts for every user, `--help`, `version` and `info` work on the user's own store under its
home, what still needs root says so in one clear message, and a root-owned state root stays
out of the user's reach. Each test runs as a temporary user of its own (tests/users.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from helpers import wait_until
from users import SUBGID, SUBUID, User, _processes_of, temp_user

pytestmark = pytest.mark.integration


def clean(r: subprocess.CompletedProcess[str]) -> None:
    """No traceback and no raw errno: whatever went wrong is said in words."""
    assert "Traceback" not in r.stderr and "[Errno" not in r.stderr, r.stderr


def one_message(r: subprocess.CompletedProcess[str]) -> str:
    """A refusal: a non-zero exit and one line saying why (besides Docker's `--help` hint)."""
    clean(r)
    assert r.returncode != 0, (r.stdout, r.stderr)
    lines = [x for x in r.stderr.splitlines() if x.strip() and "--help' for more" not in x]
    assert len(lines) == 1, r.stderr
    return lines[0]


# ---- the temporary user itself ------------------------------------------------------------
def test_unprivileged_user_fixture(unprivileged_user: User) -> None:
    """Not root, no capabilities, its own home, ranges and runtime folder, a login's env."""
    user = unprivileged_user
    assert user.uid != 0 and user.gid != 0
    assert user.ranges(SUBUID) and user.ranges(SUBGID)
    status = user.run(["cat", "/proc/self/status"]).stdout
    caps = {k: v.strip() for k, v in (x.split(":", 1) for x in status.splitlines() if ":" in x)}
    assert caps["Uid"].split()[:2] == [str(user.uid)] * 2
    assert int(caps["CapEff"], 16) == 0 and int(caps["CapPrm"], 16) == 0
    assert os.stat(user.home).st_uid == user.uid
    assert os.stat(str(user.runtime_dir)).st_uid == user.uid
    env = dict(x.split("=", 1) for x in user.run(["env"]).stdout.splitlines() if "=" in x)
    assert env["HOME"] == user.home and env["USER"] == user.name
    assert env["XDG_RUNTIME_DIR"] == f"/run/user/{user.uid}"
    assert "DOCKERLAB_ROOT" not in env and "VIRTUAL_ENV" not in env  # nothing of root's


def test_temp_user_removed_even_when_the_test_fails() -> None:
    """The user, its home, ranges, runtime folder and processes go even when the block raises."""
    from users import missing_tools

    if missing_tools():
        pytest.skip(missing_tools())
    seen: dict[str, object] = {}
    with pytest.raises(RuntimeError, match="the test failed"), temp_user() as user:
        seen.update(name=user.name, uid=user.uid, home=user.home, run=user.runtime_dir)
        seen["ranges"] = user.ranges(SUBUID), user.ranges(SUBGID)
        who = user.run(["id", "-u"])
        assert who.stdout.strip() == str(user.uid) != "0", who
        # a leftover process the teardown must end (a forkserver or monitor would be one)
        left = subprocess.Popen(
            ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups"]
            + ["sleep", "300"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: left.pid in _processes_of(user.uid, []), what="the user's sleep")
        assert os.stat(user.home).st_uid == user.uid
        raise RuntimeError("the test failed")
    subuids, subgids = seen["ranges"]  # type: ignore[misc]
    assert subuids and subgids, "useradd gave the user no subordinate ranges"
    import pwd

    with pytest.raises(KeyError):
        pwd.getpwnam(str(seen["name"]))
    assert not os.path.exists(str(seen["home"]))
    assert not os.path.exists(str(seen["run"]))
    for path in (SUBUID, SUBGID):
        with open(path) as f:
            assert not any(line.startswith(f"{seen['name']}:") for line in f), path
    assert left.wait(timeout=10) == -9  # the teardown killed it


def test_temp_user_without_ranges_or_runtime_dir() -> None:
    """The fault cases of rootless mode need a user with no subordinate ranges and no
    XDG_RUNTIME_DIR: `subids=False`, `runtime_dir=False`."""
    from users import missing_tools

    if missing_tools():
        pytest.skip(missing_tools())
    with temp_user(subids=False, runtime_dir=False) as user:
        assert user.ranges(SUBUID) == [] and user.ranges(SUBGID) == []
        assert "XDG_RUNTIME_DIR" not in user.run(["env"]).stdout


# ---- the CLI as the user -----------------------------------------------------------------
def test_installed_cli_starts_for_every_user(unprivileged_user: User) -> None:
    """The venv's `dockerlab` (what setup.sh links into /usr/local/bin) starts for a user other
    than root: its interpreter is the system's, not root's private pyenv ("bad interpreter")."""
    script = os.path.join(os.path.dirname(sys.executable), "dockerlab")
    if not os.path.exists(script):
        pytest.skip(f"no {script}: dockerlab is not installed in this venv")
    interp = os.path.realpath(sys.executable)
    if unprivileged_user.run([interp, "-c", ""]).returncode != 0:
        pytest.skip(
            f"this venv's Python ({interp}) is private to root: the venv was made before"
            " issue 13; scripts/setup.sh makes it again from /usr/bin/python3 (and fails when"
            " other users cannot run it)"
        )
    r = unprivileged_user.run([script, "--help"])
    clean(r)
    assert r.returncode == 0, r.stderr
    assert "Usage:  dockerlab [OPTIONS] COMMAND" in r.stdout


def test_help_version_info_on_the_users_own_store(unprivileged_user: User) -> None:
    user = unprivileged_user
    r = user.dockerlab("--help")
    clean(r)
    assert r.returncode == 0 and "Usage:" in r.stdout, r.stderr
    r = user.dockerlab("version")
    clean(r)
    assert r.returncode == 0 and "Version:" in r.stdout, r.stderr
    r = user.dockerlab("info")
    clean(r)
    assert r.returncode == 0, r.stderr
    store = os.path.join(user.home, ".local", "share", "dockerlab")
    assert f"Docker Root Dir: {store}\n" in r.stdout
    # $XDG_DATA_HOME moves it, as for every XDG program
    data = os.path.join(user.home, "data")
    r = user.dockerlab("info", env={"XDG_DATA_HOME": data})
    clean(r)
    assert r.returncode == 0 and f"Docker Root Dir: {data}/dockerlab\n" in r.stdout, r.stderr


def test_run_as_user_refused_in_one_message(unprivileged_user: User) -> None:
    """Today containers need root: `run` says so in one message, exit non-zero. (The words are
    the engine's and will change with rootless mode: not pinned here.) `--pull never` keeps
    the test offline: a user's store cannot hold an image yet, and a plain `run` would ask
    Docker Hub for busybox first."""
    user = unprivileged_user
    one_message(user.dockerlab("run", "--pull", "never", "--rm", "busybox", "true"))


@pytest.fixture
def root_store(busybox_root):
    """A root-owned state root where any user can walk to it (as /var/lib/dockerlab is): a
    volume and a created container in it, removed after."""
    from dockerlab.engine import Engine
    from dockerlab.engine.network import networks, record

    top = tempfile.mkdtemp(prefix="dockerlab-rootstore-")
    os.chmod(top, 0o755)
    root = os.path.join(top, "store")
    shutil.copytree(busybox_root, root, symlinks=True)
    eng = Engine(root)
    try:
        eng.volume_create("rootsvolume")
        eng.create(
            {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}},
            name="rootscontainer",
        )
        yield eng
    finally:
        for cid in eng.container_ids():
            eng.remove(cid, force=True)
        record.remove_default_bridge(eng.paths)
        networks.remove_all(eng.paths)
        shutil.rmtree(eng.paths.run, ignore_errors=True)
        shutil.rmtree(top, ignore_errors=True)


def _snapshot(root: str) -> dict[str, tuple[int, int, int, int]]:
    """Every entry under the root: mode, owner, size, mtime (what a write would change)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns)
    return out


READS = [
    ("ps", "-a"),
    ("images",),
    ("volume", "ls"),
    ("inspect", "rootscontainer"),
    ("logs", "rootscontainer"),
    ("volume", "inspect", "rootsvolume"),
    ("image", "inspect", "busybox"),
]
WRITES = [
    ("volume", "create", "usersvolume"),
    ("volume", "rm", "rootsvolume"),
    ("tag", "busybox", "users:copy"),
    ("rmi", "-f", "busybox"),
    ("create", "--name", "userscontainer", "busybox"),
    ("run", "--pull", "never", "--rm", "busybox", "true"),
    ("rm", "-f", "rootscontainer"),
    ("rename", "rootscontainer", "usersname"),
    ("container", "prune", "-f"),
    ("volume", "prune", "-f"),
]


def test_root_owned_state_root_out_of_users_reach(unprivileged_user: User, root_store) -> None:
    """The user names root's state root with --root (and DOCKERLAB_ROOT): every read and
    write is refused in one message, nothing of root's shows, and the root is unchanged."""
    user, root = unprivileged_user, root_store.paths.root
    before = _snapshot(root)
    for args in READS + WRITES:
        r = user.dockerlab("--root", root, *args)
        one_message(r)
        out = r.stdout + r.stderr
        assert "rootscontainer" not in r.stdout and "rootsvolume" not in r.stdout, (args, out)
    r = user.dockerlab("ps", "-a", env={"DOCKERLAB_ROOT": root})
    one_message(r)
    assert _snapshot(root) == before
    # nor around the CLI: the files themselves are closed to the user
    cid = root_store.container_ids()[0]
    config = os.path.join(root, "containers", cid, "config.v2.json")
    assert os.path.exists(config)
    for path in (config, os.path.join(root, "image", "repositories.json")):
        assert user.run(["cat", path]).returncode != 0, path
    assert user.run(["touch", os.path.join(root, "containers", "x")]).returncode != 0
    assert _snapshot(root) == before


def test_default_root_state_root_refused(unprivileged_user: User) -> None:
    """`dockerlab --root /var/lib/dockerlab ps` as the user: refused in one message (whether
    root's default store exists here or not), never a traceback."""
    for args in (("ps", "-a"), ("images",)):
        one_message(unprivileged_user.dockerlab("--root", "/var/lib/dockerlab", *args))
