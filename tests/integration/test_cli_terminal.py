"""`-it`, `attach` and detach keys through a real pseudo-terminal, as a person at a shell."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time


class Terminal:
    """`dockerlab ARGS` on the slave side of a pty; we type and read on the master side."""

    def __init__(self, root: str, *args: str) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "DOCKERLAB_ROOT": root, "TERM": "xterm"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dockerlab", *args],
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = b""

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def expect(self, needle: bytes, timeout: float = 10) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{needle!r} not seen; screen so far: {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:  # EIO: the program closed the terminal
                    break
        assert needle in self.seen, f"{needle!r} not seen; screen: {self.seen!r}"
        return self.seen

    def wait(self, timeout: float = 10) -> int:
        code = self.proc.wait(timeout)
        os.close(self.master)
        return code


def test_run_it_gives_a_real_terminal_and_the_shells_exit_code(engine):
    term = Terminal(engine.paths.root, "run", "-it", "--rm", "busybox", "sh")
    term.expect(b"# ")
    term.type(b"tty; echo TERM=$TERM; stty size\r")
    term.expect(b"TERM=xterm")
    assert b"/dev/pts/0" in term.seen
    term.type(b"exit 7\r")
    assert term.wait() == 7


def test_ctrl_p_ctrl_q_detaches_and_the_container_keeps_running(engine):
    cid, _ = engine.run(
        {"Image": "busybox", "Cmd": ["sh"], "Tty": True, "OpenStdin": True},
        name="detachme",
        attach="",
    )
    term = Terminal(engine.paths.root, "attach", "detachme")
    term.type(b"echo attached-$((6*7))\r")
    term.expect(b"attached-42")
    term.type(b"\x10\x11")  # Ctrl-P Ctrl-Q
    term.expect(b"read escape sequence")
    assert term.wait() == 0
    assert engine.inspect(cid)["State"]["Status"] == "running"


def test_exec_it_opens_a_shell_inside_a_running_container(engine):
    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="host1", attach="")
    term = Terminal(engine.paths.root, "exec", "-it", "host1", "sh")
    term.expect(b"# ")
    term.type(b"hostname; exit 3\r")
    term.expect(cid[:12].encode())
    assert term.wait() == 3


def test_exec_it_tty_names_the_containers_terminal(engine):
    engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="host4", attach="")
    term = Terminal(engine.paths.root, "exec", "-it", "host4", "sh")
    term.expect(b"# ")
    term.type(b"tty; exit 5\r")
    term.expect(b"/dev/pts/")
    assert b"not a tty" not in term.seen
    assert term.wait() == 5
