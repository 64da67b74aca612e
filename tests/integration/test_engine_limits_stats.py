"""Resource limits (cgroup v1) and stats on real containers."""

from __future__ import annotations

import os
import time

import pytest
from helpers import daemon, wait_until

from dockerlab import errors

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
CG = "/sys/fs/cgroup"

if not os.path.isdir(f"{CG}/memory") or not os.path.isdir(f"{CG}/cpu"):
    pytest.skip("these tests read cgroup v1 files", allow_module_level=True)


def run(engine, cmd, **body):
    cid, att = engine.run({"Image": "busybox", "Cmd": list(cmd), **body})
    return cid, att.collect()


def cgfile(controller, cid, name):
    with open(f"{CG}/{controller}/dockerlab/{cid}/{name}") as f:
        return f.read().strip()


# ---- memory ---------------------------------------------------------------------------------
def test_memory_limit_is_written_to_the_cgroup(engine):
    cid = daemon(engine, HostConfig={"Memory": 32 * MiB})
    assert int(cgfile("memory", cid, "memory.limit_in_bytes")) == 32 * MiB
    if os.path.exists(f"{CG}/memory/dockerlab/{cid}/memory.memsw.limit_in_bytes"):
        # Docker's default swap: as much again as memory
        assert int(cgfile("memory", cid, "memory.memsw.limit_in_bytes")) == 64 * MiB


def test_memory_limit_oom_kill_gives_137_and_oomkilled(engine):
    cid, (code, _, _) = run(
        engine,
        ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
        HostConfig={"Memory": 16 * MiB, "MemorySwap": 16 * MiB},
    )
    assert code == 137
    st = engine.inspect(cid)["State"]
    assert st["ExitCode"] == 137
    assert st["OOMKilled"] is True
    assert st["Status"] == "exited"


def test_memory_within_limit_is_not_oom(engine):
    cid, (code, _, _) = run(
        engine,
        ["dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=1"],
        HostConfig={"Memory": 32 * MiB},
    )
    assert code == 0
    assert engine.inspect(cid)["State"]["OOMKilled"] is False


def test_oomkilled_is_reset_by_the_next_start(engine):
    cid, (code, _, _) = run(
        engine,
        [
            "sh",
            "-c",
            "[ -e /again ] && exit 0; touch /again; dd if=/dev/zero of=/dev/null bs=64M count=1",
        ],
        HostConfig={"Memory": 16 * MiB, "MemorySwap": 16 * MiB},
    )
    assert engine.inspect(cid)["State"]["OOMKilled"] is True
    assert engine.start(cid, attach="o").collect()[0] == 0
    assert engine.inspect(cid)["State"]["OOMKilled"] is False


