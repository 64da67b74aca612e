"""Attacks on ``exec``'s helper and the container's first process, run for real.

A process inside the container watches its ``/proc`` for new PIDs while the test runs many
``exec``s. Until it calls ``execve``, the helper that enters the container is the host's Python,
started by the caller: if it is visible (dumpable), the container reads the caller's
environment, opens the host's interpreter through ``/proc/N/exe`` (CVE-2019-5736), writes into
the caller's streams through ``/proc/N/fd/1`` and ptrace-attaches to it. ``/proc/N/cmdline`` is
readable by anyone, so whatever the helper gets in argv is read too.

What the command itself shows once it runs (its own env) is the container's business, as with
Docker: only what comes from the helper before ``execve`` is a leak. To tell the two apart
without a race, a hit counts only when ``/proc/N/exe`` opened *afterwards* is still the host's
interpreter (its device and inode, which the container cannot fake). The command's stdio, which
the container can reach once it runs, are attacked further down; the container's first process
last.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

import helpers
import pytest

pytestmark = pytest.mark.integration

PIPE = subprocess.PIPE
EXECS = 40  # the old helper leaked 1-6 times of each kind in each such run tried

# PID 1 of the watched container: busybox sh, as an untrusted image would ship it.
WATCHER = r"""
echo ready > /out/ready
while [ ! -e /out/stop ]; do
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = 1 ] && continue
    cat $d/cmdline >> /out/cmdline 2>/dev/null && echo >> /out/cmdline
    cat $d/environ >> /out/environ 2>/dev/null && echo >> /out/environ
    if true < $d/exe 2>/dev/null; then stat -L -c "exe $p %d:%i" $d/exe >> /out/report; fi
    if echo "written-by-the-container $p" 2>/dev/null > $d/fd/1; then
      stat -L -c "fd1 $p %d:%i" $d/exe >> /out/report 2>/dev/null
    fi
  done
done
"""

# A ptrace attacker needs more than busybox: the host's own Python, bind-mounted read-only
# (an image could ship any interpreter or gdb just the same). It seizes every new process,
# stops it, and notes whether it was the helper (its cmdline) before letting it go.
PTRACER = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
SEIZE, INTERRUPT, DETACH = 0x4206, 0x4207, 17
me = os.getpid()
tried = set()
out = open("/out/ptrace", "a", buffering=1)
open("/out/ready", "w").close()
while not os.path.exists("/out/stop"):
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        if libc.ptrace(SEIZE, pid, None, None) != 0:
            continue
        libc.ptrace(INTERRUPT, pid, None, None)
        try:
            os.waitpid(pid, 0x40000000)  # __WALL: it is stopped, its cmdline is stable
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmdline = "?"
        libc.ptrace(DETACH, pid, None, None)
        out.write(f"seized {pid} {cmdline}\n")
"""


def _host_python() -> str:
    st = os.stat(os.path.realpath(sys.executable))
    return f"{st.st_dev}:{st.st_ino}"


def _wait_for(path: str, timeout: float = 20) -> None:
    helpers.wait_for_path(path, timeout)


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _hammer(engine, cid: str, out: str, env: list[str] | None = None) -> None:
    """Run EXECS execs while the watcher watches, then stop it."""
    try:
        for _ in range(EXECS):
            # lives a little after its execve, so the watcher surely sees some command
            proc = engine.exec(
                cid, ["sleep", "0.02"], env=env, stdin=subprocess.DEVNULL, stdout=PIPE, stderr=PIPE
            )
            proc.communicate(timeout=20)
            assert proc.returncode == 0
    finally:
        open(os.path.join(out, "stop"), "w").close()


@pytest.fixture
def caller_secret(monkeypatch):
    """A secret in the caller's own environment, as a token in a teacher's shell would be."""
    value = "caller-" + secrets.token_hex(8)
    monkeypatch.setenv("DOCKERLAB_TEST_CALLER_SECRET", value)
    return value


