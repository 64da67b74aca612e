"""The seccomp profile translator and the capability/security-opt rules (pure, no kernel)."""

from __future__ import annotations

import pytest

from dockerlab.engine.runtime import linux as L
from dockerlab.engine.runtime import security
from dockerlab.engine.runtime.security import seccomp
from dockerlab.engine.runtime.security.seccomp_default import profile as default_profile
from dockerlab.errors import InvalidParameter

DEFAULT = frozenset("CAP_" + c for c in L.DEFAULT_CAPS)


def chosen(caps=DEFAULT, arch="amd64", kernel=(6, 1), profile=None):
    return seccomp.select(seccomp.decode(profile or default_profile()), caps, arch, kernel)


def allowed(rules) -> set[str]:
    return {
        n
        for r in rules["syscalls"]
        if r["action"] == "SCMP_ACT_ALLOW" and not r["args"]
        for n in r["names"]
    }


def rules_for(rules, name):
    return [r for r in rules["syscalls"] if name in r["names"]]


def test_default_profile_denies_with_eperm_and_filters_amd64_with_its_sub_arches():
    c = chosen()
    assert (c["defaultAction"], c["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", 1)
    assert c["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert chosen(arch="arm64")["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]


def test_default_profile_leaves_out_keyring_namespaces_and_mount():
    names = allowed(chosen())
    assert {"read", "write", "execve", "capset", "setuid", "prctl", "socketpair"} <= names
    for name in (
        "keyctl",
        "add_key",
        "request_key",
        "unshare",
        "setns",
        "mount",
        "umount2",
        "bpf",
        "kexec_load",
        "open_by_handle_at",
        "reboot",
        "init_module",
        "clone3",
        "userfaultfd",
        "swapon",
        "acct",
    ):
        assert name not in names, name


def test_cap_sys_admin_brings_mount_and_unshare_and_drops_the_clone_conditions():
    c = chosen(caps=DEFAULT | {"CAP_SYS_ADMIN"})
    assert {"mount", "unshare", "setns", "clone", "clone3"} <= allowed(c)
    assert all(not r["args"] for r in rules_for(c, "clone"))
    assert not any(r["action"] == "SCMP_ACT_ERRNO" for r in rules_for(c, "clone3"))


def test_without_cap_sys_admin_clone_may_not_make_namespaces_and_clone3_is_enosys():
    c = chosen()
    (clone,) = rules_for(c, "clone")
    assert clone["args"] == [(0, "SCMP_CMP_MASKED_EQ", 0x7E020000, 0)]
    (clone3,) = rules_for(c, "clone3")
    assert (clone3["action"], clone3["errnoRet"]) == ("SCMP_ACT_ERRNO", seccomp.ENOSYS)


def test_s390x_checks_clones_second_argument():
    (clone,) = rules_for(chosen(arch="s390x"), "clone")
    assert clone["args"][0][0] == 1


def test_arch_conditions():
    assert "arch_prctl" in allowed(chosen(arch="amd64"))
    assert "arch_prctl" not in allowed(chosen(arch="arm64"))
    assert "set_tls" in allowed(chosen(arch="arm64"))
    assert "modify_ldt" not in allowed(chosen(arch="s390x"))


def test_capability_conditions_need_every_named_capability():
    assert "chroot" in allowed(chosen())  # CAP_SYS_CHROOT is a default
    assert "chroot" not in allowed(chosen(caps=DEFAULT - {"CAP_SYS_CHROOT"}))
    assert "ptrace" in allowed(chosen(caps=DEFAULT | {"CAP_SYS_PTRACE"}))
    assert "reboot" in allowed(chosen(caps=DEFAULT | {"CAP_SYS_BOOT"}))


def test_min_kernel_condition():
    assert "ptrace" in allowed(chosen(kernel=(4, 8)))
    assert "ptrace" not in allowed(chosen(kernel=(4, 4)))


def test_personality_allows_only_dockers_values():
    values = sorted(r["args"][0][2] for r in rules_for(chosen(), "personality"))
    assert values == [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]


def test_decode_refuses_wrong_shapes_with_dockers_words():
    with pytest.raises(seccomp.ProfileError, match="Syscall.syscalls.names of type"):
        seccomp.decode({"syscalls": [{"names": "mkdir"}]})
    with pytest.raises(seccomp.ProfileError, match="use either 'architectures' or 'archMap'"):
        seccomp.decode(
            {"architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86"}]}
        )
    with pytest.raises(seccomp.ProfileError, match="use either 'name' or 'names'"):
        seccomp.decode({"syscalls": [{"name": "read", "names": ["write"]}]})


