"""Rootless mode (engine/rootless.py), run for real as temporary unprivileged users with
subordinate ID ranges: the CLI as that user (the system's Python, this tree on PYTHONPATH),
its state root under the user's home, runtime files in the /tmp fallback."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess

import pytest
from users import missing_tools, temp_user


def _missing() -> str | None:
    why = missing_tools()
    if why:
        return why
    for tool in ("newuidmap", "newgidmap"):
        if not any(os.path.exists(f"{d}/{tool}") for d in ("/usr/bin", "/usr/sbin", "/bin")):
            return f"{tool} is missing (Debian package uidmap)"
    with open("/proc/sys/user/max_user_namespaces") as f:
        if f.read().strip() == "0":
            return "user namespaces are disabled (sysctl user.max_user_namespaces=0)"
    return None


MISSING = _missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


class User:
    """A temporary user of :func:`users.temp_user` (no XDG_RUNTIME_DIR: the /tmp fallback),
    its store, and its first subordinate uid; ``remove()`` ends it and all it had."""

    def __init__(self, ranges: bool = True) -> None:
        self._stack = contextlib.ExitStack()
        self.user = self._stack.enter_context(temp_user(subids=ranges, runtime_dir=False))
        self.name, self.uid, self.home = self.user.name, self.user.uid, self.user.home
        self.subuid = self.user.ranges()[0][0] if ranges else None
        self.store = os.path.join(self.home, ".local", "share", "dockerlab")

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.user.dockerlab(*args, timeout=timeout)

    def remove(self) -> None:
        self._stack.close()
        shutil.rmtree(f"/tmp/dockerlab-{self.uid}", ignore_errors=True)


@pytest.fixture(scope="module")
def image_tar(tmp_path_factory):
    """busybox:latest as a tar every test user can read."""
    from dockerlab.engine import Engine

    folder = tmp_path_factory.mktemp("rootless")
    eng = Engine(str(folder / "root"))
    eng.image_bootstrap("busybox")
    tar = f"/tmp/dockerlab-rootless-busybox-{secrets.token_hex(4)}.tar"
    with open(tar, "wb") as f:
        eng.save(["busybox"], f)
    os.chmod(tar, 0o644)
    yield tar
    os.unlink(tar)


def _make_user(image_tar: str, ranges: bool = True):
    user = User(ranges=ranges)
    try:
        got = user.cli("load", "-i", image_tar)
        assert got.returncode == 0, got.stderr
    except BaseException:
        user.remove()
        raise
    return user


@pytest.fixture(scope="module")
def alice(image_tar):
    user = _make_user(image_tar)
    yield user
    user.remove()


@pytest.fixture(scope="module")
def bob(image_tar):
    user = _make_user(image_tar)
    yield user
    user.remove()


def test_run_echo_hi(alice):
    got = alice.cli("run", "--rm", "busybox", "echo", "hi")
    assert got.returncode == 0, got.stderr
    assert got.stdout == "hi\n"
    # the default network: the user's bridge (test_rootless_network.py), or, where
    # slirp4netns or /dev/net/tun is missing for this user, none, said once
    said = got.stderr.count("the container runs with --network none")
    assert said == 1 or got.stderr == ""


def test_root_in_container_is_the_user(alice):
    got = alice.cli("run", "--rm", "--network", "none", "busybox", "id")
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith("uid=0(root) gid=0(root)")
    mapped = alice.cli("run", "--rm", "--network", "none", "busybox", "cat", "/proc/self/uid_map")
    lines = [line.split() for line in mapped.stdout.splitlines()]
    assert lines[0] == ["0", str(alice.uid), "1"]
    assert lines[1][:2] == ["1", str(alice.subuid)]


def test_files_owned_by_user_and_subordinate_range(alice):
    got = alice.cli(
        "run",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "touch /mine; mkdir /d; touch /d/theirs; chown -R 1000:1000 /d",
    )
    assert got.returncode == 0, got.stderr
    cid = alice.cli("ps", "-alq", "--no-trunc").stdout.strip()
    diff = os.path.join(alice.store, "overlay", cid, "diff")
    assert os.stat(os.path.join(diff, "mine")).st_uid == alice.uid
    st = os.stat(os.path.join(diff, "d", "theirs"))
    assert (st.st_uid, st.st_gid) == (alice.subuid + 999, alice.subuid + 999)
    # removed although the user alone may not delete the subordinate range's files
    assert alice.cli("rm", cid).returncode == 0
    assert not os.path.exists(os.path.join(alice.store, "overlay", cid))


def test_container_sees_no_host_process(alice):
    got = alice.cli("run", "--rm", "--network", "none", "busybox", "ps", "-o", "pid,comm")
    assert got.returncode == 0, got.stderr
    pids = [line.split()[0] for line in got.stdout.splitlines()[1:]]
    assert pids == ["1"]  # ps is pid 1 itself: nothing of the host's
    got = alice.cli("run", "--rm", "--network", "none", "busybox", "ls", f"/proc/{os.getpid()}")
    assert got.returncode != 0


def test_limits_refused_with_the_reason(alice):
    for flags in (["-m", "16m"], ["--cpus", "0.5"], ["--pids-limit", "10"]):
        got = alice.cli("run", "--rm", *flags, "busybox", "true")
        assert got.returncode == 125, got.stderr
        assert "cgroup v1" in got.stderr and "administrator" in got.stderr
        assert "Traceback" not in got.stderr


def test_info_says_rootless(alice):
    got = alice.cli("info", "--format", "{{json .SecurityOptions}}")
    assert got.returncode == 0, got.stderr
    assert "name=rootless" in got.stdout
    text = alice.cli("info")
    assert "Cgroup Driver: none" in text.stdout
    assert "Running in rootless mode: no cgroup" in text.stdout + text.stderr


def test_two_users_never_see_each_other(alice, bob):
    got = alice.cli("run", "-d", "--name", "secret", "--network", "none", "busybox", "sleep", "60")
    assert got.returncode == 0, got.stderr
    try:
        assert "secret" not in bob.cli("ps", "-a").stdout
        stop = bob.cli("stop", "secret")
        assert stop.returncode != 0 and "No such container: secret" in stop.stderr
        # and bob's containers cannot see alice's
        mine = bob.cli("run", "--rm", "--network", "none", "busybox", "ps", "-o", "comm")
        assert "sleep" not in mine.stdout
        # alice's state root is hers alone (the attack: bob lists it directly)
        attempt = subprocess.run(
            ["runuser", "-u", bob.name, "--", "ls", os.path.join(alice.store, "containers")],
            capture_output=True,
        )
        assert attempt.returncode != 0
    finally:
        alice.cli("rm", "-f", "secret")


def test_runtime_fallback_taken_by_another_user_is_refused(image_tar, bob):
    """The attack: another user makes /tmp/dockerlab-<uid> first (world-writable, theirs) to
    watch or replace the victim's forkserver socket; the victim refuses to use it."""
    victim = _make_user(image_tar)
    base = f"/tmp/dockerlab-{victim.uid}"
    try:
        shutil.rmtree(base, ignore_errors=True)
        made = subprocess.run(
            ["runuser", "-u", bob.name, "--", "mkdir", "-m", "777", base], capture_output=True
        )
        assert made.returncode == 0, made.stderr
        got = victim.cli("run", "--rm", "--network", "none", "busybox", "true")
        assert got.returncode == 125
        assert "belongs to another user" in got.stderr, got.stderr
        assert os.listdir(base) == []  # nothing of the victim's went there
    finally:
        shutil.rmtree(base, ignore_errors=True)
        victim.remove()


