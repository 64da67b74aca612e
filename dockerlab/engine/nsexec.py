"""``exec``'s helper: joins a running container's cgroup and namespaces, then runs a command.

Started as ``python -I -S nsexec.py PKGDIR SPEC_FD`` with an empty environment, ``/`` as its
folder and nothing open but the command's stdio and SPEC_FD, a pipe that carries the spec
(``marshal`` of a dict, read whole). It exits with the command's exit code (128+N for a
signal), or 126 when the command could not start, as ``docker exec`` does.

Until it calls ``execve`` the helper is the host's Python, and the half that enters the
container's PID namespace is visible in the container's ``/proc``. The lessons of runc's
CVE-2019-5736 and CVE-2024-21626 apply: the helper is non-dumpable before it joins anything (so
no process in the container may open its ``/proc/PID/exe``, ``environ``, ``fd/*`` or
``ptrace`` it), its argv and environment hold nothing of the caller's or the spec's, and the
command starts in the container's root with no descriptor of ours left open.
"""

from __future__ import annotations

import os
import signal
import sys

if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])

from dockerlab.engine import linux as L

_NAMESPACES = ("ipc", "uts", "net", "pid", "mnt")


def read_spec(fd: int) -> dict:
    """The whole spec from the pipe (``marshal``: builtin, no ``json``/``re`` imports)."""
    import marshal

    raw = b""
    while chunk := os.read(fd, 65536):
        raw += chunk
    os.close(fd)
    return marshal.loads(raw)


def fail(code: int, message: str, daemon: bool = False) -> None:
    """Docker's words for a command that did not start; never fails to encode."""
    if not daemon:
        message = (f"OCI runtime exec failed: exec failed: unable to start container process: "
                   f"{message}: unknown")
    try:
        os.write(2, message.encode("utf-8", "replace") + b"\n")
    except OSError:
        pass  # nobody listens any more: the exit code still tells
    os._exit(code)


def _command(spec: dict, mnt: int) -> None:
    """The child: enter the mount namespace and become the command. Never returns."""
    from dockerlab.engine import process
    from dockerlab.engine.cgroups import open_cgroup

    try:
        open_cgroup(spec["cgroup"]).add(0)  # "0": the writer, so only the command counts
        if spec.get("ctty"):  # a terminal made for us alone: make it ours
            import fcntl
            import termios

            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        L.setns(mnt)  # also moves our root and folder to the container's root
        os.closerange(3, _max_fd())  # nothing of ours for a cwd like /proc/self/fd/N to find
        env = process.become(spec["user"], spec["cwd"], spec["env"], make_cwd=False)
        process.execute(spec["cmd"], env)
    except process.StartFailure as exc:
        # Docker's exec: 126 for any start failure; a user the daemon cannot find unwrapped.
        fail(126, str(exc), daemon=exc.code == 125 and str(exc).startswith("unable to find"))
    except BaseException as exc:  # noqa: BLE001 - whatever it is, report it and end here
        fail(126, str(exc) or type(exc).__name__)
    finally:
        os._exit(126)


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        return 1 << 20


def main(spec: dict) -> int:
    if spec.get("detach") and os.fork():
        return 0
    pid = spec["pid"]
    fds = [os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC) for ns in _NAMESPACES]
    mnt = fds.pop()  # joined by the command alone, after it has entered the cgroup
    for fd in fds:
        L.setns(fd)
        os.close(fd)
    child = os.fork()
    if child == 0:
        _command(spec, mnt)
    os.close(mnt)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                signal.SIGUSR2, signal.SIGWINCH):
        signal.signal(sig, lambda s, _f: os.kill(child, s))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    # First of all, before any namespace is joined: a non-dumpable process's /proc files
    # belong to root and ptrace_may_access() refuses a container without CAP_SYS_PTRACE. The
    # flag survives fork and ends at the command's execve, which makes it dumpable again.
    L.prctl(L.PR_SET_DUMPABLE, 0)
    sys.exit(main(read_spec(int(sys.argv[2]))))
