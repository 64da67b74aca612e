"""run/create flags become the Docker create body docker's CLI would send."""

from __future__ import annotations

import pytest

from dockerlab.cli.options import create_body
from dockerlab.cli.parser import parse
from dockerlab.errors import InvalidParameter, UsageError, exit_code


def body(*argv: str, environ=None, cwd=None):
    return create_body(parse(list(argv)), environ=environ or {}, cwd=cwd)


def test_config_fields_from_flags():
    name, b = body("run", "--name", "web", "-h", "box", "-u", "1000:1000", "-w", "/tmp",
                   "-l", "a=b", "-l", "flag", "--stop-signal", "SIGINT", "--stop-timeout", "3",
                   "busybox", "ls", "-l")  # fmt: skip
    assert name == "web"
    assert b["Image"] == "busybox" and b["Cmd"] == ["ls", "-l"] and b["Entrypoint"] is None
    assert (b["Hostname"], b["User"], b["WorkingDir"]) == ("box", "1000:1000", "/tmp")
    assert b["Labels"] == {"a": "b", "flag": ""}
    assert (b["StopSignal"], b["StopTimeout"]) == ("SIGINT", 3)


def test_no_command_leaves_the_image_cmd():
    assert body("run", "busybox")[1]["Cmd"] is None


def test_empty_entrypoint_clears_it_as_docker_sends_it():
    assert body("run", "--entrypoint", "", "busybox")[1]["Entrypoint"] == [""]
    assert body("run", "--entrypoint", "sh", "busybox")[1]["Entrypoint"] == ["sh"]


def test_interactive_attached_run_is_stdin_once():
    b = body("run", "-it", "busybox")[1]
    assert b["OpenStdin"] and b["AttachStdin"] and b["StdinOnce"] and b["Tty"]
    assert b["AttachStdout"] and b["AttachStderr"]


def test_detached_run_attaches_nothing():
    b = body("run", "-d", "-i", "busybox")[1]
    assert b["OpenStdin"] and not b["StdinOnce"]
    assert not (b["AttachStdin"] or b["AttachStdout"] or b["AttachStderr"])


def test_create_i_is_stdin_once_as_in_docker():
    # Docker 20.10: OpenStdin, StdinOnce and AttachStdin all true (compat-diffs
    # create-i-stdinonce); without StdinOnce `echo x | start -ai` never ended
    b = body("create", "-i", "busybox")[1]
    assert b["OpenStdin"] and b["AttachStdin"] and b["StdinOnce"]


def test_attach_flag_picks_streams():
    b = body("run", "-a", "stderr", "busybox")[1]
    assert (b["AttachStdin"], b["AttachStdout"], b["AttachStderr"]) == (False, False, True)
    with pytest.raises(UsageError, match="valid streams are STDIN, STDOUT and STDERR"):
        body("run", "-a", "foo", "busybox")
    with pytest.raises(UsageError, match="Conflicting options: -a and -d"):
        body("run", "-d", "-a", "stdout", "busybox")


def test_rm_with_detach_is_allowed():
    b = body("run", "--rm", "-d", "busybox")[1]
    assert b["HostConfig"]["AutoRemove"] is True


def test_env_takes_the_hosts_value_for_a_bare_name():
    b = body("run", "-e", "A=1", "-e", "HOME", "-e", "UNSET", "busybox", environ={"HOME": "/h"})
    assert b[1]["Env"] == ["A=1", "HOME=/h"]


def test_env_file_lines_come_before_env_flags(tmp_path):
    f = tmp_path / "env"
    f.write_text("# comment\n\n  A=1\nB= spaced value \nHOME\nMISSING\n")
    b = body("run", "--env-file", str(f), "-e", "C=3", "busybox", environ={"HOME": "/h"})[1]
    assert b["Env"] == ["A=1", "B= spaced value ", "HOME=/h", "C=3"]


def test_bad_env_file_lines_and_missing_file(tmp_path):
    f = tmp_path / "env"
    f.write_text("A B=1\n")
    with pytest.raises(UsageError) as info:
        body("run", "--env-file", str(f), "busybox")
    assert str(info.value) == (
        "dockerlab: poorly formatted environment: variable 'A B' contains whitespaces.\n"
        "See 'dockerlab run --help'."
    )
    f.write_text("=1\n")
    with pytest.raises(UsageError, match="no variable name on line '=1'"):
        body("run", "--env-file", str(f), "busybox")
    with pytest.raises(UsageError) as info:
        body("run", "--env-file", "/nonexistent/env", "busybox")
    assert str(info.value).startswith(
        "dockerlab: open /nonexistent/env: no such file or directory."
    )
    assert exit_code(info.value, "run") == 125


