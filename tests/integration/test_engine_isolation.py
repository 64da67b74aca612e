"""What a container sees: its own namespaces, Docker's hidden paths and capabilities, an
overlay root whose writable layer the host can see."""

from __future__ import annotations

import os
import socket
import stat

import pytest
from helpers import daemon

pytestmark = pytest.mark.integration


def run(engine, cmd, **body):
    cid, att = engine.run({"Image": "busybox", "Cmd": list(cmd), **body})
    return cid, att.collect()


def out_of(engine, script, **body):
    _, (code, out, err) = run(engine, ["sh", "-c", script], **body)
    assert code == 0, err
    return out.decode()


def test_hostname_is_the_short_id(engine):
    cid, (code, out, _) = run(engine, ["hostname"])
    assert out.decode().strip() == cid[:12]
    cid, (code, out, _) = run(engine, ["cat", "/etc/hostname"])
    assert out.decode().strip() == cid[:12]


def test_hostname_from_config(engine):
    assert out_of(engine, "hostname", Hostname="custom-host").strip() == "custom-host"


def test_command_is_pid_1(engine):
    assert out_of(engine, "echo $$; true") == "1\n"
    _, (code, out, _) = run(engine, ["cat", "/proc/1/cmdline"])
    assert (code, out) == (0, b"cat\0/proc/1/cmdline\0")


def test_container_sees_only_its_own_processes(engine):
    out = out_of(engine, "ps -o pid,comm")
    pids = [line.split()[0] for line in out.splitlines()[1:]]
    assert "1" in pids and len(pids) <= 2


def test_own_mount_uts_ipc_net_pid_namespaces(engine):
    cid = daemon(engine)
    pid = engine.inspect(cid)["State"]["Pid"]
    for ns in ("mnt", "uts", "ipc", "net", "pid"):
        assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns


def test_network_host_shares_the_hosts_net_and_uts_names(engine):
    cid = daemon(engine, HostConfig={"NetworkMode": "host"})
    pid = engine.inspect(cid)["State"]["Pid"]
    assert os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")
    assert engine.inspect(cid)["Config"]["Hostname"] == socket.gethostname()


def test_network_none_has_loopback_only_and_it_is_up(engine):
    # (was the default network's test: the default is now the bridge, with eth0 too)
    out = out_of(
        engine,
        "cat /proc/net/dev; ping -c 1 -W 1 127.0.0.1 >/dev/null && echo ok",
        HostConfig={"NetworkMode": "none"},
    )
    names = [line.split(":")[0].strip() for line in out.splitlines()[2:] if ":" in line]
    assert names == ["lo"]
    assert out.rstrip().endswith("ok")


def test_etc_hosts_has_localhost(engine):
    assert "127.0.0.1\tlocalhost" in out_of(engine, "cat /etc/hosts")


def test_dockerenv_exists(engine):
    assert out_of(engine, "[ -e /.dockerenv ] && echo yes") == "yes\n"


@pytest.mark.parametrize("path", ["/proc/kcore", "/proc/keys", "/proc/timer_list"])
def test_proc_files_are_masked_with_dev_null(engine, path):
    if not os.path.exists(path):
        pytest.skip(f"this host kernel has no {path}")
    # Docker bind-mounts /dev/null over them: a char device 1:3 that reads empty
    out = out_of(engine, f"stat -c '%F %t:%T' {path}; cat {path} | wc -c")
    assert out.splitlines()[0] == "character special file 1:3"
    assert out.splitlines()[1].strip() == "0"


def test_sys_firmware_is_masked(engine):
    assert out_of(engine, "ls -A /sys/firmware 2>/dev/null | wc -l").strip() == "0"


def test_proc_sys_is_read_only(engine):
    _, (code, _, err) = run(engine, ["sh", "-c", "echo 1 > /proc/sys/kernel/domainname"])
    assert code != 0
    assert b"Read-only file system" in err


