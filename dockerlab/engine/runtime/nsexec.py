"""``exec``'s helper: joins a running container's cgroup and namespaces, then runs a command.

Started as ``python -I -S nsexec.py PKGDIR SPEC_FD`` with an empty environment, ``/`` as its
folder and nothing open but the caller's stdio and SPEC_FD, a pipe that carries the spec
(``marshal`` of a dict, read whole). It exits with the command's exit code (128+N for a
signal), or 126 when the command could not start, as ``docker exec`` does.

Until it calls ``execve`` the helper is the host's Python, and the half that enters the
container's PID namespace is visible in the container's ``/proc``. The lessons of runc's
CVE-2019-5736 and CVE-2024-21626 apply: the helper is non-dumpable before it joins anything (so
no process in the container may open its ``/proc/PID/exe``, ``environ``, ``fd/*`` or
``ptrace`` it), its argv and environment hold nothing of the caller's or the spec's, and the
command starts in the container's root with no descriptor of ours left open. Once it runs,
the command is as visible as any process in the container, so its stdio are never the
caller's own: the half that stays outside copies between them (see :class:`Stdio`).
"""

from __future__ import annotations

import os
import signal
import sys

if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])

from dockerlab.engine.runtime import linux as L

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import Any

_NAMESPACES = ("ipc", "uts", "net", "pid", "mnt")
# Where a start failure is told: our stdout, as Docker 20.10 (its daemon writes the runtime's
# error into the exec's output stream, "\r\n" ended), or with detach our first half.
_report_fd = 1


def read_all(fd: int) -> bytes:
    raw = b""
    while chunk := os.read(fd, 65536):
        raw += chunk
    os.close(fd)
    return raw


def read_spec(fd: int) -> dict[str, Any]:
    """The whole spec from the pipe (``marshal``: builtin, no ``json``/``re`` imports)."""
    import marshal

    spec: dict[str, Any] = marshal.loads(read_all(fd))
    return spec


def fail(code: int, message: str, daemon: bool = False) -> None:
    """Docker's words for a command that did not start; never fails to encode."""
    if not daemon:
        message = (
            f"OCI runtime exec failed: exec failed: unable to start container process: "
            f"{message}: unknown"
        )
    try:
        end = b"\n" if os.isatty(_report_fd) else b"\r\n"  # a terminal adds its own \r
        os.write(_report_fd, message.encode("utf-8", "replace") + end)
    except OSError:
        pass  # nobody listens any more: the exit code still tells
    os._exit(code)


def _command(spec: dict[str, Any], mnt: int, cgns: int, stdio: Stdio) -> None:
    """The child: enter the cgroup and mount namespaces and become the command. Never
    returns."""
    from dockerlab.engine.runtime import process
    from dockerlab.engine.runtime.cgroups import open_cgroup

    try:
        stdio.in_child()
        if spec["cgroup"]:  # (rootless: none)
            open_cgroup(spec["cgroup"]).add(0)  # "0": the writer, so only the command counts
        L.setns(cgns)  # /proc/self/cgroup shows "/" as in the container's first process
        L.setns(mnt)  # also moves our root and folder to the container's root
        stdio.terminal_in_child()
        # Nothing of ours for a cwd like /proc/self/fd/N to find (but a detached exec's
        # report pipe, close-on-exec: its end tells our first half the command started).
        if _report_fd > 2:
            os.closerange(3, _report_fd)
        os.closerange(max(3, _report_fd + 1), _max_fd())
        # the container's capabilities, seccomp program and no-new-privileges, then the command
        process.run(
            spec["user"],
            spec["cwd"],
            spec["env"],
            spec["cmd"],
            spec.get("security"),
            make_cwd=False,
        )
    except process.StartFailure as exc:
        # Docker's exec: 126 for any start failure; a user the daemon cannot find unwrapped.
        fail(
            126, str(exc), daemon=exc.code == 125 and str(exc).lower().startswith("unable to find")
        )
    except BaseException as exc:  # noqa: BLE001 - whatever it is, report it and end here
        from dockerlab.errors import reason

        fail(126, reason(exc) or type(exc).__name__)
    finally:
        os._exit(126)


