"""Process-level run/create flags against the kernel: each value read back from inside the
container (``ulimit``, ``/proc/sys``, ``id``, ``env``), as Docker's own tests do, and the
messages and exit codes for what Docker refuses."""

from __future__ import annotations

import functools
import json
import os

import helpers
import pytest

from dockerlab.errors import ContainerStartError


@pytest.fixture
def cli(engine):
    return functools.partial(helpers.cli, engine.paths.root, clean=True)


def out(r) -> str:
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode()


def first_error_line(r) -> str:
    return r.stderr.decode().splitlines()[0]


# ---- --ulimit --------------------------------------------------------------------------------


def test_ulimit_is_applied_to_the_container_and_its_execs(cli):
    r = cli(
        "run",
        "-d",
        "--name",
        "lim",
        "--ulimit",
        "nofile=512:1024",
        "--ulimit",
        "nproc=77",
        "busybox",
        "sh",
        "-c",
        "ulimit -n > /o; ulimit -Hn >> /o; ulimit -u >> /o; sleep 30",
    )
    out(r)
    assert out(cli("exec", "lim", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u")) == (
        "512\n1024\n77\n"
    )
    assert out(cli("exec", "lim", "cat", "/o")) == "512\n1024\n77\n"
    host = json.loads(out(cli("inspect", "-f", "{{json .HostConfig.Ulimits}}", "lim")))
    assert host == [
        {"Name": "nofile", "Soft": 512, "Hard": 1024},
        {"Name": "nproc", "Soft": 77, "Hard": 77},
    ]


def test_a_ulimit_the_kernel_refuses_fails_the_start_as_runc(cli):
    r = cli("run", "--rm", "--ulimit", "nofile=99999999", "busybox", "true")
    assert r.returncode == 125
    assert first_error_line(r) == (
        "dockerlab: Error response from daemon: failed to create shim task: OCI runtime create "
        "failed: runc create failed: unable to start container process: error during container "
        "init: error setting rlimits for ready process: error setting rlimit type 7: operation "
        "not permitted: unknown."
    )


def test_a_bad_ulimit_is_the_clis_usage_error(cli):
    r = helpers.cli(cli.args[0], "run", "--ulimit", "nofile=10:5", "busybox", "true")
    assert r.returncode == 125
    assert first_error_line(r) == (
        'invalid argument "nofile=10:5" for "--ulimit" flag: ulimit soft limit must be less '
        "than or equal to hard limit: 10 > 5"
    )


# ---- --sysctl --------------------------------------------------------------------------------


def _host(path: str) -> str:
    with open(path) as f:
        return f.read()


def test_sysctls_are_set_in_the_containers_namespaces_only(cli):
    paths = ("kernel/shmmax", "net/ipv4/ip_default_ttl", "fs/mqueue/msg_max")
    before = {p: _host("/proc/sys/" + p) for p in paths}
    r = cli(
        "run",
        "--rm",
        "--sysctl",
        "kernel.shmmax=12345",
        "--sysctl",
        "net.ipv4.ip_default_ttl=33",
        "--sysctl",
        "fs.mqueue.msg_max=20",
        "busybox",
        "cat",
        "/proc/sys/kernel/shmmax",
        "/proc/sys/net/ipv4/ip_default_ttl",
        "/proc/sys/fs/mqueue/msg_max",
    )
    assert out(r) == "12345\n33\n20\n"
    assert {p: _host("/proc/sys/" + p) for p in paths} == before  # the host's did not move


def test_a_host_wide_sysctl_is_refused_even_through_the_api(engine):
    """The attack: a client that skips the CLI's whitelist asks for a sysctl that is not
    namespaced (vm.*), or hides one behind dots and slashes; the host must not change."""
    before = _host("/proc/sys/vm/swappiness")
    wanted = "1" if before.strip() != "1" else "2"
    for key in ("vm.swappiness", "net./../vm.swappiness", "fs.mqueue/../../vm/swappiness"):
        with pytest.raises(ContainerStartError) as err:
            helpers.daemon(engine, ["true"], HostConfig={"Sysctls": {key: wanted}})
        text = str(err.value)
        assert "is not in a separate kernel namespace" in text or "no such file" in text, text
        assert _host("/proc/sys/vm/swappiness") == before


def test_net_sysctls_are_refused_with_the_host_network(cli):
    r = cli("run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "busybox")
    assert r.returncode == 125
    assert first_error_line(r) == (
        "dockerlab: Error response from daemon: failed to create shim task: OCI runtime create "
        'failed: runc create failed: sysctl "net.ipv4.ip_forward" not allowed in host network '
        "namespace: unknown."
    )


def test_a_sysctl_docker_does_not_whitelist_is_a_usage_error(cli):
    r = helpers.cli(cli.args[0], "run", "--sysctl", "vm.swappiness=1", "busybox", "true")
    assert r.returncode == 125
    assert first_error_line(r) == (
        'invalid argument "vm.swappiness=1" for "--sysctl" flag: sysctl \'vm.swappiness=1\' '
        "is not whitelisted"
    )


def test_a_sysctl_the_kernel_rejects_fails_the_start(cli):
    r = cli("run", "--rm", "--sysctl", "kernel.shmmax=abc", "busybox", "true")
    assert r.returncode == 125
    assert first_error_line(r).endswith(
        "error during container init: write /proc/sys/kernel/shmmax: invalid argument: unknown."
    )


# ---- groups ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, expected",
    [  # compat-diffs.md: what Docker 20.10 prints for each
        ((), "uid=0(root) gid=0(root) groups=0(root)"),
        (("-u", "1000"), "uid=1000 gid=0(root) groups=0(root)"),
        (("-u", "nobody"), "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)"),
        (("-u", "1000:1000"), "uid=1000 gid=1000 groups=1000"),
        (
            ("-u", "1000", "--group-add", "nobody", "--group-add", "5"),
            "uid=1000 gid=0(root) groups=0(root),5,65534(nobody)",
        ),
    ],
)
def test_id_shows_dockers_groups(cli, args, expected):
    assert out(cli("run", "--rm", *args, "busybox", "id")) == expected + "\n"


def test_exec_gets_the_same_groups_and_the_containers_group_add(cli):
    out(
        cli(
            "run",
            "-d",
            "--name",
            "grp",
            "-u",
            "nobody",
            "--group-add",
            "5",
            "busybox",
            "sleep",
            "30",
        )
    )
    assert (
        out(cli("exec", "grp", "id"))
        == "uid=65534(nobody) gid=65534(nobody) groups=5,65534(nobody)\n"
    )
    assert (
        out(cli("exec", "-u", "root", "grp", "id")) == "uid=0(root) gid=0(root) groups=0(root),5\n"
    )
    assert out(cli("exec", "-u", "1000:1000", "grp", "id")) == "uid=1000 gid=1000 groups=5,1000\n"


def test_an_unknown_group_name_is_dockers_error(cli):
    r = helpers.cli(cli.args[0], "run", "--rm", "--group-add", "audio", "busybox", "id")
    assert r.returncode == 125
    assert first_error_line(r) == (
        "dockerlab: Error response from daemon: Unable to find group audio: no matching "
        "entries in group file."
    )


# ---- the environment, the working directory --------------------------------------------------


def test_hostname_and_term_are_in_the_process_env_not_in_config_env(cli):
    out(cli("run", "-d", "-t", "--name", "envc", "-e", "FOO=1", "busybox", "sleep", "30"))
    config_env = json.loads(out(cli("inspect", "-f", "{{json .Config.Env}}", "envc")))
    assert not any(e.startswith(("HOSTNAME=", "TERM=")) for e in config_env)
    cid = out(cli("inspect", "-f", "{{.Id}}", "envc")).strip()
    env = out(cli("exec", "envc", "env")).splitlines()
    assert f"HOSTNAME={cid[:12]}" in env and "FOO=1" in env
    assert "TERM=xterm" not in env  # exec without -t: Docker gives no TERM
    assert "TERM=xterm" in out(cli("exec", "-t", "envc", "env")).replace("\r", "").splitlines()
    run_env = out(cli("run", "--rm", "-h", "box", "busybox", "env")).splitlines()
    assert "HOSTNAME=box" in run_env


def test_a_relative_workdir_is_refused(cli):
    r = helpers.cli(cli.args[0], "run", "--rm", "-w", "relative", "busybox", "pwd")
    assert r.returncode == 125
    assert first_error_line(r) == (
        "dockerlab: Error response from daemon: the working directory 'relative' is invalid, "
        "it needs to be an absolute path."
    )


# ---- stop signal and timeout, labels, cidfile, platform --------------------------------------


def test_stop_uses_the_stop_signal(engine, cli):
    script = helpers.ready_sh("trap 'echo got-usr1; exit 0' USR1", "while :; do sleep 0.1; done")
    r = cli("run", "-d", "--name", "sig", "--stop-signal", "SIGUSR1", "busybox", *script)
    cid = out(r).strip()
    helpers.wait_ready(engine, cid)
    out(cli("stop", "sig"))
    assert out(cli("logs", "sig")) == "got-usr1\n"
    assert out(cli("inspect", "-f", "{{.State.ExitCode}} {{.Config.StopSignal}}", "sig")) == (
        "0 SIGUSR1\n"
    )


def test_stop_timeout_is_kept_and_used(engine, cli):
    script = helpers.ready_sh("trap '' TERM", "while :; do sleep 0.1; done")
    cid = out(cli("run", "-d", "--name", "tmo", "--stop-timeout", "1", "busybox", *script)).strip()
    helpers.wait_ready(engine, cid)
    assert out(cli("inspect", "-f", "{{.Config.StopTimeout}}", "tmo")) == "1\n"
    out(cli("stop", "tmo"))  # TERM is ignored: killed after the container's own timeout
    assert out(cli("inspect", "-f", "{{.State.ExitCode}}", "tmo")) == "137\n"


def test_an_invalid_stop_signal_is_refused(cli):
    r = helpers.cli(cli.args[0], "run", "--rm", "--stop-signal", "BOGUS", "busybox", "true")
    assert r.returncode == 125
    assert first_error_line(r) == "dockerlab: Error response from daemon: Invalid signal: BOGUS."


def test_label_file(cli, tmp_path):
    f = tmp_path / "labels"
    f.write_text("a=1\n# comment\nbare\nc=3\n")
    out(cli("create", "--name", "lab", "--label-file", str(f), "-l", "a=2", "busybox"))
    labels = json.loads(out(cli("inspect", "-f", "{{json .Config.Labels}}", "lab")))
    assert labels == {"a": "2", "c": "3"}


def test_cidfile_holds_the_id_and_a_second_use_is_refused(cli, tmp_path):
    path = str(tmp_path / "cid")
    cid = out(cli("run", "-d", "--cidfile", path, "busybox", "sleep", "30")).strip()
    with open(path) as f:
        assert f.read() == cid
    assert out(cli("inspect", "-f", "{{.HostConfig.ContainerIDFile}}", cid)) == path + "\n"
    r = helpers.cli(cli.args[0], "run", "--cidfile", path, "busybox", "true")
    assert r.returncode == 125
    assert first_error_line(r) == (
        "dockerlab: Container ID file found, make sure the other container isn't running or "
        f"delete {path}."
    )
    attached = str(tmp_path / "cid2")
    out(cli("run", "--rm", "--cidfile", attached, "busybox", "true"))
    assert len(open(attached).read()) == 64
    failed = str(tmp_path / "cid3")
    r = helpers.cli(cli.args[0], "run", "--cidfile", failed, "nosuchimage")
    assert r.returncode == 125 and not os.path.exists(failed)  # no container: no file left


def test_platform(cli):
    native = os.uname().machine in ("x86_64", "amd64")
    mine, foreign = ("linux/amd64", "linux/arm64") if native else ("linux/arm64", "linux/amd64")
    assert out(cli("run", "--rm", "--platform", mine, "busybox", "echo", "ok")) == "ok\n"
    r = helpers.cli(cli.args[0], "run", "--rm", "--platform", foreign, "busybox", "true")
    assert r.returncode == 125
    assert first_error_line(r) == (
        "dockerlab: Error response from daemon: image with reference busybox was found but "
        f"does not match the specified platform: wanted {foreign}, actual: {mine}."
    )


def test_inspect_hostconfig_has_dockers_keys(cli):
    out(cli("create", "--name", "hc", "busybox"))
    host = json.loads(out(cli("inspect", "-f", "{{json .HostConfig}}", "hc")))
    assert len(host) == 63
    for key in ("CapAdd", "Dns", "ExtraHosts", "LogConfig", "PortBindings", "Privileged"):
        assert key in host
    assert out(
        cli("inspect", "-f", "{{.HostConfig.Privileged}} {{.HostConfig.ShmSize}}", "hc")
    ) == ("false 67108864\n")