def test_memory_below_6mb_is_refused_at_create(engine):
    with pytest.raises(errors.InvalidParameter) as exc:
        engine.create({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Memory": MiB}})
    assert "Minimum memory limit allowed is 6MB" in str(exc.value)


def unmount_leftovers(engine):
    """A refused start leaves its overlay mounted (engine bug, see test_engine_cleanup)."""
    with open("/proc/self/mountinfo") as f:
        for path in [ln.split()[4] for ln in f if ln.split()[4].startswith(engine.paths.root)]:
            os.system(f"umount -l '{path}'")


def test_memory_below_6mb_never_runs(engine):
    try:
        with pytest.raises((errors.InvalidParameter, errors.ContainerStartError)) as exc:
            engine.run({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Memory": MiB}})
        assert "Minimum memory limit allowed is 6MB" in str(exc.value)
    finally:
        unmount_leftovers(engine)


# ---- pids -----------------------------------------------------------------------------------
def test_pids_limit_caps_forks(engine):
    cid, (code, out, err) = run(
        engine,
        ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done"],
        HostConfig={"PidsLimit": 5},
    )
    assert b"can't fork" in err or b"Resource temporarily unavailable" in err


def test_pids_limit_is_written_to_the_cgroup(engine):
    cid = daemon(engine, HostConfig={"PidsLimit": 7})
    assert cgfile("pids", cid, "pids.max") == "7"


def test_no_pids_limit_means_max(engine):
    cid = daemon(engine)
    assert cgfile("pids", cid, "pids.max") == "max"


# ---- cpu ------------------------------------------------------------------------------------
def test_nano_cpus_sets_cfs_quota_and_period(engine):
    cid = daemon(engine, HostConfig={"NanoCpus": 500_000_000})
    assert cgfile("cpu", cid, "cpu.cfs_period_us") == "100000"
    assert cgfile("cpu", cid, "cpu.cfs_quota_us") == "50000"


def test_cpu_quota_and_period_directly(engine):
    cid = daemon(engine, HostConfig={"CpuQuota": 20000, "CpuPeriod": 50000})
    assert cgfile("cpu", cid, "cpu.cfs_period_us") == "50000"
    assert cgfile("cpu", cid, "cpu.cfs_quota_us") == "20000"


def test_no_cpu_limit_means_unlimited_quota(engine):
    cid = daemon(engine)
    assert cgfile("cpu", cid, "cpu.cfs_quota_us") == "-1"


def test_cpu_shares(engine):
    cid = daemon(engine, HostConfig={"CpuShares": 512})
    assert cgfile("cpu", cid, "cpu.shares") == "512"


def test_cpu_quota_throttles_a_busy_loop(engine):
    cid = daemon(engine, ["sh", "-c", "while :; do :; done"], HostConfig={"NanoCpus": 100_000_000})
    time.sleep(1.0)  # a second passes: the quota caps what the loop can use of it
    usage_ns = int(cgfile("cpuacct", cid, "cpuacct.usage"))
    assert usage_ns < 0.5e9  # ~0.1 s of CPU per second, never a whole CPU

    def throttled() -> int:
        stat = dict(line.split() for line in cgfile("cpu", cid, "cpu.stat").splitlines())
        return int(stat["nr_throttled"])

    # on a loaded machine the loop may not yet have had the 10 ms that exhaust a period
    assert wait_until(throttled) > 0


def test_more_cpus_than_the_host_has_is_refused(engine):
    too_many = (os.cpu_count() or 1) + 4
    try:
        with pytest.raises((errors.InvalidParameter, errors.ContainerStartError)) as exc:
            engine.run(
                {
                    "Image": "busybox",
                    "Cmd": ["true"],
                    "HostConfig": {"NanoCpus": too_many * 1_000_000_000},
                }
            )
        assert "Range of CPUs is from" in str(exc.value)
    finally:
        unmount_leftovers(engine)


# ---- freezer --------------------------------------------------------------------------------
def test_pause_uses_the_freezer_cgroup(engine):
    cid = daemon(engine)
    assert cgfile("freezer", cid, "freezer.state") == "THAWED"
    engine.pause(cid)
    assert cgfile("freezer", cid, "freezer.state") == "FROZEN"
    pid = engine.inspect(cid)["State"]["Pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        assert any(
            line.endswith(f"/dockerlab/{cid}") and "freezer" in line
            for line in f.read().splitlines()
        )
    engine.unpause(cid)
    assert cgfile("freezer", cid, "freezer.state") == "THAWED"


def test_container_process_is_in_its_cgroup_in_every_hierarchy(engine):
    cid = daemon(engine)
    pid = engine.inspect(cid)["State"]["Pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        lines = f.read().splitlines()
    for controller in ("memory", "pids", "freezer", "cpuacct"):
        line = next(ln for ln in lines if controller in ln.split(":")[1].split(","))
        assert line.endswith(f"/dockerlab/{cid}"), line


# ---- stats ----------------------------------------------------------------------------------
def test_stats_of_running_container(engine):
    cid = daemon(
        engine,
        ["sh", "-c", "while :; do :; done"],
        HostConfig={"Memory": 64 * MiB, "PidsLimit": 50},
    )
    first = engine.stats(cid)
    time.sleep(0.5)  # time passes between the two samples
    second = engine.stats(cid, previous=first)
    assert second["id"] == cid and second["name"] == engine.inspect(cid)["Name"]
    assert second["memory_stats"]["limit"] == 64 * MiB
    assert 0 < second["memory_stats"]["usage"] < 64 * MiB
    assert second["pids_stats"]["current"] >= 1
    assert second["pids_stats"]["limit"] == 50
    cpu, pre = second["cpu_stats"], second["precpu_stats"]
    assert cpu["cpu_usage"]["total_usage"] > pre["cpu_usage"]["total_usage"]
    assert cpu["system_cpu_usage"] > pre["system_cpu_usage"]
    assert cpu["online_cpus"] >= 1
    assert second["preread"] == first["read"]


def test_stats_of_stopped_container_are_zero(engine):
    cid, _ = run(engine, ["true"])
    s = engine.stats(cid)
    assert s["cpu_stats"]["cpu_usage"]["total_usage"] == 0
    assert s["memory_stats"] == {} and s["pids_stats"] == {}


def test_stats_network_has_no_host_interfaces(engine):
    cid = daemon(engine)  # the default bridge: its own eth0, nothing of the host's
    assert list(engine.stats(cid).get("networks", {})) == ["eth0"]
    cid = daemon(engine, HostConfig={"NetworkMode": "none"})
    assert engine.stats(cid).get("networks", {}) == {}
