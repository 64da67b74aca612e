"""Restart policies, `update` and the cpuset/reservation/OOM flags on real containers.

Values are read back from inside the container (its own /sys/fs/cgroup, as Docker's tests
read them); restarts are awaited with bounded polls, never timed.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from helpers import cli, daemon, pid_gone, ready_sh, wait_ready, wait_until

from dockerlab.engine.runtime.cgroups import version
from dockerlab.errors import DockerlabError, InvalidParameter, NoSuchContainer

MiB = 1024 * 1024


def v1_only() -> None:
    if version() != 1:
        pytest.skip("reads cgroup v1 files inside the container")


def inside(engine, cid: str, script: str) -> str:
    proc = engine.exec(
        cid,
        ["sh", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out.decode()


def policy(name: str, count: int = 0) -> dict:
    return {"RestartPolicy": {"Name": name, "MaximumRetryCount": count}}


def state(engine, cid: str) -> dict:
    return engine.inspect(cid)["State"]


def monitor_gone(engine, cid: str) -> bool:
    """Nothing is left that could restart it: its monitor has exited."""
    pid = engine.inspect(cid)["State"]["Pid"]
    mon = engine.store.find(cid).state.get("MonitorPid") or 0
    return pid == 0 and mon == 0


# ---- restarting ---------------------------------------------------------------------------
def test_on_failure_restarts_at_most_n_times(engine):
    cid = daemon(engine, ["sh", "-c", "echo run; exit 3"], HostConfig=policy("on-failure", 2))
    wait_until(lambda: state(engine, cid)["Status"] == "exited", what="the last exit")
    info = engine.inspect(cid)
    assert info["RestartCount"] == 2
    assert info["State"]["ExitCode"] == 3 and not info["State"]["Restarting"]
    assert "RestartCount" not in info["State"] and "HasBeenStartedBefore" not in info["State"]
    lines = [e.data for e in engine.logs(cid)]
    assert lines == [b"run\n"] * 3
    assert monitor_gone(engine, cid)


def test_a_restart_that_cannot_start_ends_exited_with_its_error(engine):
    cid = daemon(engine, ["sh", "-c", "rm /bin/sh; exit 1"], HostConfig=policy("on-failure", 3))
    wait_until(lambda: state(engine, cid)["Status"] == "exited", what="the failed restart")
    info = engine.inspect(cid)
    assert info["State"]["ExitCode"] == 127 and "sh" in info["State"]["Error"]
    assert info["RestartCount"] == 1 and monitor_gone(engine, cid)


def test_on_failure_does_not_restart_a_success(engine):
    cid = daemon(engine, ["true"], HostConfig=policy("on-failure"))
    wait_until(lambda: state(engine, cid)["Status"] == "exited", what="the exit")
    assert engine.inspect(cid)["RestartCount"] == 0


def test_always_restarts_shows_restarting_and_a_stop_ends_it(engine):
    cid = daemon(engine, ["sh", "-c", "exit 1"], HostConfig=policy("always"))
    st = wait_until(
        lambda: (s := state(engine, cid))["Restarting"] and s, what="a wait before a restart"
    )
    assert st["Status"] == "restarting" and st["Running"] and st["Pid"] == 0
    # `ps` lists it (Docker's Running covers restarting); polled, as it runs between waits
    row = wait_until(
        lambda: [r for r in engine.containers() if r["State"] == "restarting"],
        what="ps showing it restarting",
    )[0]
    assert row["Status"].startswith("Restarting (1) ") and row["Status"].endswith(" ago")
    assert engine.inspect(cid)["RestartCount"] >= 1
    engine.stop(cid, timeout=1)
    st = state(engine, cid)
    assert st["Status"] == "exited" and not st["Restarting"] and st["ExitCode"] == 1
    assert monitor_gone(engine, cid)
    count = engine.inspect(cid)["RestartCount"]
    engine.start(cid)  # a start by the user resets the count
    wait_until(lambda: engine.inspect(cid)["RestartCount"] >= 1, what="a restart")
    assert engine.inspect(cid)["RestartCount"] <= count + 1
    engine.remove(cid, force=True)  # rm -f of a restarting (or running) one
    with pytest.raises(NoSuchContainer):
        engine.inspect(cid)


def test_stop_kill_and_restart_of_a_long_running_always_container(engine):
    cid = daemon(engine, ready_sh("trap 'exit 0' TERM"), HostConfig=policy("always"))
    wait_ready(engine, cid)
    first = state(engine, cid)["Pid"]
    os.kill(first, signal.SIGKILL)  # it dies on its own (not by the user): restarted
    wait_until(
        lambda: state(engine, cid)["Pid"] not in (0, first) and state(engine, cid)["Running"],
        what="the restarted process",
    )
    assert engine.inspect(cid)["RestartCount"] == 1
    engine.kill(cid)  # by the user: the end of it
    wait_until(lambda: state(engine, cid)["Status"] == "exited", what="the kill")
    assert state(engine, cid)["ExitCode"] == 137
    assert monitor_gone(engine, cid)
    engine.restart(cid, timeout=1)
    assert engine.inspect(cid)["RestartCount"] == 0 and state(engine, cid)["Running"]


def test_unless_stopped_restarts_until_the_user_stops_it(engine):
    cid = daemon(engine, ["sh", "-c", "exit 0"], HostConfig=policy("unless-stopped"))
    wait_until(lambda: engine.inspect(cid)["RestartCount"] >= 2, what="two restarts")
    engine.stop(cid, timeout=1)
    assert state(engine, cid)["Status"] == "exited" and monitor_gone(engine, cid)


def test_a_restarting_container_refuses_what_docker_refuses(engine):
    cid = daemon(engine, ["sh", "-c", "exit 2"], HostConfig=policy("always"))
    wait_until(lambda: state(engine, cid)["Restarting"], what="restarting")

    # A poll may land on a short run between two waits: retry until one meets the wait.
    def refused(verb) -> str:
        try:
            done = verb()
        except DockerlabError as exc:
            return str(exc) if "restarting" in str(exc) else ""
        if isinstance(done, subprocess.Popen):
            done.wait(timeout=30)
        elif done is not None:
            done.close()  # an attachment
        return ""

    def pause() -> None:
        engine.pause(cid)
        engine.unpause(cid)  # it was running between two waits: as it was

    msg = wait_until(
        lambda: refused(lambda: engine.exec(cid, ["true"], stdin=subprocess.DEVNULL)),
        what="exec refused",
    )
    assert msg == f"Container {cid} is restarting, wait until the container is running"
    msg = wait_until(lambda: refused(lambda: engine.remove(cid)), what="rm refused")
    assert msg == (
        f"You cannot remove a restarting container {cid}. Stop the container before attempting "
        "removal or force remove"
    )
    msg = wait_until(lambda: refused(lambda: engine.attach(cid)), what="attach refused")
    assert msg == "You cannot attach to a restarting container, wait until it is running"
    msg = wait_until(lambda: refused(pause), what="pause refused")
    assert msg == f"Container {cid} is restarting, wait until the container is running"


def test_update_restart_policy_reaches_the_running_monitor(engine):
    cid = daemon(
        engine,
        ready_sh("true", then="while [ ! -e /go ]; do sleep 0.05; done; exit 1"),
    )
    wait_ready(engine, cid)
    engine.update(cid, policy("on-failure", 1))
    assert engine.inspect(cid)["HostConfig"]["RestartPolicy"] == {
        "Name": "on-failure",
        "MaximumRetryCount": 1,
    }
    inside(engine, cid, "touch /go")
    wait_until(lambda: state(engine, cid)["Status"] == "exited", what="the last exit")
    assert engine.inspect(cid)["RestartCount"] == 1


def test_update_restart_is_refused_for_an_rm_container(engine):
    cid = daemon(engine, ["sleep", "30"], HostConfig={"AutoRemove": True})
    with pytest.raises(InvalidParameter) as info:
        engine.update(cid, policy("always"))
    assert str(info.value) == (
        f"Cannot update container {cid}: Restart policy cannot be updated because AutoRemove "
        "is enabled for the container"
    )


# ---- update and the limits ----------------------------------------------------------------
def test_update_a_running_container_writes_its_cgroup(engine):
    v1_only()
    cid = daemon(engine, HostConfig={"Memory": 64 * MiB, "PidsLimit": 100})
    engine.update(
        cid,
        {
            "Memory": 128 * MiB,
            "MemorySwap": 256 * MiB,
            "MemoryReservation": 32 * MiB,
            "PidsLimit": 42,
            "NanoCpus": 5 * 10**8,
            "CpusetCpus": "0",
            "CpuShares": 512,
        },
    )
    out = inside(
        engine,
        cid,
        "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes "
        "pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.shares cpuset/cpuset.cpus",
    )
    assert out.split() == [str(128 * MiB), str(32 * MiB), "42", "50000", "512", "0"]
    hc = engine.inspect(cid)["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"], hc["MemoryReservation"]) == (
        128 * MiB,
        256 * MiB,
        32 * MiB,
    )
    assert (hc["PidsLimit"], hc["NanoCpus"], hc["CpusetCpus"], hc["CpuShares"]) == (
        42,
        5 * 10**8,
        "0",
        512,
    )


def test_update_memory_above_the_recorded_swap_is_refused(engine):
    cid = daemon(engine, HostConfig={"Memory": 64 * MiB})
    with pytest.raises(InvalidParameter) as info:
        engine.update(cid, {"Memory": 200 * MiB})
    assert str(info.value) == (
        f"Cannot update container {cid}: Memory limit should be smaller than already set "
        "memoryswap limit, update the memoryswap at the same time"
    )
    assert engine.inspect(cid)["HostConfig"]["Memory"] == 64 * MiB


def test_update_a_stopped_container_applies_at_its_next_start(engine):
    v1_only()
    cid = engine.create({"Image": "busybox", "Cmd": ["sleep", "30"]})["Id"]
    engine.update(cid, {"CpusetCpus": "0", "PidsLimit": 33})
    engine.start(cid)
    out = inside(engine, cid, "cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/pids/pids.max")
    assert out.split() == ["0", "33"]


def test_run_cpuset_reservation_and_oom_flags_read_back_inside(engine):
    v1_only()
    cid = daemon(
        engine,
        HostConfig={
            "CpusetCpus": "1" if len(os.sched_getaffinity(0)) > 1 else "0",
            "CpusetMems": "0",
            "Memory": 64 * MiB,
            "MemoryReservation": 16 * MiB,
            "OomKillDisable": True,
        },
    )
    out = inside(
        engine,
        cid,
        "cd /sys/fs/cgroup; cat cpuset/cpuset.cpus cpuset/cpuset.mems "
        "memory/memory.soft_limit_in_bytes; grep oom_kill_disable memory/memory.oom_control",
    )
    cpus = "1" if len(os.sched_getaffinity(0)) > 1 else "0"
    assert out.split() == [cpus, "0", str(16 * MiB), "oom_kill_disable", "1"]
    hc = engine.inspect(cid)["HostConfig"]
    assert (hc["CpusetCpus"], hc["MemoryReservation"], hc["OomKillDisable"]) == (
        cpus,
        16 * MiB,
        True,
    )


def test_cli_update_prints_names_and_dockers_errors(engine):
    root = engine.paths.root
    cid = daemon(engine, name="web", HostConfig={"Memory": 64 * MiB})
    r = cli(root, "update", "--pids-limit", "20", "web", "nosuch", text=True, clean=True)
    assert r.returncode == 1
    assert r.stdout == "web\n"
    assert r.stderr == "Error response from daemon: No such container: nosuch\n"
    r = cli(root, "update", "--cpuset-cpus", "99", "web", text=True)
    assert r.returncode == 1 and r.stderr.startswith(
        "Error response from daemon: Requested CPUs are not available - requested 99, available: "
    )
    assert engine.inspect(cid)["HostConfig"]["PidsLimit"] == 20


def test_cli_run_refuses_cpus_the_host_lacks_and_rm_with_restart(engine):
    root = engine.paths.root
    r = cli(root, "run", "--cpuset-cpus", "99", "busybox", "true", text=True)
    assert r.returncode == 125
    assert "Requested CPUs are not available - requested 99, available: " in r.stderr
    r = cli(root, "run", "--rm", "--restart", "on-failure:2", "busybox", "true", text=True)
    assert r.returncode == 125
    assert r.stderr.startswith("dockerlab: conflicting options: cannot specify both --restart")
    assert engine.container_ids() == []


# ---- after a reboot -----------------------------------------------------------------------
def simulate_reboot(engine) -> None:
    """What a reboot leaves: no monitor, no container process, no cgroup or mount, an empty
    runtime folder (tmpfs), and another boot ID (the stamp the engine compares it with)."""
    import shutil

    from dockerlab.engine.runtime import linux as L

    for c in engine.store.all():
        mon = c.state.get("MonitorPid") or 0
        if mon and L.pid_alive(mon, c.state.get("MonitorStart")):
            os.kill(mon, signal.SIGKILL)
            wait_until(lambda mon=mon: pid_gone(mon), what="the monitor's end")
        cg = c.cgroup()
        cg.kill_all(signal.SIGKILL)
        wait_until(lambda cg=cg: not cg.pids(), what="the container's processes' end")
        cg.destroy()
        try:
            L.umount(os.path.join(c.layer_dir, "merged"), L.MNT_DETACH)
        except OSError:
            pass
    for entry in os.listdir(engine.paths.run):
        if not entry.startswith("forkserver"):
            shutil.rmtree(os.path.join(engine.paths.run, entry), ignore_errors=True)
    with open(os.path.join(engine.paths.root, "boot_id"), "w") as f:
        f.write("an-earlier-boot\n")


def test_containers_come_back_after_a_reboot_as_their_policy_says(engine):
    from dockerlab.engine import Engine

    always = daemon(engine, name="always", HostConfig=policy("always"))
    always_stopped = daemon(engine, name="always-stopped", HostConfig=policy("always"))
    unless = daemon(engine, name="unless", HostConfig=policy("unless-stopped"))
    unless_stopped = daemon(engine, name="unless-stopped", HostConfig=policy("unless-stopped"))
    plain = daemon(engine, name="plain")
    never_started = engine.create(
        {"Image": "busybox", "Cmd": ["sleep", "30"], "HostConfig": policy("always")}
    )["Id"]
    rm_one = daemon(engine, name="rm-one", HostConfig={"AutoRemove": True})
    engine.stop(always_stopped, timeout=0)
    engine.stop(unless_stopped, timeout=0)
    before = {c: state(engine, c)["Pid"] for c in (always, unless)}

    simulate_reboot(engine)
    again = Engine(engine.paths.root)  # the next use of the engine revives them

    for cid in (always, always_stopped, unless):
        st = state(again, cid)
        assert st["Running"] and st["Pid"] not in (0, before.get(cid)), cid
        assert again.inspect(cid)["RestartCount"] == 0
    for cid in (unless_stopped, plain, never_started):
        assert not state(again, cid)["Running"], cid
    with pytest.raises(NoSuchContainer):
        again.inspect(rm_one)  # Docker removes an --rm container that did not end itself
    with (
        open(os.path.join(engine.paths.root, "boot_id")) as f,
        open("/proc/sys/kernel/random/boot_id") as g,
    ):
        assert f.read() == g.read()
    assert Engine(engine.paths.root).revive() == []  # once per boot


def test_a_revival_cut_short_is_done_again(engine):
    from dockerlab.engine import Engine
    from dockerlab.engine.containers import lifecycle

    cid = daemon(engine, name="always", HostConfig=policy("always"))
    simulate_reboot(engine)
    # A revival killed before it wrote the stamp: the container started, the stamp is old.
    engine.start(cid)
    assert state(engine, cid)["Running"]
    pid = state(engine, cid)["Pid"]
    assert lifecycle.revive(engine.store) == []  # already running: nothing to start again
    assert state(engine, cid)["Pid"] == pid
    assert Engine(engine.paths.root).revive() == []