def test_no_ranges_single_mapping_with_warning(image_tar):
    user = _make_user(image_tar, ranges=False)
    try:
        got = user.cli("run", "--rm", "--network", "none", "busybox", "id", "-u")
        assert got.returncode == 0, got.stderr
        assert got.stdout == "0\n"
        assert "no subordinate ID ranges" in got.stderr
    finally:
        user.remove()


def test_stop_without_a_cgroup_and_pause_refused_with_the_reason(alice):
    got = alice.cli("run", "-d", "--name", "st", "--network", "none", "busybox", "sleep", "60")
    assert got.returncode == 0, got.stderr
    try:
        # pid 1 ignores SIGTERM: the stop ends with SIGKILL, found without a cgroup
        assert alice.cli("stop", "-t", "1", "st", timeout=60).returncode == 0
        assert alice.cli("inspect", "-f", "{{.State.Running}}", "st").stdout == "false\n"
        assert alice.cli("start", "st").returncode == 0
        paused = alice.cli("pause", "st")
        assert paused.returncode != 0 and "cgroup v1" in paused.stderr
    finally:
        alice.cli("rm", "-f", "st")


def test_exec_joins_the_user_namespace_first(alice):
    got = alice.cli("run", "-d", "--name", "ex", "--network", "none", "busybox", "sleep", "60")
    assert got.returncode == 0, got.stderr
    try:
        inside = alice.cli("exec", "ex", "sh", "-c", "id -u; ps -o pid,comm")
        assert inside.returncode == 0, inside.stderr
        lines = inside.stdout.splitlines()
        assert lines[0] == "0"
        assert [line.split()[0] for line in lines[2:]] == ["1", "2"]  # sleep, ps: no host's
        assert alice.cli("exec", "-u", "1000", "ex", "id", "-u").stdout == "1000\n"
    finally:
        alice.cli("rm", "-f", "ex")


