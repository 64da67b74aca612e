"""Device rules without a kernel: Docker's defaults, the v1 lines, ``--device`` parsing, the
cgroup v2 eBPF program (encoded bytes, and its decisions run by a small interpreter), the
cgroup namespace mounts, and what ``info`` says when nothing can enforce the rules."""

from __future__ import annotations

import itertools
import os
import struct

import pytest

from dockerlab.engine.runtime.cgroups import bpf
from dockerlab.engine.runtime.cgroups import devices as D
from dockerlab.engine.runtime.cgroups.mounts import parse_mountinfo, v1_named, v1_options
from dockerlab.engine.runtime.cgroups.v1 import CgroupV1
from dockerlab.engine.runtime.cgroups.v2 import CgroupV2

# ---- rules and v1 lines ---------------------------------------------------------------------


def test_default_v1_lines_deny_everything_then_allow_dockers_list():
    lines = D.v1_lines(D.rules_for(False, []))
    assert lines[0] == ("devices.deny", "a")
    assert {f for f, _ in lines[1:]} == {"devices.allow"}
    assert [text for _, text in lines[1:]] == [
        "c *:* m",
        "b *:* m",
        "c 1:3 rwm",
        "c 1:5 rwm",
        "c 1:7 rwm",
        "c 1:8 rwm",
        "c 1:9 rwm",
        "c 5:0 rwm",
        "c 5:1 rwm",
        "c 5:2 rwm",
        "c 10:200 rwm",
        "c 136:* rwm",
    ]


def test_a_device_node_adds_one_allow_line_with_its_permissions():
    node = {
        "Path": "/dev/xdisk",
        "Type": "b",
        "Major": 7,
        "Minor": 3,
        "Mode": 0o600,
        "Uid": 0,
        "Gid": 6,
        "Perms": "r",
    }
    assert D.v1_lines(D.rules_for(False, [node]))[-1] == ("devices.allow", "b 7:3 r")


def test_privileged_allows_all():
    assert D.v1_lines(D.rules_for(True, [])) == [("devices.allow", "a")]


def test_rule_lists_must_start_with_their_default():
    with pytest.raises(ValueError):
        D.v1_lines([(True, "c", 1, 3, "rwm")])


@pytest.mark.parametrize(
    ("kind", "major", "minor", "access", "ok"),
    [
        ("c", 1, 3, "rw", True),  # null
        ("c", 136, 7, "rw", True),  # a pty
        ("b", 7, 0, "m", True),  # mknod of anything
        ("b", 7, 0, "r", False),  # but not reading a host disk
        ("c", 4, 1, "w", False),  # nor writing a host tty
        ("c", 4, 1, "mw", False),
        ("c", 10, 229, "rw", False),  # fuse stays refused
        ("c", 10, 200, "rw", True),  # tun
    ],
)
def test_defaults_decide_like_docker(kind, major, minor, access, ok):
    assert D.allowed(D.DEFAULT_RULES, kind, major, minor, access) is ok


# ---- --device parsing (the CLI's validateLinuxPath and parseLinuxDevice) ------------------


@pytest.mark.parametrize(
    ("spec", "mapping"),
    [
        ("/dev/sda", ("/dev/sda", "/dev/sda", "rwm")),
        ("/dev/sda:/dev/xvdc", ("/dev/sda", "/dev/xvdc", "rwm")),
        ("/dev/sda:r", ("/dev/sda", "/dev/sda", "r")),
        ("/dev/sda:/dev/xvdc:rw", ("/dev/sda", "/dev/xvdc", "rw")),
    ],
)
def test_device_specs(spec, mapping):
    got = D.parse_device(spec)
    assert (got["PathOnHost"], got["PathInContainer"], got["CgroupPermissions"]) == mapping


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/dev/null:/dev/n:rwx", "bad mode specified: rwx"),
        ("/dev/null:/dev/n:rr", "bad mode specified: rr"),
        ("/dev/null:rel", "rel is not an absolute path"),
        ("null", "null is not an absolute path"),
        ("/a:/b:/c:r", "bad format for path: /a:/b:/c:r"),
        (":/dev/x", "bad format for path: :/dev/x"),
    ],
)
def test_bad_device_specs_fail_with_dockers_text(spec, message):
    with pytest.raises(ValueError) as caught:
        D.parse_device(spec)
    assert str(caught.value) == message


