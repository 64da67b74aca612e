"""The `dockerlab` command end to end: Docker's output, messages and exit codes, real containers."""

from __future__ import annotations

import functools
import os
import time

import helpers
import pytest


@pytest.fixture
def cli(engine):
    """Run `dockerlab ARGS` against the test's engine root; returns CompletedProcess."""
    return functools.partial(helpers.cli, engine.paths.root)


def test_run_prints_output_and_returns_the_command_exit_code(cli):
    r = cli("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.returncode == 3
    assert r.stdout == b"out\n"
    assert r.stderr == b"err\n"


def test_run_rm_leaves_no_container(cli):
    assert cli("run", "--rm", "busybox", "true").returncode == 0
    assert cli("ps", "-aq").stdout == b""


def test_run_detached_prints_the_full_id_and_ps_shows_it_up(cli):
    r = cli("run", "-d", "--name", "web", "busybox", "sleep", "30")
    cid = r.stdout.decode().strip()
    assert r.returncode == 0 and len(cid) == 64
    ps = cli("ps").stdout.decode().splitlines()
    assert ps[0].split() == [
        "CONTAINER",
        "ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    assert ps[1].startswith(cid[:12]) and ps[1].rstrip().endswith("web")
    assert "Up " in ps[1]
    fmt = cli("ps", "--format", "{{.ID}}|{{.Names}}|{{.State}}").stdout.decode().strip()
    assert fmt == f"{cid[:12]}|web|running"


def test_unknown_command_is_127_with_dockers_message(cli):
    r = cli("run", "--rm", "busybox", "nosuchcmd")
    assert r.returncode == 127
    assert b'exec: "nosuchcmd": executable file not found in $PATH' in r.stderr
    assert b"Traceback" not in r.stderr


def test_not_executable_is_126(cli):
    r = cli("run", "--rm", "busybox", "/etc/passwd")
    assert r.returncode == 126
    assert b"permission denied" in r.stderr


def test_unknown_image_is_125(cli):
    r = cli("run", "--rm", "nosuchimage")
    assert r.returncode == 125
    assert b"nosuchimage" in r.stderr and b"Traceback" not in r.stderr


def test_bad_memory_value_is_a_usage_error(cli):
    r = cli("run", "-m", "lots", "busybox", "true")
    assert r.returncode == 125
    assert b'invalid argument "lots" for "-m, --memory" flag' in r.stderr


def test_unknown_flag_is_125_with_dockers_hint(cli):
    r = cli("ps", "--bogus")
    assert r.returncode == 125
    assert r.stderr.decode().splitlines()[:2] == [
        "unknown flag: --bogus",
        "See 'dockerlab ps --help'.",
    ]


def test_name_conflict_is_refused(cli):
    assert cli("create", "--name", "twin", "busybox").returncode == 0
    r = cli("create", "--name", "twin", "busybox")
    assert r.returncode == 125
    assert b'The container name "/twin" is already in use' in r.stderr


def test_rm_of_running_container_is_refused_then_forced(cli):
    cli("run", "-d", "--name", "busy", "busybox", "sleep", "30")
    r = cli("rm", "busy")
    assert r.returncode == 1
    assert b"stop the container before removing or force remove" in r.stderr
    assert cli("rm", "-f", "busy").stdout == b"busy\n"
    assert cli("ps", "-aq").stdout == b""


def test_stop_of_a_shell_loop_takes_the_timeout_and_gives_137(cli):
    cli("run", "-d", "--name", "loop", "busybox", "sh", "-c", "while true; do sleep 1; done")
    t = time.monotonic()
    assert cli("stop", "-t", "1", "loop").stdout == b"loop\n"
    assert time.monotonic() - t >= 1
    status = cli("ps", "-a", "--format", "{{.Status}}").stdout.decode()
    assert status.startswith("Exited (137)")


def test_pause_shows_paused_status_and_unpause_resumes(cli):
    cli("run", "-d", "--name", "pz", "busybox", "sleep", "30")
    assert cli("pause", "pz").returncode == 0
    assert "(Paused)" in cli("ps", "--format", "{{.Status}}").stdout.decode()
    assert cli("unpause", "pz").returncode == 0
    assert "Paused" not in cli("ps", "--format", "{{.Status}}").stdout.decode()


def test_logs_tail_and_timestamps(cli):
    cli("run", "--name", "talk", "busybox", "sh", "-c", "echo one; echo two; echo three")
    assert cli("logs", "--tail", "2", "talk").stdout == b"two\nthree\n"
    stamped = cli("logs", "-t", "talk").stdout.decode().splitlines()
    assert stamped[0].endswith("Z one") and stamped[0][:4].isdigit()


def test_wait_prints_the_exit_code(cli):
    cli("run", "-d", "--name", "wt", "busybox", "sh", "-c", "sleep 0.3; exit 4")
    r = cli("wait", "wt")
    assert r.stdout == b"4\n"


def test_inspect_format_and_writable_layer_on_the_host(cli, engine):
    cli("run", "--name", "happy", "busybox", "touch", "happiness.txt")
    upper = cli("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "happy").stdout.decode()
    assert os.path.exists(os.path.join(upper.strip(), "happiness.txt"))
    found = [
        os.path.join(d, f)
        for d, _, fs in os.walk(engine.paths.root)
        for f in fs
        if f == "happiness.txt"
    ]
    assert found == [os.path.join(upper.strip(), "happiness.txt")]


def test_exec_runs_inside_and_returns_its_code(cli):
    cli("run", "-d", "--name", "ex", "busybox", "sleep", "30")
    r = cli("exec", "ex", "sh", "-c", "hostname; exit 6")
    assert r.returncode == 6
    assert len(r.stdout.strip()) == 12


def test_interactive_stdin_reaches_the_container(cli):
    r = cli("run", "-i", "--rm", "busybox", "sh", "-c", "tr a-z A-Z", input=b"shout\n")
    assert r.stdout == b"SHOUT\n" and r.returncode == 0


def test_container_prune_removes_stopped_only(cli):
    cli("run", "--name", "done1", "busybox", "true")
    cli("run", "-d", "--name", "alive", "busybox", "sleep", "30")
    r = cli("container", "prune", "-f")
    assert b"Deleted Containers:" in r.stdout
    names = cli("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert names == [b"alive"]


def test_volume_persists_between_containers(cli):
    cli("run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    r = cli("run", "--rm", "-v", "data:/data:ro", "busybox", "cat", "/data/f")
    assert r.stdout == b"kept\n"
    assert b"data" in cli("volume", "ls").stdout


def test_version_and_info_name_the_engine(cli):
    assert b"Version:" in cli("version").stdout
    info = cli("info").stdout.decode()
    assert "Storage Driver: overlay2" in info and "Cgroup Version:" in info


EXEC_FAILED = b"OCI runtime exec failed: exec failed: unable to start container process: "


def test_exec_of_a_missing_command_is_126_with_dockers_text_on_stdout(cli):
    # compat-diffs exec-notfound: Docker 20.10 exits 126, the message on stdout ("\r\n")
    assert cli("run", "-d", "--name", "p1", "busybox", "sleep", "30").returncode == 0
    r = cli("exec", "p1", "nosuchcmd")
    assert (r.returncode, r.stderr) == (126, b"")
    assert r.stdout == (
        EXEC_FAILED + b'exec: "nosuchcmd": executable file not found in $PATH: unknown\r\n'
    )


def test_exec_in_a_missing_workdir_fails_as_docker_and_makes_no_folder(cli, engine):
    # compat-diffs exec-workdir-missing: 126 and runc's chdir message; nothing created
    cid = cli("run", "-d", "--name", "p2", "busybox", "sleep", "30").stdout.decode().strip()
    r = cli("exec", "-w", "/nonexist", "p2", "pwd")
    assert (r.returncode, r.stderr) == (126, b"")
    assert r.stdout == (
        EXEC_FAILED + b'chdir to cwd ("/nonexist") set in config.json failed: '
        b"no such file or directory: unknown\r\n"
    )
    assert not os.path.exists(helpers.upper_path(engine, cid, "/nonexist"))
