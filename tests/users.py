"""Temporary unprivileged users, for tests that run dockerlab as someone other than root.

`temp_user()` makes one with useradd: a home, its own group, subordinate ID ranges in
/etc/subuid and /etc/subgid (unless `subids=False`) and a runtime folder /run/user/UID (as
logind makes one; `runtime_dir=False` leaves XDG_RUNTIME_DIR unset). On the way out, even
when the test failed, it ends the user's processes (by pid: those in the user's IDs or ranges),
and removes the ranges, the user, its home and its runtime folder. `User.run` runs a command as
that user with a clean environment; `User.dockerlab` runs this tree's CLI as that user. The
fixture `unprivileged_user` (imported by conftest.py, so every test may ask for it) is one user
per test.

Tests import this module as `users` (tests/ is on sys.path, as for `helpers`).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from helpers import wait_until

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUBUID, SUBGID = "/etc/subuid", "/etc/subgid"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SYSTEM_PYTHON = "/usr/bin/python3"
TOOLS = {"useradd": "passwd", "userdel": "passwd", "usermod": "passwd", "runuser": "util-linux"}


@dataclass
class User:
    """A temporary unprivileged user (see the module's docstring)."""

    name: str
    uid: int
    gid: int
    home: str
    runtime_dir: str | None
    _python: str | None = field(default=None, repr=False)

    def ranges(self, path: str = SUBUID) -> list[tuple[int, int]]:
        """The user's subordinate ranges in /etc/subuid (or `path`): (first, count) pairs."""
        return _ranges_of(path, self.name)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A login's environment, nothing inherited from the test (root's variables stay out)."""
        env = {
            "HOME": self.home,
            "USER": self.name,
            "LOGNAME": self.name,
            "SHELL": "/bin/sh",
            "PATH": PATH,
            "LANG": "C.UTF-8",
        }
        if self.runtime_dir:
            env["XDG_RUNTIME_DIR"] = self.runtime_dir
        return {**env, **(extra or {})}

    def run(
        self,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        input: str | None = None,
        timeout: float = 60,
        cwd: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` as the user, from its home with `self.env(env)`; output captured as text.

        runuser, not setpriv: setpriv keeps root's capabilities until its exec, so it would
        start a program the user cannot reach (root's private pyenv) and hide the bug. No
        no_new_privs either: rootless mode's setuid newuidmap/newgidmap must keep working.
        """
        # runuser by its path: `env` may give the user a PATH without /usr/sbin
        cmd = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", self.name, "--", *argv]
        return subprocess.run(
            cmd,
            env=self.env(env),
            cwd=cwd or self.home,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def python(self) -> str:
        """The Python the user runs dockerlab with: the tests' own (the venv's) when the user
        may run it; else the system's. A venv made before issue 13 is built on root's private
        pyenv, which no other user can run (scripts/setup.sh makes it again, public)."""
        if self._python is None:
            ok = self.run([sys.executable, "-c", ""]).returncode == 0
            self._python = sys.executable if ok else SYSTEM_PYTHON
        return self._python

    def dockerlab(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        input: str | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """`python -m dockerlab ARGS` as the user: this tree's dockerlab (PYTHONPATH), on the
        user's own default state root unless `args` or `env` name another."""
        argv = [self.python(), "-m", "dockerlab", *args]
        r = self.run(argv, {"PYTHONPATH": REPO, **(env or {})}, input=input, timeout=timeout)
        if "No module named dockerlab" in r.stderr:
            pytest.fail(f"user {self.name} cannot read this tree ({REPO}): {r.stderr.strip()}")
        return r


def _ranges_of(path: str, name: str) -> list[tuple[int, int]]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        parts = line.split(":")
        if len(parts) == 3 and parts[0] == name:
            out.append((int(parts[1]), int(parts[2])))
    return out


def _free_range(count: int = 65536, first: int = 100000) -> int:
    """A start above every range in /etc/subuid and /etc/subgid (for a useradd that made none)."""
    end = first
    for path in (SUBUID, SUBGID):
        try:
            with open(path) as f:
                for line in f:
                    parts = line.strip().split(":")
                    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                        end = max(end, int(parts[1]) + int(parts[2]))
        except FileNotFoundError:
            pass
    return -(-end // count) * count


def _uid_of(pid: str) -> int | None:
    """The process's real uid; None once it has ended (a zombie waits for its parent only)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:") and line.split()[1] in "ZX":
                    return None
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return None


def _processes_of(uid: int, ranges: list[tuple[int, int]]) -> list[int]:
    """Pids whose real uid is the user's, or in its ranges (what its containers run as)."""

    def mine(u: int | None) -> bool:
        return u is not None and (u == uid or any(a <= u < a + n for a, n in ranges))

    return [int(p) for p in os.listdir("/proc") if p.isdigit() and mine(_uid_of(p))]


def _end_processes(uid: int, ranges: list[tuple[int, int]]) -> None:
    """Kill, one by one by pid, what the user left running (monitors, a forkserver)."""
    for pid in _processes_of(uid, ranges):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: not _processes_of(uid, ranges), timeout=10)


def _scrub(path: str, name: str) -> None:
    """Last resort: drop `name`'s lines that userdel left (an older shadow keeps them)."""
    if not _ranges_of(path, name):
        return
    with open(path) as f:
        kept = [line for line in f if line.split(":", 1)[0] != name]
    tmp = f"{path}.dltest"
    with open(tmp, "w") as f:
        f.writelines(kept)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


@contextmanager
def temp_user(subids: bool = True, runtime_dir: bool = True) -> Iterator[User]:
    """A fresh unprivileged user for the block, removed with everything it had afterwards."""
    name = "dlt" + secrets.token_hex(4)
    made_files = [p for p in (SUBUID, SUBGID) if subids and not os.path.exists(p)]
    for path in made_files:  # useradd allocates ranges only where these files exist
        with open(path, "a"):
            os.chmod(path, 0o644)
    opts = [] if subids else ["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"]
    made = subprocess.run(
        ["useradd", "--create-home", "--shell", "/bin/sh", *opts, name],
        capture_output=True,
        text=True,
    )
    user: User | None = None
    try:
        if made.returncode != 0:
            raise RuntimeError(f"useradd {name}: {made.stderr.strip()}")
        pw = pwd.getpwnam(name)
        user = User(name, pw.pw_uid, pw.pw_gid, pw.pw_dir, None)
        if subids and not (user.ranges(SUBUID) and user.ranges(SUBGID)):
            first = _free_range()
            span = f"{first}-{first + 65535}"
            subprocess.run(
                ["usermod", "--add-subuids", span, "--add-subgids", span, name],
                check=True,
                capture_output=True,
            )
        if runtime_dir:
            user.runtime_dir = f"/run/user/{user.uid}"
            shutil.rmtree(user.runtime_dir, ignore_errors=True)  # an old uid's leftover
            os.makedirs("/run/user", mode=0o755, exist_ok=True)
            os.mkdir(user.runtime_dir, 0o700)
            os.chown(user.runtime_dir, user.uid, user.gid)
        yield user
    finally:
        if user is not None:
            ranges = user.ranges(SUBUID) + user.ranges(SUBGID)
            _end_processes(user.uid, ranges)
            for opt, path in (("--del-subuids", SUBUID), ("--del-subgids", SUBGID)):
                for first, count in user.ranges(path):
                    subprocess.run(
                        ["usermod", opt, f"{first}-{first + count - 1}", name],
                        capture_output=True,
                    )
        if made.returncode == 0:  # never another's: a name useradd refused is not ours
            subprocess.run(["userdel", "--remove", "--force", name], capture_output=True)
            for path in (SUBUID, SUBGID):
                _scrub(path, name)
        for path in made_files:
            if os.path.getsize(path) == 0:
                os.unlink(path)
        if user is not None:
            shutil.rmtree(user.home, ignore_errors=True)
            shutil.rmtree(f"/tmp/dockerlab-{user.uid}", ignore_errors=True)  # rootless fallback
            if user.runtime_dir:
                shutil.rmtree(user.runtime_dir, ignore_errors=True)


def missing_tools() -> str | None:
    """Why a test user cannot be made here, or None."""
    if os.geteuid() != 0:
        return "making a test user needs root (useradd)"
    for tool, package in TOOLS.items():
        if not shutil.which(tool):
            return f"{tool} is missing (Debian package {package})"
    return None


@pytest.fixture
def unprivileged_user() -> Iterator[User]:
    """A temporary unprivileged user with subordinate ID ranges, removed after the test."""
    why = missing_tools()
    if why:
        pytest.skip(why)
    with temp_user() as user:
        yield user