def test_proc_sysrq_trigger_is_read_only(engine):
    _, (code, _, err) = run(engine, ["sh", "-c", "echo h > /proc/sysrq-trigger"])
    assert code != 0


def test_sys_is_read_only(engine):
    _, (code, _, err) = run(engine, ["sh", "-c", "mkdir /sys/fs/cgroup/x || touch /sys/x"])
    assert code != 0


def test_default_capabilities_are_dockers(engine):
    out = out_of(engine, "grep -E '^Cap(Bnd|Eff|Prm)' /proc/self/status")
    caps = dict(line.split(":\t") for line in out.splitlines())
    assert caps["CapBnd"] == "00000000a80425fb"
    assert caps["CapEff"] == "00000000a80425fb"
    assert caps["CapPrm"] == "00000000a80425fb"


def test_no_sys_admin_so_mount_is_refused(engine):
    _, (code, _, err) = run(engine, ["mount", "-t", "tmpfs", "none", "/mnt"])
    assert code != 0


def test_no_net_admin_so_interfaces_cannot_be_changed(engine):
    _, (code, _, _) = run(engine, ["ip", "link", "set", "lo", "down"])
    assert code != 0


def test_non_root_user_has_no_effective_capabilities(engine):
    out = out_of(engine, "grep CapEff /proc/self/status", User="nobody")
    assert out.split() == ["CapEff:", "0000000000000000"]


def test_dev_is_minimal(engine):
    names = set(out_of(engine, "ls -A /dev").split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm"} <= names
    assert not names & {"sda", "vda", "mem", "kmsg", "nvme0"}


def test_dev_null_works_and_shm_is_writable(engine):
    assert out_of(engine, "echo x > /dev/null && echo x > /dev/shm/f && cat /dev/shm/f") == "x\n"


def test_root_is_overlay_and_host_sees_merged_dir_mounted(engine):
    assert out_of(engine, "grep ' / ' /proc/mounts | cut -d' ' -f3") == "overlay\n"
    cid = daemon(engine)
    merged = engine.inspect(cid)["GraphDriver"]["Data"]["MergedDir"]
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f]
    assert merged in mounts


def test_writable_layer_is_visible_on_the_host(engine):
    cid, (code, _, _) = run(engine, ["touch", "happiness.txt"])
    assert code == 0
    upper = engine.inspect(cid)["GraphDriver"]["Data"]["UpperDir"]
    assert os.path.isfile(os.path.join(upper, "happiness.txt"))


def test_deleting_an_image_file_is_a_whiteout_and_other_containers_keep_it(engine):
    cid, (code, _, _) = run(engine, ["rm", "/bin/ls"])
    assert code == 0
    upper = engine.inspect(cid)["GraphDriver"]["Data"]["UpperDir"]
    st = os.lstat(os.path.join(upper, "bin", "ls"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0  # overlayfs whiteout
    _, (code, out, _) = run(engine, ["sh", "-c", "ls /bin/ls"])
    assert (code, out) == (0, b"/bin/ls\n")


def test_containers_do_not_share_writable_layers(engine):
    run(engine, ["sh", "-c", "echo mine > /private"])
    _, (code, _, _) = run(engine, ["cat", "/private"])
    assert code != 0


def test_engine_files_are_not_in_the_writable_layer(engine):
    cid, _ = run(engine, ["true"])
    upper = engine.inspect(cid)["GraphDriver"]["Data"]["UpperDir"]
    for rel in ("etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv"):
        assert not os.path.exists(os.path.join(upper, rel)), rel


def test_host_root_is_not_reachable(engine):
    marker = f"/tmp/dockerlab-host-marker-{os.getpid()}"
    with open(marker, "w") as f:
        f.write("host")
    try:
        _, (code, _, _) = run(engine, ["cat", marker])
        assert code != 0
    finally:
        os.unlink(marker)


def test_ipc_namespace_is_private(engine):
    # a SysV message queue made on the host is not visible inside
    host = out_of(engine, "cat /proc/sysvipc/msg | wc -l")
    assert host.strip() == "1"  # the header line only
