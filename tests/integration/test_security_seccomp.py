"""Seccomp, capabilities, no-new-privileges and --privileged, attacked for real.

busybox cannot make raw syscalls, so the attacks on syscalls busybox has no applet for
(the kernel keyring, clone3, personality) run a tiny static C probe, built here with the
host's gcc and bind-mounted read-only into the container at /probe.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import shutil
import subprocess
import uuid

import helpers
import pytest

pytestmark = pytest.mark.integration

_PROBE_C = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
static int report(long r) {
    if (r < 0) { printf("errno %d\n", errno); return 1; }
    printf("ok %ld\n", r); return 0;
}
int main(int argc, char **argv) {
    char buf[256] = {0};
    if (argc > 2 && !strcmp(argv[1], "keyread")) {
        long r = syscall(SYS_keyctl, 11 /* KEYCTL_READ */, atol(argv[2]), buf, sizeof buf - 1);
        if (r >= 0) { printf("read %s\n", buf); return 0; }
        return report(r);
    }
    if (argc > 1 && !strcmp(argv[1], "keyadd"))  /* into the user keyring of uid 0 */
        return report(syscall(SYS_add_key, "user", "planted-by-container", "x", 1, -4));
    if (argc > 1 && !strcmp(argv[1], "clone3"))  /* a size of 0: EINVAL if it gets in */
        return report(syscall(SYS_clone3, NULL, 0));
    if (argc > 2 && !strcmp(argv[1], "nr"))
        return report(syscall(atol(argv[2]), 0, 0, 0, 0, 0));
    if (argc > 2 && !strcmp(argv[1], "personality"))
        return report(syscall(SYS_personality, strtoul(argv[2], NULL, 0)));
    return 2;
}
"""

_SYS_ADD_KEY, _SYS_KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}.get(
    os.uname().machine, (None, None)
)
_KEY_SPEC_USER_KEYRING = -4
_KEYCTL_UNLINK = 9


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is needed to build the syscall probe (Debian package gcc)")
    folder = tmp_path_factory.mktemp("probe")
    (folder / "probe.c").write_text(_PROBE_C)
    built = subprocess.run(
        [gcc, "-static", "-O", "-o", str(folder / "probe"), str(folder / "probe.c")],
        capture_output=True,
    )
    if built.returncode != 0:
        pytest.skip("cannot build a static probe (libc6-dev): " + built.stderr.decode()[-200:])
    return str(folder / "probe")


def run(engine, cmd, **host):
    body = {"Image": "busybox", "Cmd": list(cmd), "HostConfig": host}
    _, att = engine.run(body)
    code, out, err = att.collect()
    return code, out.decode(), err.decode()


def sh(engine, script, **host):
    return run(engine, ["sh", "-c", script], **host)


def with_probe(probe, **host):
    return {**host, "Binds": [f"{probe}:/probe:ro", *host.get("Binds", [])]}


def status(engine, **host) -> dict[str, str]:
    code, out, err = run(engine, ["cat", "/proc/self/status"], **host)
    assert code == 0, err
    return dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)


def host_bounding_caps() -> str:
    with open("/proc/self/status") as f:
        return next(line.split()[1] for line in f if line.startswith("CapBnd:"))


@pytest.fixture
def cli(engine):
    return functools.partial(helpers.cli, engine.paths.root, text=True)


@pytest.fixture
def host_key():
    """A key that host root puts in its user keyring (what a container must not read)."""
    if _SYS_ADD_KEY is None:
        pytest.skip("keyring syscall numbers known for x86_64 and aarch64 only")
    libc = ctypes.CDLL(None, use_errno=True)
    payload = uuid.uuid4().hex.encode()
    serial = libc.syscall(
        _SYS_ADD_KEY,
        b"user",
        b"dockerlab-secret-" + payload[:8],
        payload,
        len(payload),
        _KEY_SPEC_USER_KEYRING,
    )
    if serial < 0:
        pytest.skip(f"the host keyring refuses keys: {os.strerror(ctypes.get_errno())}")
    yield serial, payload.decode()
    libc.syscall(_SYS_KEYCTL, _KEYCTL_UNLINK, serial, _KEY_SPEC_USER_KEYRING)


# ---- the default profile ------------------------------------------------------------------


def test_default_container_runs_under_a_seccomp_filter_without_no_new_privs(engine):
    st = status(engine)
    assert st["Seccomp"] == "2"
    assert st["NoNewPrivs"] == "0"
    assert st["CapEff"] == "00000000a80425fb"  # Docker's 14 default capabilities


def test_a_big_config_still_carries_the_filter(engine):
    """A config too big for a default pipe (a 70 KB Env) must not start unconfined."""
    body = {
        "Image": "busybox",
        "Env": ["BIG=" + "x" * 70000],
        "Cmd": ["sh", "-c", 'echo ${#BIG}; grep "^Seccomp:" /proc/self/status'],
    }
    _, att = engine.run(body)
    code, out, err = att.collect()
    assert (code, out.decode().split()) == (0, ["70000", "Seccomp:", "2"]), err