def test_a_container_watching_proc_gets_nothing_of_the_exec_helper(engine, tmp_path, caller_secret):
    out = str(tmp_path / "out")
    os.makedirs(out)
    spec_secret = "spec-" + secrets.token_hex(8)
    cid, _ = engine.run(
        {
            "Image": "busybox",
            "Cmd": ["sh", "-c", WATCHER],
            "HostConfig": {"Binds": [f"{out}:/out"]},
        },
        attach="",
    )
    _wait_for(os.path.join(out, "ready"))
    _hammer(engine, cid, out, env=[f"EXEC_SECRET={spec_secret}"])
    environ, cmdline, report = (
        _read(os.path.join(out, n)) for n in ("environ", "cmdline", "report")
    )
    host_python = _host_python()
    assert environ or cmdline, "the watcher saw no process at all: the test proves nothing"
    hits = [line for line in report.splitlines() if line.endswith(" " + host_python)]
    leaks = {
        "the caller's environment": environ.count(caller_secret) + cmdline.count(caller_secret),
        "the exec's spec in the helper's argv": cmdline.count(spec_secret),
        "/proc/N/exe opened as the host's Python": sum(h.startswith("exe ") for h in hits),
        "a write into the caller's stdout through /proc/N/fd/1": sum(
            h.startswith("fd1 ") for h in hits
        ),
    }
    assert {k: n for k, n in leaks.items() if n} == {}


def test_a_container_cannot_ptrace_the_exec_helper(engine, tmp_path):
    out = str(tmp_path / "out")
    os.makedirs(out)
    with open(os.path.join(out, "ptracer.py"), "w") as f:
        f.write(PTRACER)
    python = os.path.realpath(sys.executable)
    binds = [f"{out}:/out", "/usr:/usr:ro", f"{sys.base_prefix}:{sys.base_prefix}:ro"]
    binds += [f"{os.path.realpath(d)}:{d}:ro" for d in ("/lib", "/lib64") if os.path.isdir(d)]
    cid, _ = engine.run(
        {
            "Image": "busybox",
            "Cmd": [python, "-I", "-S", "/out/ptracer.py"],
            "HostConfig": {"Binds": binds},
        },
        attach="",
    )
    _wait_for(os.path.join(out, "ready"))
    _hammer(engine, cid, out)
    seized = _read(os.path.join(out, "ptrace")).splitlines()
    assert any(line.split(" ", 2)[2].strip() == "sleep 0.02" for line in seized), (
        "the ptracer seized no exec'd command at all: the test proves nothing"
    )
    helper = [line for line in seized if "python" in line or "nsexec" in line]
    assert helper == [], "the container ptrace-attached to the host's Python helper"


# ---- the command's stdio: never the caller's own ------------------------------------------
# Once the command runs it is dumpable, as any process in the container: whatever it holds
# as stdio, the container can open again through /proc/N/fd/N and keep. So it must hold
# nothing of the caller's (a host file its output is redirected to, the user's terminal):
# pipes or a new terminal, copied by the helper outside the container, as Docker's shim does.
STDIO_WATCHER = r"""
echo ready > /out/ready
while [ ! -e /out/stop ]; do
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = 1 ] && continue
    stat -L -c "%F %d %t:%T" $d/fd/0 $d/fd/1 >> /out/stdio 2>/dev/null
    [ -f $d/fd/1 ] && cat $d/fd/1 >> /out/stolen 2>/dev/null
  done
done
"""


def _stdio_watcher(engine, out: str) -> str:
    cid, _ = engine.run(
        {
            "Image": "busybox",
            "Cmd": ["sh", "-c", STDIO_WATCHER],
            "HostConfig": {"Binds": [f"{out}:/out"]},
        },
        attach="",
    )
    _wait_for(os.path.join(out, "ready"))
    return cid