def test_memory_sizes_and_dockers_errors():
    hc = body("run", "-m", "64m", "--memory-swap", "-1", "busybox")[1]["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"]) == (64 * 1024 * 1024, -1)
    with pytest.raises(UsageError) as info:
        body("run", "-m", "lots", "busybox")
    assert str(info.value).splitlines()[0] == (
        'invalid argument "lots" for "-m, --memory" flag: invalid size: \'lots\''
    )
    with pytest.raises(InvalidParameter, match="^Minimum memory limit allowed is 6MB$"):
        body("run", "-m", "1m", "busybox")


def test_cpu_options():
    hc = body("run", "--cpus", "1.5", "-c", "512", "--pids-limit", "10", "busybox")[1]
    hc = hc["HostConfig"]
    assert (hc["NanoCpus"], hc["CpuShares"], hc["PidsLimit"]) == (1_500_000_000, 512, 10)
    with pytest.raises(UsageError, match="failed to parse abc as a rational number"):
        body("run", "--cpus", "abc", "busybox")


def test_cpus_conflict_with_cfs_quota_and_period():
    with pytest.raises(InvalidParameter) as info:
        body("run", "--cpus", "1", "--cpu-period", "100000", "busybox")
    assert str(info.value) == "Conflicting options: Nano CPUs and CPU Period cannot both be set"
    with pytest.raises(InvalidParameter) as info:
        body("run", "--cpus", "1", "--cpu-quota", "50000", "busybox")
    assert str(info.value) == "Conflicting options: Nano CPUs and CPU Quota cannot both be set"


def test_volumes_binds_named_and_anonymous(tmp_path):
    b = body("run", "-v", "/src:/dst:ro", "-v", "data:/data", "-v", "/anon", "-v", "./x:/x",
             "busybox", cwd=str(tmp_path))[1]  # fmt: skip
    assert b["HostConfig"]["Binds"] == ["/src:/dst:ro", "data:/data", f"{tmp_path}/x:/x"]
    assert b["Volumes"] == {"/anon": {}}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
        ("/a:/b:xx", "invalid mode: xx"),
        ("/a:rw", "invalid volume specification: '/a:rw'"),
        ("/a:b", "mount path must be absolute"),
    ],
)
def test_invalid_volume_specs(spec, message):
    with pytest.raises(InvalidParameter) as info:
        body("run", "-v", spec, "busybox")
    assert message in str(info.value)


def test_network_modes():
    assert body("run", "busybox")[1]["HostConfig"]["NetworkMode"] == "default"
    assert body("run", "--network", "none", "busybox")[1]["HostConfig"]["NetworkMode"] == "none"
    # a user network's name goes to the engine, which refuses it if unknown (user networks)
    assert body("run", "--net", "foo", "busybox")[1]["HostConfig"]["NetworkMode"] == "foo"
    sent = body("run", "--network", "lab", "--network-alias", "a", "--ip", "10.1.0.5", "busybox")
    assert sent[1]["NetworkingConfig"] == {
        "EndpointsConfig": {"lab": {"IPAMConfig": {"IPv4Address": "10.1.0.5"}, "Aliases": ["a"]}}
    }
    assert "NetworkingConfig" not in body("run", "busybox")[1]


def test_restart_no_and_init():
    # (the refusal of every policy but "no" is gone: tests/unit/test_restart_policies.py)
    hc = body("run", "--restart", "no", "--init", "busybox")[1]["HostConfig"]
    assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0} and hc["Init"] is True


def test_env_file_stops_at_a_64k_line_as_gos_scanner_does(tmp_path):
    f = tmp_path / "env"
    f.write_bytes(b"A=" + b"x" * 65533 + b"\nB=" + b"y" * (1 << 20) + b"\n")
    with pytest.raises(UsageError, match="bufio.Scanner: token too long"):
        body("run", "--env-file", str(f), "busybox")
    f.write_bytes(b"A=" + b"x" * 65533 + b"\nB=2\r\n")  # 65535 bytes: the longest Go takes
    assert body("run", "--env-file", str(f), "busybox")[1]["Env"] == ["A=" + "x" * 65533, "B=2"]


def test_env_file_of_dev_zero_fails_instead_of_eating_memory():
    """`--env-file /dev/zero` never ends: the child's address space is capped to fail fast."""
    import subprocess
    import sys

    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))\n"
        "from dockerlab.cli.options import environment\n"
        "environment(['/dev/zero'], [], {})\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert b"bufio.Scanner: token too long" in r.stderr, r.stderr[-300:]