def test_cli_puts_devices_in_host_config():
    from dockerlab.cli.options import create_body
    from dockerlab.cli.parser import parse

    ns = parse(["run", "--device", "/dev/null:/dev/n:rw", "busybox"])
    _, body = create_body(ns, environ={})
    assert body["HostConfig"]["Devices"] == [
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/n", "CgroupPermissions": "rw"}
    ]
    _, body = create_body(parse(["create", "busybox"]), environ={})
    assert body["HostConfig"]["Devices"] == []


def test_gather_reads_the_host_device_at_start():
    nodes = D.gather(
        {
            "Devices": [
                {"PathOnHost": "/dev/null", "PathInContainer": "/dev/n", "CgroupPermissions": "rw"}
            ]
        }
    )
    st = os.stat("/dev/null")
    assert nodes == [
        {
            "Path": "/dev/n",
            "Type": "c",
            "Major": 1,
            "Minor": 3,
            "Mode": st.st_mode & 0o7777,
            "Uid": st.st_uid,
            "Gid": st.st_gid,
            "Perms": "rw",
        }
    ]


# ---- the eBPF program -----------------------------------------------------------------------


def run_program(code: bytes, kind: str, major: int, minor: int, access: str) -> int:
    """A tiny interpreter of the instructions the encoder uses, over bpf_cgroup_dev_ctx."""
    bits = sum({"m": 1, "r": 2, "w": 4}[c] for c in access)
    ctx = struct.pack("=III", bits << 16 | {"b": 1, "c": 2}[kind], major, minor)
    reg = [0] * 11
    pc = 0
    insns = [struct.unpack("=BBhi", code[i : i + 8]) for i in range(0, len(code), 8)]
    while True:
        op, regs, off, imm = insns[pc]
        dst, src = (regs >> 4, regs & 15) if bpf._BIG_ENDIAN else (regs & 15, regs >> 4)
        pc += 1
        if op == 0x61:  # ldxw dst, [src + off]: src is the context
            assert src == 1
            reg[dst] = struct.unpack_from("=I", ctx, off)[0]
        elif op == 0x54:
            reg[dst] = (reg[dst] & imm) & 0xFFFFFFFF
        elif op == 0x74:
            reg[dst] = (reg[dst] & 0xFFFFFFFF) >> imm
        elif op == 0xB4:
            reg[dst] = imm & 0xFFFFFFFF
        elif op == 0xBC:
            reg[dst] = reg[src] & 0xFFFFFFFF
        elif op == 0x55:
            pc += off if reg[dst] != (imm & 0xFFFFFFFFFFFFFFFF) else 0
        elif op == 0x15:
            pc += off if reg[dst] == (imm & 0xFFFFFFFFFFFFFFFF) else 0
        elif op == 0x5D:
            pc += off if reg[dst] != reg[src] else 0
        elif op == 0x95:
            return reg[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")


def test_program_starts_by_loading_the_context_and_ends_with_the_default():
    insns = bpf.program(D.DEFAULT_RULES)
    assert insns[:6] == [
        (0x61, 2, 1, 0, 0),
        (0x54, 2, 0, 0, 0xFFFF),
        (0x61, 3, 1, 0, 0),
        (0x74, 3, 0, 0, 16),
        (0x61, 4, 1, 4, 0),
        (0x61, 5, 1, 8, 0),
    ]
    assert insns[-2:] == [(0xB4, 0, 0, 0, 0), (0x95, 0, 0, 0, 0)]


def test_one_rule_is_encoded_as_runc_would():
    insns = bpf.program([(False, "a", -1, -1, "rwm"), (True, "c", 1, 3, "rw")])[6:]
    assert insns == [
        (0x55, 2, 0, 7, 2),  # type != char: skip the 7 that follow
        (0xBC, 1, 3, 0, 0),
        (0x54, 1, 0, 0, 6),
        (0x5D, 1, 3, 4, 0),  # access ⊄ rw: skip
        (0x55, 4, 0, 3, 1),
        (0x55, 5, 0, 2, 3),  # major, minor
        (0xB4, 0, 0, 0, 1),
        (0x95, 0, 0, 0, 0),  # allow
        (0xB4, 0, 0, 0, 0),
        (0x95, 0, 0, 0, 0),  # default: deny
    ]
    raw = bpf.encode(insns[:1])
    assert raw == struct.pack("=BBhi", 0x55, 0x02 if not bpf._BIG_ENDIAN else 0x20, 7, 2)


ACCESSES = ["m", "r", "w", "rw", "mr", "rwm"]


@pytest.mark.parametrize(
    "rules",
    [
        D.DEFAULT_RULES,
        D.rules_for(False, [{"Type": "b", "Major": 7, "Minor": 0, "Perms": "r"}]),
        D.ALLOW_ALL,
        [(True, "a", -1, -1, "rwm"), (False, "c", 4, -1, "w"), (False, "b", -1, 1, "rwm")],
    ],
)
def test_program_decides_as_the_v1_controller_does(rules):
    code = bpf.encode(bpf.program(rules))
    for kind, major, minor, access in itertools.product(
        "bc", (1, 4, 5, 7, 10, 136), (0, 1, 3, 200), ACCESSES
    ):
        assert run_program(code, kind, major, minor, access) == int(
            D.allowed(rules, kind, major, minor, access)
        ), (kind, major, minor, access)


# ---- the cgroup namespace's mounts ----------------------------------------------------------

HOST = """\
31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
"""


def test_v1_namespace_mounts_follow_the_hosts_hierarchies():
    from dockerlab.engine.runtime.cgroups.mounts import v1_hierarchies

    mounts = parse_mountinfo(HOST)
    cg = CgroupV1(
        "dockerlab/abc", {**v1_hierarchies(mounts), **v1_named(mounts)}, v1_options(mounts)
    )
    assert sorted(cg.ns_mounts()) == [
        ("cpu,cpuacct", "cgroup", "cpu,cpuacct", ("cpu", "cpuacct")),
        ("devices", "cgroup", "devices", ()),
        ("memory", "cgroup", "memory", ()),
        ("systemd", "cgroup", "xattr,name=systemd", ()),
    ]
    assert cg.paths["name=systemd"] == "/sys/fs/cgroup/systemd/dockerlab/abc"


def test_v2_namespace_mount_is_cgroup2_itself():
    assert CgroupV2("dockerlab/abc", root="/nonexistent").ns_mounts() == [("", "cgroup2", "", ())]


def test_v1_without_a_devices_hierarchy_cannot_enforce():
    cg = CgroupV1("dockerlab/abc", {"memory": "/nonexistent/memory"})
    assert cg.set_devices(D.DEFAULT_RULES) is False


def test_info_warns_when_no_device_cgroup_exists(monkeypatch, tmp_path):
    from dockerlab.engine import system
    from dockerlab.engine.paths import Paths
    from dockerlab.engine.runtime import cgroups

    monkeypatch.setattr(cgroups, "device_control", lambda: False)
    info = system.info(Paths.of(str(tmp_path)), [], 0)
    assert info["Warnings"] == [system.NO_DEVICE_CGROUP]
    monkeypatch.setattr(cgroups, "device_control", lambda: True)
    assert system.info(Paths.of(str(tmp_path)), [], 0)["Warnings"] is None
