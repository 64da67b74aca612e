"""Nothing leaks: after exit or rm, no mount under the root and no dockerlab/<id> cgroup."""

from __future__ import annotations

import os

import pytest
from helpers import wait_until

from dockerlab import errors

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def mounts_under(root):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(root))]


def cgroup_dirs(cid):
    return [
        c
        for c in os.listdir("/sys/fs/cgroup")
        if os.path.isdir(f"/sys/fs/cgroup/{c}/dockerlab/{cid}")
    ]


def settle(check, timeout=20):
    wait_until(check, timeout, interval=0.05)
    return check()


def test_nothing_left_after_rm_of_exited_container(engine):
    cid, att = engine.run({"Image": "busybox", "Cmd": ["true"]})
    att.collect()
    engine.remove(cid)
    assert mounts_under(engine.paths.root) == []
    assert cgroup_dirs(cid) == []
    assert not os.path.exists(os.path.join(engine.paths.run, cid))


def test_exited_container_is_unmounted_and_has_no_cgroup(engine):
    cid, att = engine.run(
        {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Memory": 32 * MiB, "PidsLimit": 10}}
    )
    att.collect()
    assert settle(lambda: not mounts_under(engine.paths.root))
    assert settle(lambda: not cgroup_dirs(cid))


def test_nothing_left_after_rm_force_of_running_container(engine):
    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, attach="")
    assert mounts_under(engine.paths.root) and cgroup_dirs(cid)
    engine.remove(cid, force=True)
    assert mounts_under(engine.paths.root) == []
    assert cgroup_dirs(cid) == []


def test_nothing_left_after_autoremove(engine):
    cid, att = engine.run({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"AutoRemove": True}})
    att.collect()
    assert settle(lambda: cid not in engine.container_ids())
    assert mounts_under(engine.paths.root) == []
    assert cgroup_dirs(cid) == []
    # the monitor deletes the layer folders just after telling the client
    assert settle(lambda: not os.path.exists(engine.paths.layer(cid)))


def test_nothing_left_after_command_not_found(engine):
    with pytest.raises(errors.CommandNotFound):
        engine.run({"Image": "busybox", "Cmd": ["no-such-thing"]}, name="nf")
    cid = engine.inspect("nf")["Id"]
    assert mounts_under(engine.paths.root) == []
    assert settle(lambda: not cgroup_dirs(cid))


def test_nothing_left_after_stop_and_kill(engine):
    for verb in ("stop", "kill"):
        cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, attach="")
        engine.stop(cid, timeout=1) if verb == "stop" else engine.kill(cid)
        engine.wait(cid)
        assert mounts_under(engine.paths.root) == [], verb
        assert cgroup_dirs(cid) == [], verb


def test_nothing_left_after_a_start_refused_for_its_resources(engine):
    try:
        with pytest.raises((errors.InvalidParameter, errors.ContainerStartError)):
            engine.run(
                {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Memory": MiB}}, name="tiny"
            )
        # refused at create, as Docker does: no container, no mount, no cgroup
        assert engine.container_ids() == []
        assert mounts_under(engine.paths.root) == []
    finally:  # leave the host clean even while the bug is there
        for path in mounts_under(engine.paths.root):
            os.system(f"umount -l '{path}'")


def test_many_runs_leave_nothing(engine):
    for _ in range(5):
        cid, att = engine.run(
            {
                "Image": "busybox",
                "Cmd": ["sh", "-c", "echo x > /f"],
                "HostConfig": {"AutoRemove": True},
            }
        )
        att.collect()
    assert settle(lambda: engine.container_ids() == [])
    assert mounts_under(engine.paths.root) == []
    # Each container's runtime folder goes just after its exit (the root's forkserver stays).
    assert settle(
        lambda: (
            [
                e
                for e in os.listdir(engine.paths.run)
                if not e.startswith("forkserver-") and e != "bridge.netns"  # the root's network
            ]
            == []
        )
    )