def test_a_host_file_the_output_goes_to_stays_out_of_reach(engine, tmp_path):
    out = str(tmp_path / "out")
    os.makedirs(out)
    cid = _stdio_watcher(engine, out)
    secret = "host-file-" + secrets.token_hex(8)
    target = tmp_path / "exec-output.log"  # `dockerlab exec c cmd >> exec-output.log`
    target.write_text(secret + "\n")
    try:
        with open(target, "ab") as f:
            for _ in range(EXECS // 2):
                proc = engine.exec(
                    cid,
                    ["sh", "-c", "echo from-the-command; sleep 0.05"],
                    stdin=subprocess.DEVNULL,
                    stdout=f,
                    stderr=PIPE,
                )
                proc.communicate(timeout=20)
                assert proc.returncode == 0
    finally:
        open(os.path.join(out, "stop"), "w").close()
    assert _read(os.path.join(out, "stdio")), "the watcher saw no command: it proves nothing"
    assert secret not in _read(os.path.join(out, "stolen"))
    assert target.read_text().count("from-the-command") == EXECS // 2


def test_the_users_terminal_stays_out_of_reach_of_exec_it(engine, tmp_path):
    import pty
    import select

    out = str(tmp_path / "out")
    os.makedirs(out)
    cid = _stdio_watcher(engine, out)
    master, slave = pty.openpty()
    st = os.fstat(slave)  # its devpts (st_dev) and number: a container's pts/0 is another
    user_tty = f"{st.st_dev} {os.major(st.st_rdev):x}:{os.minor(st.st_rdev):x}"
    env = {**os.environ, "DOCKERLAB_ROOT": engine.paths.root, "TERM": "xterm"}
    try:
        for _ in range(5):
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dockerlab",
                    "exec",
                    "-it",
                    cid,
                    "sh",
                    "-c",
                    "sleep 0.3; echo done-$((6*7))",
                ],
                env=env,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
            )
            seen = b""
            deadline = time.monotonic() + 20
            while b"done-42" not in seen and time.monotonic() < deadline:
                if select.select([master], [], [], 0.5)[0]:
                    seen += os.read(master, 4096)
            assert proc.wait(timeout=20) == 0 and b"done-42" in seen
    finally:
        open(os.path.join(out, "stop"), "w").close()
        os.close(master)
        os.close(slave)
    stdio = _read(os.path.join(out, "stdio"))
    assert "character special file" in stdio, "the watcher saw no terminal: it proves nothing"
    assert f"character special file {user_tty}" not in stdio.splitlines()


# ---- the container's first process ---------------------------------------------------------
def _cli(engine, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return helpers.cli(engine.paths.root, *args, env=env)


def test_the_first_process_is_forked_from_nothing_of_the_callers_environment(engine):
    # Until its execve the container's first process is a fork of its monitor, with the
    # monitor's environment: what a process in the container would read in /proc/1/environ
    # had it been quick enough. The CLI here is a fresh caller holding a secret.
    secret = "caller-" + secrets.token_hex(8)
    r = _cli(
        engine, "run", "-d", "busybox", "sleep", "30", env={"DOCKERLAB_TEST_CALLER_SECRET": secret}
    )
    assert r.returncode == 0, r.stderr
    pid = engine.inspect(r.stdout.decode().strip())["State"]["Pid"]
    with open(f"/proc/{pid}/status") as f:
        monitor = next(line.split()[1] for line in f if line.startswith("PPid:"))
    with open(f"/proc/{monitor}/cmdline", "rb") as f:
        assert b"forkserver.py" in f.read()  # it is the monitor: forked from the forkserver
    with open(f"/proc/{monitor}/environ", "rb") as f:
        environ = f.read()
    assert secret.encode() not in environ and environ == b""


@pytest.mark.parametrize("verb", ["run", "exec"])
def test_a_working_dir_in_proc_self_fd_finds_no_descriptor_of_ours(engine, verb):
    # CVE-2024-21626: runc left a host folder open, and WORKDIR /proc/self/fd/N entered it.
    # Nothing of the monitor's or the helper's may be open when the working dir is entered.
    cid = None
    if verb == "exec":
        cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, attach="")
    for n in range(3, 24):
        cwd = f"/proc/self/fd/{n}"
        if verb == "run":
            r = _cli(engine, "run", "--rm", "-w", cwd, "busybox", "pwd")
            assert r.returncode == 125, (n, r.stdout)
        else:
            r = _cli(engine, "exec", "-w", cwd, cid, "pwd")
            assert r.returncode == 126, (n, r.stdout)
            assert r.stdout == (
                b"OCI runtime exec failed: exec failed: unable to start "
                b'container process: chdir to cwd ("'
                + cwd.encode()
                + b'") set in config.json failed: no such file or directory: '
                b"unknown\r\n"
            )
        assert b"Errno" not in r.stderr and b"Traceback" not in r.stderr
