"""``run --rm`` of a command that exits at once, on a loaded machine.

The monitor of such a container removes it while its starter may still be recording the
start: both must take the container's lock, or the starter's write of ``state.json`` lands in
a folder renamed away (``[Errno 2] … .state.json.<pid>.tmp``) and the output and exit code
are lost. Two busy loops make the interleaving likely (it failed ~6 in 80 before the fix).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

RUNS = int(os.environ.get("DOCKERLAB_RACE_RUNS", "200"))


@pytest.fixture
def busy_cpus():
    """Two busy loops (one per core here) for the test's duration; killed after."""
    procs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(2)]
    yield
    for p in procs:
        p.kill()
        p.wait()


@pytest.mark.timeout(900)
def test_run_rm_of_an_instant_exit_keeps_output_and_code_under_load(engine, busy_cpus):
    env = {**os.environ, "DOCKERLAB_ROOT": engine.paths.root}
    argv = [
        sys.executable,
        "-m",
        "dockerlab",
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; exit 3",
    ]
    for i in range(RUNS):
        r = subprocess.run(argv, env=env, capture_output=True, timeout=60)
        assert (r.returncode, r.stdout) == (3, b"out\n"), (
            f"run {i + 1} of {RUNS}: exit {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}"
        )
    assert engine.container_ids() == []


@pytest.mark.timeout(300)
def test_api_run_with_auto_remove_under_load(engine, busy_cpus):
    """The engine's own ``run`` (the API and ``%docker`` path) with AutoRemove."""
    body = {
        "Image": "busybox",
        "Cmd": ["sh", "-c", "echo out; exit 3"],
        "HostConfig": {"AutoRemove": True},
    }
    for i in range(RUNS // 2):
        _, att = engine.run(body, attach="oe")
        assert att is not None
        try:
            code, out, _ = att.collect()
        finally:
            att.close()
        assert (code, out) == (3, b"out\n"), f"run {i + 1} of {RUNS // 2}"
    assert engine.container_ids() == []


_MAGIC_LOOP = """
import sys
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output

ip = start_ipython()
ip.run_line_magic("load_ext", "dockerlab")
for i in range(int(sys.argv[1])):
    with capture_output() as shown:
        result = ip.run_line_magic("docker", "run --rm busybox sh -c 'echo out; exit 3'")
    got = None if result is None else (result.exit_code, result.stdout)
    if got != (3, "out\\n"):
        sys.exit(f"run {i + 1}: {got!r} {shown.stderr!r}")
"""


@pytest.mark.timeout(300)
def test_docker_magic_run_rm_under_load(engine, busy_cpus):
    """``%docker run --rm`` (the notebook's path: create, then start attached), in its own
    process: IPython's test shell is one per process and test_magics.py owns this one."""
    pytest.importorskip("IPython")
    env = {**os.environ, "DOCKERLAB_ROOT": engine.paths.root}
    r = subprocess.run(
        [sys.executable, "-c", _MAGIC_LOOP, str(RUNS // 4)],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert engine.container_ids() == []
