"""Real cgroup v1 on this host: limits, freezer, OOM kill, stats, kill and removal.

Each test makes its own ``dockerlab-test/<random>`` cgroup, puts real child processes in it,
and removes everything afterwards. Children wait on a pipe until they are in the cgroup, so
what they do (fork, allocate, spin) is charged to it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from helpers import wait_until

from dockerlab.engine.runtime.cgroups import Resources, open_cgroup, version
from dockerlab.errors import DockerlabError, InvalidParameter

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
PARENT = "dockerlab-test"


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "root is needed to create cgroups"
    if version() != 1:
        return "this host is not cgroup v1 (/sys/fs/cgroup is cgroup2)"
    return None


MISSING = _missing()
if MISSING:
    pytest.skip(MISSING, allow_module_level=True)


def _require(cg, *controllers: str) -> None:
    for controller in controllers:
        if controller not in cg.paths:
            pytest.skip(f"cgroup v1 controller '{controller}' is not mounted on this host")


@pytest.fixture
def cgroup():
    cg = open_cgroup(f"{PARENT}/{uuid.uuid4().hex[:12]}")
    _require(cg, "memory", "cpu", "cpuacct", "pids", "freezer")
    children: list[subprocess.Popen] = []
    cg.children = children  # type: ignore[attr-defined]
    try:
        yield cg
    finally:
        cg.kill_all(signal.SIGKILL)  # a cgroup never created has no one to kill
        for child in children:
            if child.poll() is None:
                child.kill()
            child.wait()
        cg.destroy()
        for mount in {os.path.dirname(os.path.dirname(p)) for p in cg.paths.values()}:
            try:
                os.rmdir(os.path.join(mount, PARENT))
            except OSError:
                pass  # another test's cgroup is still there


def _start(cg, code: str) -> subprocess.Popen:
    """A Python child that runs ``code`` once it has been moved into ``cg``."""
    gate = "import sys; sys.stdin.readline()\n"
    child = subprocess.Popen(
        [sys.executable, "-S", "-c", gate + code],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    cg.children.append(child)
    cg.add(child.pid)
    child.stdin.write(b"go\n")
    child.stdin.flush()
    return child


def _wait_for(predicate, timeout: float = 20.0) -> bool:
    return bool(wait_until(predicate, timeout, interval=0.01))


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def test_create_writes_memory_cpu_and_pids_limits(cgroup):
    cgroup.create(Resources(memory=32 * MiB, nano_cpus=5 * 10**8, cpu_shares=512, pids_limit=50))
    mem = cgroup.paths["memory"]
    assert _read(f"{mem}/memory.limit_in_bytes") == str(32 * MiB)
    if os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):
        assert _read(f"{mem}/memory.memsw.limit_in_bytes") == str(64 * MiB)
    cpu = cgroup.paths["cpu"]
    assert _read(f"{cpu}/cpu.cfs_quota_us") == "50000"
    assert _read(f"{cpu}/cpu.cfs_period_us") == "100000"
    assert _read(f"{cpu}/cpu.shares") == "512"
    assert _read(f"{cgroup.paths['pids']}/pids.max") == "50"


def test_update_raises_and_lowers_memory_with_swap(cgroup):
    cgroup.create(Resources(memory=32 * MiB))
    mem = cgroup.paths["memory"]
    cgroup.update(Resources(memory=128 * MiB, memory_swap=256 * MiB))
    assert _read(f"{mem}/memory.limit_in_bytes") == str(128 * MiB)
    cgroup.update(Resources(memory=16 * MiB, memory_swap=20 * MiB))
    assert _read(f"{mem}/memory.limit_in_bytes") == str(16 * MiB)
    if os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):
        assert _read(f"{mem}/memory.memsw.limit_in_bytes") == str(20 * MiB)


def test_bad_limit_is_refused_and_nothing_is_left(cgroup):
    with pytest.raises(InvalidParameter, match="Minimum memory limit allowed is 6MB"):
        cgroup.create(Resources(memory=MiB))
    assert not any(os.path.exists(p) for p in cgroup.paths.values())


def test_added_process_is_in_every_hierarchy(cgroup):
    cgroup.create(Resources())
    child = _start(cgroup, "import time; time.sleep(30)")
    assert cgroup.pids() == [child.pid]
    with open(f"/proc/{child.pid}/cgroup") as f:
        joined = {
            c: path
            for line in f.read().splitlines()
            for _, controllers, path in [line.split(":", 2)]
            for c in controllers.split(",")
        }
    for controller in ("memory", "cpu", "cpuacct", "pids", "freezer", "blkio"):
        assert joined[controller] == f"/{cgroup.name}"


def test_freeze_stops_a_busy_process_and_thaw_resumes_it(cgroup):
    cgroup.create(Resources())
    _start(cgroup, "while True: pass")
    usage = f"{cgroup.paths['cpuacct']}/cpuacct.usage"
    cgroup.freeze()
    assert cgroup.frozen()
    assert _read(f"{cgroup.paths['freezer']}/freezer.state") == "FROZEN"
    before = int(_read(usage))
    time.sleep(0.2)  # time passes; a frozen process must not use it
    assert int(_read(usage)) == before  # not one nanosecond of CPU while frozen
    cgroup.thaw()
    assert not cgroup.frozen()
    assert _wait_for(lambda: int(_read(usage)) > before)


def test_process_over_the_memory_limit_is_oom_killed(cgroup):
    cgroup.create(Resources(memory=32 * MiB))
    assert not cgroup.oom_killed()
    child = _start(cgroup, "data = b'x' * (256 * 1024 * 1024)")
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert cgroup.oom_killed()


def test_kill_all_reaches_forked_children_and_destroy_removes_every_directory(cgroup):
    cgroup.create(Resources(pids_limit=20))
    child = _start(
        cgroup,
        "import os, time\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(30); os._exit(0)\n"
        "time.sleep(30)",
    )
    assert _wait_for(lambda: len(cgroup.pids()) == 4)
    assert child.pid in cgroup.pids()
    cgroup.kill_all(signal.SIGKILL)
    child.wait(timeout=5)
    assert child.returncode == -signal.SIGKILL
    cgroup.destroy()  # retries while the forked children finish dying
    assert not any(os.path.exists(p) for p in cgroup.paths.values())
    cgroup.destroy()  # already gone: fine


def test_pids_limit_stops_fork_bombs(cgroup):
    cgroup.create(Resources(pids_limit=3))
    child = _start(
        cgroup,
        "import os, sys\n"
        "n = 0\n"
        "try:\n"
        "    for _ in range(10):\n"
        "        if os.fork() == 0:\n"
        "            import time; time.sleep(30); os._exit(0)\n"
        "        n += 1\n"
        "except BlockingIOError:\n"
        "    sys.exit(10 + n)\n",
    )
    child.wait(timeout=10)
    assert child.returncode == 12  # itself + 2 children = 3 tasks, the third fork fails
    assert _wait_for(lambda: len(cgroup.pids()) == 2)


def test_stats_report_real_usage(cgroup):
    cgroup.create(Resources(memory=64 * MiB, pids_limit=10))
    _start(
        cgroup,
        "import time\n"
        "data = b'x' * (8 * 1024 * 1024)\n"
        "end = time.process_time() + 0.3\n"  # CPU time: holds under load
        "while time.process_time() < end: pass\n"
        "time.sleep(30)",
    )
    cpu = f"{cgroup.paths['cpuacct']}/cpuacct.usage"
    assert _wait_for(lambda: int(_read(cpu)) > 200_000_000)
    stats = cgroup.stats()
    usage = stats["cpu_stats"]["cpu_usage"]
    assert usage["total_usage"] > 200_000_000
    assert len(usage["percpu_usage"]) >= 1
    assert usage["usage_in_usermode"] + usage["usage_in_kernelmode"] > 0
    assert stats["cpu_stats"]["system_cpu_usage"] > usage["total_usage"]
    assert stats["cpu_stats"]["online_cpus"] == os.cpu_count()
    mem = stats["memory_stats"]
    assert mem["limit"] == 64 * MiB
    assert 8 * MiB <= mem["usage"] <= 64 * MiB
    assert mem["max_usage"] >= mem["usage"]
    assert "total_rss" in mem["stats"] and "total_inactive_file" in mem["stats"]
    assert stats["pids_stats"] == {"current": 1, "limit": 10}
    assert isinstance(stats["blkio_stats"]["io_service_bytes_recursive"], list)


def test_unlimited_memory_reports_host_memory_as_limit(cgroup):
    cgroup.create(Resources())
    with open("/proc/meminfo") as f:
        total = int(f.readline().split()[1]) * 1024
    assert cgroup.stats()["memory_stats"]["limit"] == total


def test_pausing_a_cgroup_that_does_not_exist_says_so(cgroup):
    with pytest.raises(DockerlabError, match="does not exist"):
        cgroup.freeze()
    assert not cgroup.frozen() and cgroup.pids() == [] and not cgroup.oom_killed()
