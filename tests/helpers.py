"""Helpers shared by the tests: detached containers, bounded polling, ready markers, CLI runners.

Tests import it as `helpers` (pytest puts tests/ on sys.path for tests/conftest.py). Nothing here
sleeps a fixed time to "let things settle": a test waits for the very thing it needs, bounded,
so a loaded machine makes it slower, never wrong.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# Generous: a loaded CI machine can take seconds to start a container; a pass returns at once.
WAIT = 20.0


def wait_until(
    predicate: Callable[[], T],
    timeout: float = WAIT,
    interval: float = 0.02,
    what: str | None = None,
) -> T:
    """Poll `predicate` until it returns something truthy and return that; fail after `timeout`.

    With `what`, a timeout raises AssertionError naming it; without, returns the last falsy
    value so the caller's own assertion reports what it saw.
    """
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got or time.monotonic() >= deadline:
            break
        time.sleep(interval)
    if not got and what is not None:
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
    return got


def daemon(
    engine: Any, cmd: Sequence[str] = ("sleep", "30"), name: str | None = None, **body: Any
) -> str:
    """Create and start a detached busybox container (`docker run -d`); returns its id."""
    cid, _ = engine.run({"Image": "busybox", "Cmd": list(cmd), **body}, name=name, attach="")
    return cid


# The ready-marker idiom: the container's command does its setup (installs a trap, starts its
# children, writes its files), then `touch /ready`; the test waits for the file on the host
# side of the container's writable layer instead of sleeping and hoping.
READY = "touch /ready"


def ready_sh(script: str, then: str = "sleep 30 & wait") -> list[str]:
    """`sh -c 'SCRIPT; touch /ready; THEN'`: a command that marks when its setup is done."""
    return ["sh", "-c", f"{script}; {READY}; {then}"]


def upper_path(engine: Any, cid: str, path: str) -> str:
    """Host path of `path` in the container's writable layer."""
    upper = engine.inspect(cid)["GraphDriver"]["Data"]["UpperDir"]
    return os.path.join(upper, path.lstrip("/"))


def wait_ready(engine: Any, cid: str, path: str = "/ready", timeout: float = WAIT) -> None:
    """Wait until the container has created `path` (by default the /ready marker)."""
    host = upper_path(engine, cid, path)
    wait_until(lambda: os.path.exists(host), timeout, what=f"{path} in container {cid[:12]}")


def wait_for_path(path: str, timeout: float = WAIT) -> None:
    """Wait until a host path exists."""
    wait_until(lambda: os.path.exists(path), timeout, what=path)


def pid_gone(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}")


def pid_ended(pid: int) -> bool:
    """The process has exited: gone, or a zombie not yet reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except (FileNotFoundError, ProcessLookupError):
        return True


# ---- the CLI --------------------------------------------------------------------------------
def cli_env(root: str, env: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **(env or {}), "DOCKERLAB_ROOT": root}


def cli(
    root: str,
    *args: str | bytes,
    input: bytes | str | None = None,
    env: dict[str, str] | None = None,
    text: bool = False,
    timeout: float = 60,
    clean: bool = False,
) -> subprocess.CompletedProcess:
    """Run `python -m dockerlab ARGS` on state root `root` in a subprocess, output captured.

    `clean` also asserts that stderr holds no Python traceback.
    """
    r = subprocess.run(
        [sys.executable, "-m", "dockerlab", *args],
        env=cli_env(root, env),
        input=input,
        capture_output=True,
        timeout=timeout,
        text=text,
    )
    if clean:
        err = r.stderr if isinstance(r.stderr, str) else r.stderr.decode(errors="replace")
        assert "Traceback" not in err, err
    return r


def cli_popen(
    root: str, *args: str, env: dict[str, str] | None = None, **popen: Any
) -> subprocess.Popen:
    """Start `python -m dockerlab ARGS` on state root `root`; the caller waits for it."""
    return subprocess.Popen(
        [sys.executable, "-m", "dockerlab", *args], env=cli_env(root, env), **popen
    )


def cli_main(root: str, *args: str, stdin: Any = None) -> tuple[int, str, str]:
    """Run the CLI's `main` in this process on state root `root`: (exit code, stdout, stderr)."""
    from dockerlab.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    if stdin is not None:
        sys.stdin = stdin
    try:
        code = main(["--root", root, *args], out=out, err=err)
    finally:
        sys.stdin = old
    return code, out.getvalue(), err.getvalue()


def private_subnet() -> str:
    """A random 10.x.y.0/24 no host route covers: tests on many roots at once would
    otherwise exhaust Docker's 31 default pools, which every root's default bridge uses."""
    from dockerlab.engine.network import ipam

    routes = ipam.host_routes()
    while True:
        x, y = os.urandom(2)
        net = (10 << 24) | (x << 16) | (y << 8)
        if not any(ipam.overlaps((net, 24), r) for r in routes) and x not in (77, 88, 99):
            return f"10.{x}.{y}.0/24"