def test_host_roots_keyring_is_out_of_reach(engine, probe, host_key):
    serial, secret = host_key
    code, out, _ = run(engine, ["/probe", "keyread", str(serial)], **with_probe(probe))
    assert (code, out) == (1, "errno 1\n")  # EPERM, the profile's default action
    code, out, _ = run(engine, ["/probe", "keyadd"], **with_probe(probe))
    assert (code, out) == (1, "errno 1\n")
    # the same probe without the filter reads the secret: the attack is real
    code, out, _ = run(
        engine,
        ["/probe", "keyread", str(serial)],
        **with_probe(probe, SecurityOpt=["seccomp=unconfined"]),
    )
    assert out == f"read {secret}\n"


def test_user_namespace_and_mount_are_refused(engine):
    code, _, err = sh(engine, "unshare -U -r -m sh -c 'mount -t tmpfs none /tmp && echo in'")
    assert code != 0 and "Operation not permitted" in err
    code, _, err = sh(engine, "unshare -U -r true")
    assert code != 0 and "Operation not permitted" in err


def test_cap_sys_admin_or_unconfined_let_unshare_through(engine):
    assert sh(engine, "unshare -U -r true", CapAdd=["SYS_ADMIN"])[0] == 0
    code, _, err = sh(engine, "unshare -U -r true", SecurityOpt=["seccomp=unconfined"])
    assert code == 0, err


def test_clone3_gets_enosys_so_libc_falls_back_to_clone(engine, probe):
    code, out, _ = run(engine, ["/probe", "clone3"], **with_probe(probe))
    assert out == "errno 38\n"
    code, out, _ = run(
        engine, ["/probe", "clone3"], **with_probe(probe, SecurityOpt=["seccomp=unconfined"])
    )
    assert out == "errno 22\n"  # EINVAL: the kernel itself saw the call


def test_personality_only_with_the_values_docker_allows(engine, probe):
    assert run(engine, ["/probe", "personality", "0xffffffff"], **with_probe(probe))[1].startswith(
        "ok "
    )
    code, out, _ = run(engine, ["/probe", "personality", "0x0040000"], **with_probe(probe))
    assert out == "errno 1\n"  # ADDR_NO_RANDOMIZE


def test_syscalls_newer_than_the_profile_get_enosys_older_ones_eperm(engine, probe):
    if os.uname().machine != "x86_64":
        pytest.skip("syscall numbers written for x86_64")
    # 1000: no such syscall anywhere; 250: keyctl, known and denied
    assert run(engine, ["/probe", "nr", "1000"], **with_probe(probe))[1] == "errno 38\n"
    assert run(engine, ["/probe", "nr", "250"], **with_probe(probe))[1] == "errno 1\n"


# ---- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "opt", ["no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"]
)
def test_no_new_privileges_sets_the_bit(engine, opt):
    st = status(engine, SecurityOpt=[opt])
    assert (st["NoNewPrivs"], st["Seccomp"]) == ("1", "2")


def test_no_new_privileges_false_leaves_it_off(engine):
    assert status(engine, SecurityOpt=["no-new-privileges:false"])["NoNewPrivs"] == "0"


def test_cap_drop_all_leaves_no_capability(engine):
    st = status(engine, CapDrop=["ALL"])
    assert st["CapEff"] == st["CapPrm"] == st["CapBnd"] == "0000000000000000"
    code, _, err = sh(engine, "chown 1 /tmp", CapDrop=["all"])
    assert code != 0 and "Operation not permitted" in err


def test_cap_add_and_drop_change_the_set(engine):
    st = status(engine, CapAdd=["sys_admin"], CapDrop=["CAP_CHOWN"])
    eff = int(st["CapEff"], 16)
    assert eff & (1 << 21) and not eff & 1
    assert status(engine, CapDrop=["ALL"], CapAdd=["NET_ADMIN"])["CapEff"] == f"{1 << 12:016x}"


def test_privileged_has_every_capability_no_filter_and_writable_proc_sys(engine):
    st = status(engine, Privileged=True)
    assert st["CapEff"] == host_bounding_caps()
    assert st["Seccomp"] == "0"
    code, out, err = sh(
        engine,
        "echo renamed > /proc/sys/kernel/hostname && hostname && "
        "grep -E ' /sys (sysfs|none) rw' /proc/mounts | wc -l && "
        "grep -c -E ' /proc/(keys|kcore|sys) ' /proc/mounts",
        Privileged=True,
    )
    assert out.split() == ["renamed", "1", "0"], err


def test_default_container_keeps_proc_sys_read_only_and_paths_masked(engine):
    code, _, err = sh(engine, "echo renamed > /proc/sys/kernel/hostname")
    assert code != 0 and "Read-only file system" in err
    code, out, _ = sh(engine, "cat /proc/keys | wc -c")
    assert out.strip() == "0"


