"""``exec -it`` in a notebook: the helper gets a pseudo-terminal made here (and copies it
to the command's, in the container's devpts, as for the CLI), and this object
gives the console widget the same surface as the monitor's attachment (read, write, resize,
close_stdin, exit), so one console serves ``run -it``, ``attach`` and ``exec -it``.

``pty.openpty`` does not fork, so this is safe in a multi-threaded kernel.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import termios
from typing import Any

STDOUT = 1


class _Sock:
    """The two socket calls the console makes: a read timeout, and shutdown to detach."""

    def __init__(self) -> None:
        self.timeout: float | None = None
        self.detached = False

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def shutdown(self, _how: int) -> None:
        self.detached = True


class PtyAttachment:
    def __init__(self, master: int, proc: Any) -> None:
        self.master = master
        self.proc = proc
        self.sock = _Sock()
        self.exit: dict[str, Any] | None = None

    def read(self) -> tuple[int, bytes] | None:
        """The next output; None once the command has ended (or the console detached)."""
        if self.sock.detached:
            return None
        ready, _, _ = select.select([self.master], [], [], self.sock.timeout)
        if self.sock.detached:
            return None
        if not ready:
            raise TimeoutError
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the last process holding the terminal is gone
            data = b""
        if not data:
            self.exit = {"ExitCode": self.proc.wait()}
            return None
        return STDOUT, data

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close_stdin(self) -> None:
        self.write(b"\x04")

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def close(self) -> None:
        if self.sock.detached:  # the command goes on; its terminal must stay open
            return
        try:
            os.close(self.master)
        except OSError:
            pass


def exec_console(
    engine: Any, ref: str, cmd: list[str], env: list[str], workdir: str, user: str
) -> PtyAttachment:
    """Start ``cmd`` in ``ref`` on a new pseudo-terminal; returns its attachment."""
    import pty

    master, slave = pty.openpty()
    try:
        proc = engine.exec(
            ref,
            cmd,
            env=env,
            workdir=workdir,
            user=user,
            tty=True,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            own_terminal=True,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return PtyAttachment(master, proc)