def test_overlay_with_userxattr_opaque_folders_and_whiteouts(alice):
    """A folder of a lower layer removed and made anew is opaque (user.overlay.opaque, as
    userxattr wants), through commit and a run of the committed image too."""
    got = alice.cli("run", "--name", "ov1", "--network", "none", "busybox", "mkdir", "/var/x")
    assert got.returncode == 0, got.stderr
    try:
        assert alice.cli("commit", "ov1", "rl:ov").returncode == 0
        got = alice.cli(
            "run",
            "--rm",
            "--network",
            "none",
            "rl:ov",
            "sh",
            "-c",
            "rm -rf /var /bin/vi; mkdir /var; ls -A /var; ls /bin/vi; echo end",
        )
        assert got.stdout == "end\n", got.stdout + got.stderr
        got = alice.cli(
            "run",
            "--name",
            "ov2",
            "--network",
            "none",
            "rl:ov",
            "sh",
            "-c",
            "rm -rf /var; mkdir /var; touch /var/new",
        )
        assert got.returncode == 0, got.stderr
        assert alice.cli("commit", "ov2", "rl:ov2").returncode == 0
        got = alice.cli("run", "--rm", "--network", "none", "rl:ov2", "ls", "-A", "/var")
        assert got.stdout == "new\n", got.stdout + got.stderr
    finally:
        alice.cli("rm", "-f", "ov1", "ov2")


def _drop_lines(path: str, name: str) -> None:
    with open(path) as f:
        kept = [line for line in f if not line.startswith(f"{name}:")]
    with open(path, "w") as f:
        f.writelines(kept)


def test_a_mapping_newuidmap_refuses_is_told_in_its_words(image_tar):
    """A range newuidmap will not map (host uid 0 onwards): the forkserver cannot make its
    namespace, and the run says why instead of "the forkserver did not answer"."""
    user = _make_user(image_tar, ranges=False)
    try:
        for path in ("/etc/subuid", "/etc/subgid"):
            with open(path, "a") as f:
                f.write(f"{user.name}:0:65536\n")
        got = user.cli("run", "--rm", "--network", "none", "busybox", "true")
        assert got.returncode == 125
        assert "newuidmap/newgidmap refused" in got.stderr, got.stderr
        assert "uid_map" in got.stderr and "Traceback" not in got.stderr
    finally:
        for path in ("/etc/subuid", "/etc/subgid"):
            _drop_lines(path, user.name)
        user.remove()