def _make_controlling(fd: int) -> None:
    import fcntl
    import termios

    os.setsid()
    fcntl.ioctl(fd, termios.TIOCSCTTY, 0)


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        return 1 << 20


class Stdio:
    """The command's stdio. Nothing of the caller's is handed to the command: a process in
    the container can open ``/proc/PID/fd/N`` of any command it sees once it runs, and keep
    it. So the command gets pipes, or with ``tty`` a terminal of the container's own devpts
    (as Docker's exec), whose other ends only we hold, outside the container's PID
    namespace, and we copy, as Docker's shim does. Only ``/dev/null`` is passed as it is.
    A terminal the caller made for this command alone (``ctty``) becomes our controlling
    terminal, so its resizes reach us as SIGWINCH; the command still gets one of the
    container's (a host terminal has no name inside: ``tty`` would say "not a tty")."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.child: list[int] = [0, 1, 2]  # what becomes the command's 0, 1, 2
        self.ours: list[int] = []  # the child's ends, closed here after the fork
        self.copies: dict[int, int] = {}  # source -> destination, copied by run()
        self.stdin_w = -1  # closed when the caller's stdin ends (pipes only)
        # The caller's input not yet taken by the command: written without blocking, so a
        # command busy writing its output never waits on us while we wait on it.
        self.pending = bytearray()
        self.in_eof = False  # the caller's stdin ended: close the command's once written
        self.in_paused = False  # fd 0 left out of the poll while ``pending`` holds data
        self.out_wait = False  # polling the command's side for room
        self.master = -1
        self.raw: list[Any] | None = None
        # (ours, the child's) socket for the terminal
        self.console: tuple[socket.socket, socket.socket] | None = None
        for fd in (0, 1, 2):  # a closed one must not be taken by a pipe made below
            try:
                os.fstat(fd)
            except OSError:
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)
        if spec.get("tty"):
            import fcntl  # noqa: F401 - now: the container has no Python to import from
            import socket
            import termios  # noqa: F401

            self.console = socket.socketpair()
            if not _is_null(0) and os.isatty(0):  # keys go to the command untouched
                import termios
                import tty

                self.raw = termios.tcgetattr(0)
                tty.setraw(0, termios.TCSANOW)
            return
        if not _is_null(0):
            r, self.stdin_w = os.pipe()
            os.set_blocking(self.stdin_w, False)  # our end only: the command's read blocks
            self.child[0] = r
            self.ours.append(r)
            self.copies[0] = self.stdin_w
        for fd in (1, 2):
            if fd == 2 and self.child[1] != 1 and _same_file(1, 2):
                self.child[2] = self.child[1]  # one terminal or 2>&1: one pipe keeps the order
            elif not _is_null(fd):
                r, w = os.pipe()
                self.child[fd] = w
                self.ours.append(w)
                self.copies[r] = fd

    def in_child(self) -> None:
        for target, fd in enumerate(self.child):
            if fd != target:
                os.dup2(fd, target)  # inheritable, the rest is closed before execve

    def terminal_in_child(self) -> None:
        """With ``tty``, in the container's mount namespace: a terminal from its devpts,
        sized as the caller's, made our controlling one; its master goes to the parent."""
        if self.console is None:
            return
        import fcntl
        import socket
        import termios

        master, slave = os.openpty()
        for fd in (0, 1):
            try:
                fcntl.ioctl(
                    slave, termios.TIOCSWINSZ, fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
                )
                break
            except OSError:
                continue
        socket.send_fds(self.console[1], [b"pty"], [master])
        os.close(master)
        _make_controlling(slave)
        for target in (0, 1, 2):
            os.dup2(slave, target)

    def in_parent(self) -> None:
        """After the fork: drop the child's ends; with ``tty``, wait for its terminal."""
        for fd in self.ours:
            os.close(fd)
        if self.console is None:
            return
        import socket

        ours, theirs = self.console
        theirs.close()
        try:
            _, fds, _, _ = socket.recv_fds(ours, 16, 1)
        except OSError:
            fds = []
        ours.close()
        if fds:  # none: the child failed first, and says so on stderr
            self.master = fds[0]
            self.copies[self.master] = 1  # even /dev/null: a full terminal would block
            if not _is_null(0):
                self.copies[0] = self.master
                os.set_blocking(self.master, False)  # read only when poll says it has data

    def resize(self) -> None:
        import fcntl
        import termios

        for fd in (0, 1):
            try:
                size = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
            except OSError:
                continue
            if self.master >= 0:
                fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)
            return

    def run(self, child: int) -> int:
        """Copy until the command has ended and its output with it; its wait status."""
        import select
        import time

        poll = select.poll()
        for fd in self.copies:
            poll.register(fd, select.POLLIN)
        try:
            pidfd = os.pidfd_open(child)
            poll.register(pidfd, select.POLLIN)
        except (AttributeError, OSError):
            pidfd = -1
        status = None
        deadline = 0.0
        try:
            while True:
                if status is None:
                    pid, st = os.waitpid(child, os.WNOHANG)
                    if pid:
                        status = st
                        self._drop(poll, 0)  # the caller's next keys are not for us
                        if pidfd >= 0:
                            poll.unregister(pidfd)
                            os.close(pidfd)
                            pidfd = -1
                        deadline = time.monotonic() + 2  # for output a child keeps open
                if status is not None:
                    left = deadline - time.monotonic()
                    if not self.copies or left <= 0:
                        return status
                    timeout: float | None = left * 1000
                else:
                    timeout = None if pidfd >= 0 else 50
                try:
                    events = poll.poll(timeout)
                except InterruptedError:
                    continue
                for fd, ev in events:
                    if fd == pidfd:
                        continue
                    if self.pending and fd == self.copies.get(0, -1):
                        self._feed(poll)  # room, or an error the write will tell
                    if ev & ~select.POLLOUT:
                        self._copy(poll, fd)
        finally:
            if pidfd >= 0:
                os.close(pidfd)

    def restore(self) -> None:
        if self.raw is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, self.raw)
            self.raw = None

    def _copy(self, poll: Any, src: int) -> None:
        dst = self.copies.get(src)
        if dst is None:
            return
        try:
            data = os.read(src, 65536)
        except OSError:  # EIO: the terminal's last holder is gone
            data = b""
        if src == 0:
            if data:
                self.pending += data
                self._feed(poll)
            else:
                self.in_eof = True
                if not self.pending:
                    self._drop(poll, 0)
                else:  # the command's stdin closes once what is queued is written
                    self._pause_input(poll, True)
            return
        if not data:
            self._drop(poll, src)
            return
        try:
            while data:
                data = data[os.write(dst, data) :]
        except OSError:  # the reader is gone: the command sees EPIPE on its next write
            self._drop(poll, src)

    def _feed(self, poll: Any) -> None:
        """Write what the command's stdin (or terminal) takes now of the queued input."""
        import select

        dst = self.copies.get(0, -1)
        while self.pending and dst >= 0:
            try:
                sent = os.write(dst, self.pending)
            except BlockingIOError:
                break
            except OSError:  # the command closed its stdin: the rest goes nowhere
                self.pending.clear()
                self.in_eof = True
                break
            del self.pending[:sent]
        wait = bool(self.pending)
        if wait != self.out_wait and dst >= 0:
            self.out_wait = wait
            if dst == self.master and dst in self.copies:  # also read for the output
                poll.modify(dst, select.POLLIN | (select.POLLOUT if wait else 0))
            elif wait:
                poll.register(dst, select.POLLOUT)
            else:
                poll.unregister(dst)
        self._pause_input(poll, wait or self.in_eof)
        if self.in_eof and not self.pending:
            self._drop(poll, 0)

    def _pause_input(self, poll: Any, pause: bool) -> None:
        import select

        if pause and not self.in_paused:
            poll.unregister(0)
        elif not pause and self.in_paused and 0 in self.copies:
            poll.register(0, select.POLLIN)
        self.in_paused = pause

    def _drop(self, poll: Any, src: int) -> None:
        if src == 0 and self.out_wait:
            self.pending.clear()
            self.in_eof = True
            self._feed(poll)  # stops waiting for room, then drops fd 0 itself
            return
        if src == self.master >= 0 and self.out_wait:  # the terminal is gone: so is the input
            self.pending.clear()
            self.out_wait = False
        if self.copies.pop(src, None) is None:
            return
        if not (src == 0 and self.in_paused):
            poll.unregister(src)
        if src == 0:
            if self.stdin_w >= 0:
                os.close(self.stdin_w)  # the command sees the end of its input
                self.stdin_w = -1
        elif src != self.master:
            os.close(src)


