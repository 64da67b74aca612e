"""exec and top on real containers."""

from __future__ import annotations

import subprocess
import time

import pytest
from helpers import daemon, ready_sh, wait_ready, wait_until

from dockerlab import errors

pytestmark = pytest.mark.integration

PIPE = subprocess.PIPE


def ex(engine, cid, cmd, **kw):
    proc = engine.exec(cid, cmd, stdin=subprocess.DEVNULL, stdout=PIPE, stderr=PIPE, **kw)
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out, err


# ---- exec -----------------------------------------------------------------------------------
def test_exec_output_and_exit_code(engine):
    cid = daemon(engine)
    assert ex(engine, cid, ["sh", "-c", "echo out; echo err >&2; exit 3"]) == (
        3,
        b"out\n",
        b"err\n",
    )


def test_exec_joins_the_containers_pid_namespace(engine):
    cid = daemon(engine)
    code, out, _ = ex(engine, cid, ["cat", "/proc/1/cmdline"])
    assert code == 0 and out.split(b"\0")[:2] == [b"sleep", b"30"]
    code, out, _ = ex(engine, cid, ["ps", "-o", "pid,comm"])
    pids = [line.split()[0] for line in out.decode().splitlines()[1:]]
    assert "1" in pids and len(pids) <= 3  # sleep, ps (and nothing of the host)


def test_exec_sees_the_containers_filesystem_hostname_and_env(engine):
    cid = daemon(
        engine,
        ready_sh("echo made-by-pid1 > /shared", then="sleep 30"),
        Env=["FROM_RUN=1"],
        WorkingDir="/srv",
    )
    wait_ready(engine, cid)
    code, out, _ = ex(
        engine, cid, ["sh", "-c", "cat /shared; hostname; echo $FROM_RUN $X; pwd"], env=["X=2"]
    )
    assert code == 0
    assert out.decode().splitlines() == ["made-by-pid1", cid[:12], "1 2", "/srv"]


def test_exec_workdir_and_user(engine):
    cid = daemon(engine)
    code, out, _ = ex(engine, cid, ["sh", "-c", "pwd; id -u"], workdir="/tmp", user="nobody")
    lines = out.decode().splitlines()
    assert code == 0 and lines[0] == "/tmp" and lines[1] != "0"


def test_exec_command_not_found_and_not_executable_are_126(engine):
    # Docker 20.10's exec gives 126 for any command that did not start (run gives 127).
    cid = daemon(engine)
    code, out, _ = ex(engine, cid, ["no-such-cmd"])
    assert code == 126  # on stdout, "\r\n" ended, as Docker 20.10's daemon writes it
    assert out == (
        b"OCI runtime exec failed: exec failed: unable to start container process: "
        b'exec: "no-such-cmd": executable file not found in $PATH: unknown\r\n'
    )
    code, _, err = ex(engine, cid, ["/etc/passwd"])
    assert code == 126


def test_exec_runs_in_the_containers_cgroup_and_is_killed_with_it(engine):
    cid = daemon(engine)
    proc = engine.exec(cid, ["sleep", "60"], stdout=PIPE, stderr=PIPE)
    wait_until(lambda: any(p[-1].startswith("sleep 60") for p in engine.top(cid)["Processes"]))
    cmds = [p[-1] for p in engine.top(cid)["Processes"]]
    assert any(c.startswith("sleep 60") for c in cmds)
    engine.kill(cid)
    engine.wait(cid)
    proc.wait(timeout=10)
    assert proc.returncode != 0


def test_top_during_exec_shows_only_container_commands(engine):
    cid = daemon(engine)
    proc = engine.exec(cid, ["sleep", "60"], stdout=PIPE, stderr=PIPE)
    try:
        wait_until(lambda: any(p[-1] == "sleep 60" for p in engine.top(cid)["Processes"]))
        cmds = sorted(p[-1] for p in engine.top(cid)["Processes"])
        assert cmds == ["sleep 30", "sleep 60"]
    finally:
        proc.kill()
        proc.wait()


