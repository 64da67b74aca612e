"""What a container sees at /sys/fs/cgroup: its own cgroups, read-only, through a cgroup
namespace, as Docker shows them, and nothing of the host's tree."""

from __future__ import annotations

import os
import subprocess

import pytest
from helpers import daemon

from dockerlab.engine.runtime.cgroups import version

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def sh(engine, script, **body):
    _, att = engine.run({"Image": "busybox", "Cmd": ["sh", "-c", script], **body})
    code, out, err = att.collect()
    return code, out.decode(), err.decode()


def _v1() -> None:
    if version() != 1:
        pytest.skip("this host is not cgroup v1")


def test_memory_limit_is_visible_inside_and_equals_the_flag(engine):
    _v1()
    code, out, err = sh(
        engine,
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max",
        HostConfig={"Memory": 64 * MiB, "PidsLimit": 42},
    )
    assert code == 0, err
    assert out.split() == [str(64 * MiB), "42"]


def test_proc_self_cgroup_shows_the_root_everywhere(engine):
    code, out, err = sh(engine, "cat /proc/self/cgroup")
    assert code == 0, err
    lines = out.splitlines()
    assert lines and all(line.split(":", 2)[2] == "/" for line in lines), out


def test_exec_sees_the_same_cgroup_namespace(engine):
    cid = daemon(engine)
    proc = engine.exec(
        cid,
        ["cat", "/proc/self/cgroup"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert all(line.split(":", 2)[2] == "/" for line in out.decode().splitlines())
    pid = engine.inspect(cid)["State"]["Pid"]
    assert os.readlink(f"/proc/{pid}/ns/cgroup") != os.readlink("/proc/self/ns/cgroup")


def test_hierarchies_are_listed_as_docker_lists_them(engine):
    _v1()
    code, out, err = sh(engine, "ls /sys/fs/cgroup; echo --; mount | grep ' /sys/fs/cgroup'")
    assert code == 0, err
    listed, mounted = out.split("--\n")
    for name in ("memory", "cpu", "cpuacct", "pids", "freezer", "blkio", "devices"):
        assert name in listed.split(), out
    mounts = mounted.splitlines()
    assert len(mounts) > 5 and all("(ro," in line for line in mounts), mounts


def test_cgroup_files_cannot_be_written(engine):
    _v1()
    code, out, err = sh(
        engine,
        "echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes; "
        "mkdir /sys/fs/cgroup/memory/escape; mkdir /sys/fs/cgroup/x; "
        "echo $$ > /sys/fs/cgroup/pids/cgroup.procs; true",
    )
    assert err.count("Read-only file system") == 4, err


def test_the_hosts_tree_and_sibling_containers_are_invisible(engine):
    sibling = daemon(engine)
    for body in ({}, {"HostConfig": {"NetworkMode": "host"}}):
        code, out, err = sh(
            engine,
            "find /sys/fs/cgroup -mindepth 2 -type d; "
            "grep -rl . /sys/fs/cgroup/*/cgroup.procs "
            "/sys/fs/cgroup/cgroup.procs 2>/dev/null; "
            "cat /sys/fs/cgroup/*/cgroup.procs "
            "/sys/fs/cgroup/cgroup.procs 2>/dev/null | sort -u",
            **body,
        )
        assert code == 0, err
        assert sibling[:12] not in out and "dockerlab" not in out, out
        lines = [ln for ln in out.splitlines() if ln.startswith("/")]
        assert lines and all(ln.endswith("cgroup.procs") for ln in lines), out
        pids = {ln for ln in out.splitlines() if ln.isdigit()}
        assert pids and all(int(p) < 10 for p in pids), pids  # our own pid namespace's


def test_privileged_container_may_write_its_cgroup(engine):
    _v1()
    code, out, err = sh(
        engine,
        "mount | grep ' /sys/fs/cgroup/memory '; "
        "echo 100000000 > /sys/fs/cgroup/memory/memory.limit_in_bytes "
        "&& cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
        HostConfig={"Privileged": True, "Memory": 64 * MiB},
    )
    assert code == 0, err
    assert "(rw," in out and out.split()[-1] == str(100000000 // 4096 * 4096)


def test_on_cgroup_v2_the_container_sees_its_own_cgroup2_read_only(engine):
    from test_security_devices import v2_cli

    done = v2_cli(
        engine,
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /proc/self/cgroup; mount | grep ' /sys/fs/cgroup'; "
        "find /sys/fs/cgroup -mindepth 1 -type d; echo 1 > /sys/fs/cgroup/cgroup.procs",
    )
    assert done.returncode != 0
    assert "0::/\n" in done.stdout
    mounts = [ln for ln in done.stdout.splitlines() if " on /sys/fs/cgroup" in ln]
    assert mounts == ["cgroup2 on /sys/fs/cgroup type cgroup2 (ro,nosuid,nodev,noexec,relatime)"]
    assert "Read-only file system" in done.stderr
    assert not [ln for ln in done.stdout.splitlines() if ln.startswith("/sys/fs/cgroup/")]