def _is_null(fd: int) -> bool:
    """``fd`` is closed or /dev/null: nothing to protect, nothing to copy."""
    import stat

    try:
        st = os.fstat(fd)
    except OSError:
        return True
    if not stat.S_ISCHR(st.st_mode):
        return False
    return st.st_rdev == os.stat("/dev/null").st_rdev


def _same_file(a: int, b: int) -> bool:
    sa, sb = os.fstat(a), os.fstat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def main(spec: dict[str, Any]) -> int:
    global _report_fd
    if spec.get("detach"):  # the first half returns once the command runs, or says why not
        ready_r, ready_w = os.pipe()  # close-on-exec: the command's execve ends it
        if os.fork():
            os.close(ready_w)
            why = read_all(ready_r)
            if why:
                os.write(2, why)
                return 126
            return 0
        os.close(ready_r)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 2)  # our caller waits for our first half's stderr to end, not ours
        os.close(null)
        _report_fd = ready_w
    pid = spec["pid"]
    fds = [os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC) for ns in _NAMESPACES]
    mnt = fds.pop()  # joined by the command alone, after it has entered the cgroup
    cgns = os.open(f"/proc/{pid}/ns/cgroup", os.O_RDONLY | os.O_CLOEXEC)  # the same
    userns = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    if os.fstat(userns).st_ino != os.stat("/proc/self/ns/user").st_ino:
        L.setns(userns)  # rootless: the user owns it, so its root may join the rest
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    os.close(userns)
    for fd in fds:
        L.setns(fd)
        os.close(fd)
    if spec.get("tty") and spec.get("ctty"):  # the caller's terminal for us: its resizes
        _make_controlling(0)
    stdio = Stdio(spec)
    try:
        child = os.fork()
        if child == 0:
            _command(spec, mnt, cgns, stdio)
        os.close(mnt)
        os.close(cgns)
        if _report_fd > 2:  # the command's copy alone is left, until its execve
            os.close(_report_fd)
            _report_fd = 1
        for sig in (
            signal.SIGTERM,
            signal.SIGINT,
            signal.SIGHUP,
            signal.SIGQUIT,
            signal.SIGUSR1,
            signal.SIGUSR2,
        ):
            signal.signal(sig, lambda s, _f: os.kill(child, s))
        if stdio.console is not None:  # the caller's terminal's new size is the command's
            signal.signal(signal.SIGWINCH, lambda _s, _f: stdio.resize())
        else:
            signal.signal(signal.SIGWINCH, lambda s, _f: os.kill(child, s))
        stdio.in_parent()
        status = stdio.run(child)
    finally:
        stdio.restore()
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    journal = spec.get("journal")
    if journal:  # we are still in the host's mount namespace (only the command left it)
        from dockerlab.engine import events

        attrs = {"exitCode": str(code), **journal["attrs"]}
        events.append(journal["root"], "container", "exec_die", journal["id"], attrs)
    return code


if __name__ == "__main__":
    # First of all, before any namespace is joined: a non-dumpable process's /proc files
    # belong to root and ptrace_may_access() refuses a container without CAP_SYS_PTRACE. The
    # flag survives fork and ends at the command's execve, which makes it dumpable again.
    L.prctl(L.PR_SET_DUMPABLE, 0)
    try:
        code = main(read_spec(int(sys.argv[2])))
    except Exception as exc:  # noqa: BLE001 - e.g. the container ended meanwhile: no traceback
        fail(
            126,
            (exc.strerror.lower() if isinstance(exc, OSError) and exc.strerror else str(exc))
            or type(exc).__name__,
        )
    sys.exit(code)
