"""What the CLI really imports to start a container: `run`, `start -a` and `exec`, end to end.

The list of modules it must not load is the unit test's (tests/unit/test_architecture.py):
each costs the CLI's start milliseconds. DESIGN.md, "Starting containers fast".
"""

from __future__ import annotations

import os
import subprocess
import sys

import helpers
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "unit"))
from test_architecture import CLI_START_FORBIDDEN  # noqa: E402

_PROBE = (
    "import sys; from dockerlab.cli import main; code = main(sys.argv[1:]); "
    "sys.stdout.flush(); "
    "sys.stderr.write('\\nMODULES ' + ','.join(sorted(sys.modules)) + '\\n'); "
    "raise SystemExit(code)"
)


def _warm(root: str) -> None:
    """A root's first container compiles the seccomp program (ctypes, libseccomp) and keeps
    it; every later one reads it: the path measured is the later ones'."""
    assert helpers.cli(root, "run", "--rm", "busybox", "true").returncode == 0


def _modules_of(root: str, *argv: str) -> tuple[int, set[str]]:
    r = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        env=helpers.cli_env(root),
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = r.stderr.rsplit("MODULES ", 1)[-1]
    return r.returncode, set(line.strip().split(","))


@pytest.mark.parametrize(
    "argv",
    [
        ("run", "--rm", "busybox", "true"),
        ("run", "--rm", "-e", "A=1", "--name", "fast", "busybox", "sh", "-c", "exit 3"),
    ],
)
def test_run_loads_no_slow_module(engine, argv):
    _warm(engine.paths.root)
    code, modules = _modules_of(engine.paths.root, *argv)
    assert code == (3 if "exit 3" in argv else 0)
    assert "dockerlab.engine.runtime.spawn" in modules  # the probe saw the real path
    assert sorted(modules & set(CLI_START_FORBIDDEN)) == []


def test_start_attached_and_exec_load_no_slow_module(engine):
    root = engine.paths.root
    _warm(root)
    cid = helpers.cli(root, "create", "busybox", "true").stdout.decode().strip()
    code, modules = _modules_of(root, "start", "-a", cid)
    assert code == 0
    assert sorted(modules & set(CLI_START_FORBIDDEN)) == []
    running = helpers.daemon(engine)
    code, modules = _modules_of(root, "exec", running, "true")
    assert code == 0
    # exec's helper is a subprocess.Popen (the terminal verbs and the magics drive its pipes),
    # and subprocess brings threading and locale: the one place they are allowed.
    allowed = {"subprocess", "threading", "locale"}
    assert sorted(modules & set(CLI_START_FORBIDDEN) - allowed) == []