def test_single_name_and_plain_architectures_are_accepted():
    c = chosen(
        profile={
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86"],
            "syscalls": [{"name": "mkdir", "action": "SCMP_ACT_ERRNO"}],
        }
    )
    assert c["architectures"] == ["SCMP_ARCH_X86"]
    assert c["syscalls"][0]["names"] == ["mkdir"]


def test_actions_carry_their_errno():
    assert seccomp.action_code("SCMP_ACT_ERRNO", None) == 0x00050001
    assert seccomp.action_code("SCMP_ACT_ERRNO", 38) == 0x00050026
    assert seccomp.action_code("SCMP_ACT_ALLOW", None) == 0x7FFF0000
    with pytest.raises(seccomp.RuntimeRefused, match="not a valid action"):
        seccomp.action_code("SCMP_ACT_MAYBE", None)


def test_capabilities_follow_dockers_tweak_rules():
    every = security.all_caps()
    assert security.capabilities({}) == sorted(L.DEFAULT_CAPS, key=L.CAPS.index)
    assert security.capabilities({"Privileged": True}) == every
    assert security.capabilities({"CapDrop": ["ALL"]}) == []
    assert security.capabilities({"CapDrop": ["all"], "CapAdd": ["kill"]}) == ["KILL"]
    assert security.capabilities({"CapAdd": ["ALL"], "CapDrop": ["chown"]}) == every[1:]
    both = security.capabilities({"CapAdd": ["KILL"], "CapDrop": ["KILL"]})
    assert "KILL" in both  # Docker drops first, then adds


def test_capability_names_are_normalised_and_checked():
    assert security.normalize_caps(["sys_admin", "CAP_SYS_ADMIN", "all"], "CapAdd") == [
        "ALL",
        "CAP_SYS_ADMIN",
    ]
    assert security.normalize_caps(None, "CapAdd") is None
    with pytest.raises(InvalidParameter, match='invalid CapDrop: unknown capability: "CAP_X"'):
        security.normalize_caps(["x"], "CapDrop")


def test_security_opts_parse_as_the_daemon_does():
    parse = security.parse_security_opts
    assert parse(["no-new-privileges"]) == {"seccomp": None, "nnp": True}
    assert parse(["no-new-privileges:false", "seccomp=unconfined"]) == {
        "seccomp": "unconfined",
        "nnp": False,
    }
    assert parse(["label=disable", "apparmor=unconfined"])["nnp"] is False
    with pytest.raises(InvalidParameter, match='invalid --security-opt 1: "nonsense"'):
        parse(["nonsense"])
    with pytest.raises(InvalidParameter, match='invalid --security-opt 2: "foo=bar"'):
        parse(["foo=bar"])


def test_privileged_records_label_disable_as_docker():
    host = {"Privileged": True, "SecurityOpt": ["no-new-privileges"]}
    security.normalize_host_config(host)
    assert host["SecurityOpt"] == ["no-new-privileges", "label=disable"]
    host = {}
    security.normalize_host_config(host)
    assert host == {"CapAdd": None, "CapDrop": None, "Privileged": False, "SecurityOpt": None}


def test_kernel_version_parsing():
    assert security.kernel_version("6.18.44-fc-v1045") == (6, 18)
    assert security.kernel_version("5.4") == (5, 4)


def test_cli_reads_a_profile_file_and_sends_it_compacted(tmp_path):
    from dockerlab.cli.options import security_opts
    from dockerlab.errors import UsageError

    path = tmp_path / "p.json"
    path.write_text('{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": []\n}\n')
    assert security_opts([f"seccomp={path}", "seccomp=unconfined", "no-new-privileges"]) == [
        'seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}',
        "seccomp=unconfined",
        "no-new-privileges",
    ]
    assert security_opts([f"seccomp:{path}"])[0].startswith('seccomp={"defaultAction"')
    with pytest.raises(UsageError, match=r'Invalid --security-opt: "nope"'):
        security_opts(["nope"])
    with pytest.raises(
        UsageError,
        match=r"opening seccomp profile \(/no/such\) failed: open "
        r"/no/such: no such file or directory",
    ):
        security_opts(["seccomp=/no/such"])


def test_socket_rules_leave_out_af_alg_and_af_vsock():
    conds = sorted(r["args"][0][1:3] for r in rules_for(chosen(), "socket"))
    assert conds == [("SCMP_CMP_EQ", 39), ("SCMP_CMP_GT", 40), ("SCMP_CMP_LT", 38)]