def test_exec_detach_runs_in_background(engine):
    cid = daemon(engine)
    assert engine.exec(cid, ["sh", "-c", "sleep 0.2; echo bg > /bg; sleep 30"], detach=True) is None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if ex(engine, cid, ["cat", "/bg"])[1] == b"bg\n":
            break
        time.sleep(0.1)
    assert ex(engine, cid, ["cat", "/bg"])[1] == b"bg\n"


def test_exec_detach_that_cannot_start_raises_dockers_error(engine):
    cid = daemon(engine)
    with pytest.raises(errors.DockerlabError) as exc:
        engine.exec(cid, ["no-such-cmd"], detach=True)
    assert str(exc.value) == (
        "OCI runtime exec failed: exec failed: unable to start container "
        'process: exec: "no-such-cmd": executable file not found in $PATH: '
        "unknown"
    )


def test_exec_has_docker_default_capabilities(engine):
    cid = daemon(engine)
    code, out, _ = ex(engine, cid, ["grep", "CapBnd", "/proc/self/status"])
    assert out.split() == [b"CapBnd:", b"00000000a80425fb"]


def test_exec_into_stopped_container_is_conflict(engine):
    cid = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    with pytest.raises(errors.Conflict) as exc:
        engine.exec(cid, ["true"])
    assert "is not running" in str(exc.value)


def test_exec_into_paused_container_is_conflict(engine):
    cid = daemon(engine)
    engine.pause(cid)
    with pytest.raises(errors.Conflict) as exc:
        engine.exec(cid, ["true"])
    assert "is paused, unpause the container before exec" in str(exc.value)


def test_exec_stdin(engine):
    cid = daemon(engine)
    proc = engine.exec(cid, ["tr", "a-z", "A-Z"], stdin=PIPE, stdout=PIPE, stderr=PIPE)
    out, _ = proc.communicate(b"shout\n", timeout=20)
    assert (proc.returncode, out) == (0, b"SHOUT\n")


# ---- top ------------------------------------------------------------------------------------
def test_top_lists_the_containers_processes_only(engine):
    cid = daemon(engine, ["sh", "-c", "sleep 31 & sleep 32 & wait"])
    wait_until(lambda: len(engine.top(cid)["Processes"]) == 3)
    top = engine.top(cid)
    assert "PID" in top["Titles"] and "CMD" in top["Titles"]
    cmds = [p[-1] for p in top["Processes"]]
    assert any("sleep 31" in c for c in cmds) and any("sleep 32" in c for c in cmds)
    assert len(top["Processes"]) == 3
    pid_col = top["Titles"].index("PID")
    host_pids = {int(p[pid_col]) for p in top["Processes"]}
    assert engine.inspect(cid)["State"]["Pid"] in host_pids  # host pids, as docker top


def test_top_with_ps_args(engine):
    cid = daemon(engine)
    top = engine.top(cid, "aux")
    assert "%CPU" in top["Titles"] and len(top["Processes"]) == 1


def test_top_of_stopped_container_is_conflict(engine):
    cid = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    with pytest.raises(errors.Conflict) as exc:
        engine.top(cid)
    assert "is not running" in str(exc.value)


def test_exec_tty_is_a_terminal_of_the_containers_own_devpts(engine):
    # As Docker's exec -t: a new terminal from the container's /dev/pts (not the caller's)
    cid = daemon(engine)
    code, out, _ = ex(engine, cid, ["sh", "-c", "tty; echo $TERM"], tty=True)
    assert code == 0
    assert out.replace(b"\r\n", b"\n") == b"/dev/pts/0\nxterm\n"


def test_exec_into_a_container_that_ended_meanwhile_is_126_without_a_traceback(engine):
    from dockerlab.engine.containers.execs import start_helper

    cid = daemon(engine)
    gone = subprocess.Popen(["true"])
    gone.wait()  # its PID names no process any more, as a container's PID 1 that just ended
    proc = start_helper(
        {
            "pid": gone.pid,
            "cgroup": f"dockerlab/{cid}",
            "cmd": ["true"],
            "env": [],
            "cwd": "/",
            "user": "",
            "detach": False,
            "tty": False,
            "ctty": False,
        },
        subprocess.DEVNULL,
        PIPE,
        PIPE,
    )
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 126
    assert out == (
        b"OCI runtime exec failed: exec failed: unable to start container process: "
        b"no such file or directory: unknown\r\n"
    )
