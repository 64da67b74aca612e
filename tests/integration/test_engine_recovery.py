"""Crash recovery: a container whose monitor dies (kill -9) is reconciled on the next look."""

from __future__ import annotations

import json
import os
import signal

import pytest
from helpers import daemon, pid_ended, wait_until

pytestmark = pytest.mark.integration


def monitor_pid(engine, cid):
    """From the engine's state file; cross-checked with the process named dockerlab-mon."""
    with open(os.path.join(engine.paths.container(cid), "state.json")) as f:
        pid = json.load(f)["MonitorPid"]
    with open(f"/proc/{pid}/task/{pid}/children") as f:  # its child is the container's
        assert str(engine.inspect(cid)["State"]["Pid"]) in f.read().split()
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "dockerlab-mon"
    return pid


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def cgroup_dirs(cid):
    return [
        f"/sys/fs/cgroup/{c}/dockerlab/{cid}"
        for c in os.listdir("/sys/fs/cgroup")
        if os.path.isdir(f"/sys/fs/cgroup/{c}/dockerlab/{cid}")
    ]


def kill_monitor(engine, cid):
    pid = monitor_pid(engine, cid)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: pid_ended(pid))


def test_monitor_is_findable_and_not_in_inspect(engine):
    cid = daemon(engine)
    assert monitor_pid(engine, cid) > 0
    assert "MonitorPid" not in engine.inspect(cid)["State"]


def test_killed_monitor_container_shows_exited_and_is_cleaned_up(engine):
    cid = daemon(engine)
    info = engine.inspect(cid)
    merged = info["GraphDriver"]["Data"]["MergedDir"]
    pid = info["State"]["Pid"]
    assert mounted(merged) and cgroup_dirs(cid)
    kill_monitor(engine, cid)
    st = engine.inspect(cid)["State"]
    assert st["Status"] == "exited" and st["Running"] is False and st["Pid"] == 0
    assert st["ExitCode"] != 0
    assert not mounted(merged)
    assert cgroup_dirs(cid) == []
    wait_until(lambda: pid_ended(pid))
    assert (
        not os.path.exists(f"/proc/{pid}")
        or open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] in "ZX"
    )


def test_killed_monitor_is_reconciled_by_ps_too(engine):
    cid = daemon(engine)
    kill_monitor(engine, cid)
    assert engine.containers() == []
    (rec,) = engine.containers(all=True)
    assert rec["Id"] == cid and rec["State"] == "exited"


def test_container_runs_again_after_its_monitor_died(engine):
    cid = daemon(engine, ["sh", "-c", "echo up >> /runs; sleep 30"])
    kill_monitor(engine, cid)
    engine.inspect(cid)
    engine.start(cid)
    st = engine.inspect(cid)["State"]
    assert st["Running"] is True
    engine.stop(cid, timeout=1)
    upper = engine.inspect(cid)["GraphDriver"]["Data"]["UpperDir"]
    with open(os.path.join(upper, "runs")) as f:
        assert f.read() == "up\nup\n"


def test_killed_monitor_of_paused_container(engine):
    cid = daemon(engine)
    engine.pause(cid)
    merged = engine.inspect(cid)["GraphDriver"]["Data"]["MergedDir"]
    kill_monitor(engine, cid)
    st = engine.inspect(cid)["State"]
    assert st["Status"] == "exited" and st["Paused"] is False
    assert not mounted(merged) and cgroup_dirs(cid) == []


def test_remove_after_monitor_died(engine):
    cid = daemon(engine)
    kill_monitor(engine, cid)
    engine.remove(cid)
    assert cid not in engine.container_ids()
    assert cgroup_dirs(cid) == []


def test_a_fresh_engine_on_the_same_root_sees_running_containers(engine):
    from dockerlab.engine import Engine

    cid = daemon(engine, name="survivor")
    other = Engine(engine.paths.root)
    assert other.inspect("survivor")["State"]["Running"] is True
    other.stop("survivor", timeout=1)
    assert engine.inspect(cid)["State"]["Status"] == "exited"