def test_user_profile_denying_mkdir(cli, tmp_path):
    profile = tmp_path / "nomkdir.json"
    profile.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
            }
        )
    )
    r = cli("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "mkdir", "/x")
    assert r.returncode == 1
    assert "Operation not permitted" in r.stderr
    r = cli("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "touch", "/x")
    assert r.returncode == 0, r.stderr


def test_exec_runs_with_the_containers_filter_and_capabilities(cli):
    cid = cli("run", "-d", "busybox", "sleep", "60").stdout.strip()
    r = cli("exec", cid, "grep", "-E", "^(Seccomp|CapEff):", "/proc/self/status")
    assert r.stdout.split() == ["CapEff:", "00000000a80425fb", "Seccomp:", "2"]
    r = cli("exec", cid, "unshare", "-U", "-r", "true")
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    r = cli("exec", "--privileged", cid, "grep", "^CapEff:", "/proc/self/status")
    assert r.stdout.split() == ["CapEff:", host_bounding_caps()]
    cid = cli(
        "run",
        "-d",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "sleep",
        "60",
    ).stdout.strip()
    r = cli("exec", cid, "grep", "-E", "^(CapEff|NoNewPrivs):", "/proc/self/status")
    assert r.stdout.split() == ["CapEff:", "0000000000000000", "NoNewPrivs:", "1"]


def test_inspect_shows_the_security_fields_as_docker(cli, tmp_path):
    fmt = (
        "{{json .HostConfig.SecurityOpt}} {{json .HostConfig.CapAdd}} "
        "{{json .HostConfig.CapDrop}} {{json .HostConfig.Privileged}}"
    )
    cid = cli("create", "busybox", "true").stdout.strip()
    assert cli("inspect", "-f", fmt, cid).stdout == "null null null false\n"
    cid = cli(
        "create",
        "--cap-add",
        "sys_admin",
        "--cap-drop",
        "CAP_chown",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "cap_sys_admin",
        "--security-opt",
        "no-new-privileges",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "true",
    ).stdout.strip()
    assert cli("inspect", "-f", fmt, cid).stdout == (
        '["no-new-privileges","seccomp=unconfined"] ["CAP_SYS_ADMIN"] ["ALL","CAP_CHOWN"] false\n'
    )
    profile = tmp_path / "p.json"
    profile.write_text('{\n  "defaultAction": "SCMP_ACT_ALLOW"\n}\n')
    cid = cli(
        "create", "--privileged", "--security-opt", f"seccomp={profile}", "busybox", "true"
    ).stdout.strip()
    assert cli("inspect", "-f", fmt, cid).stdout == (
        '["seccomp={\\"defaultAction\\":\\"SCMP_ACT_ALLOW\\"}","label=disable"] null null true\n'
    )


def test_info_shows_the_seccomp_profile(cli):
    assert " Security Options:\n  seccomp\n   Profile: default\n" in cli("info").stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--cap-add", "foo"],
            'Error response from daemon: invalid CapAdd: unknown capability: "CAP_FOO"',
        ),
        (["--cap-drop", "CAP_NOPE"], 'invalid CapDrop: unknown capability: "CAP_NOPE"'),
        (["--security-opt", "foo"], 'Invalid --security-opt: "foo"'),
        (
            ["--security-opt", "foo=bar"],
            'Error response from daemon: invalid --security-opt 2: "foo=bar"',
        ),
        (
            ["--security-opt", "no-new-privileges=maybe"],
            'invalid --security-opt 2: "no-new-privileges=maybe"',
        ),
        (
            ["--security-opt", "seccomp=/nonexistent.json"],
            "opening seccomp profile (/nonexistent.json) failed: open /nonexistent.json: no such "
            "file or directory",
        ),
    ],
)
def test_bad_security_options_are_refused_with_dockers_message(cli, args, message):
    r = cli("run", "--rm", *args, "busybox", "true")
    assert r.returncode == 125
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert cli("ps", "-aq").stdout == ""


@pytest.mark.parametrize(
    "profile, message",
    [
        ("{bad", "compacting json for seccomp profile"),
        (
            '{"defaultAction": "SCMP_ACT_FOO"}',
            "string SCMP_ACT_FOO is not a valid action for seccomp",
        ),
        (
            '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "mkdir", '
            '"action": "SCMP_ACT_ERRNO"}]}',
            "Decoding seccomp profile failed: json: cannot unmarshal string into Go struct field "
            "Syscall.syscalls.names of type []string",
        ),
        (
            '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], '
            '"action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, '
            '"op": "SCMP_CMP_ABOUT"}]}]}',
            "string SCMP_CMP_ABOUT is not a valid operator for seccomp",
        ),
    ],
)
def test_bad_profiles_are_refused_with_dockers_message(cli, tmp_path, profile, message):
    path = tmp_path / "p.json"
    path.write_text(profile)
    r = cli("run", "--rm", "--security-opt", f"seccomp={path}", "busybox", "true")
    assert r.returncode == 125
    assert message in r.stderr
    assert "Traceback" not in r.stderr
