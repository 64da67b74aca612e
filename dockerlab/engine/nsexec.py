"""``exec``'s helper: joins a running container's cgroup and namespaces, then runs a command.

Started as ``python -I -S nsexec.py PKGDIR SPEC_JSON`` with the caller's stdio (or pipes).
It exits with the command's exit code (128+N for a signal), as ``docker exec`` does.
"""

from __future__ import annotations

import json
import os
import signal
import sys

if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])

from dockerlab.engine import linux as L

_NAMESPACES = ("ipc", "uts", "net", "pid", "mnt")


def main(spec: dict) -> int:
    from dockerlab.engine import process
    from dockerlab.engine.cgroups import open_cgroup

    if spec.get("detach") and os.fork():
        return 0
    pid = spec["pid"]
    fds = [os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC) for ns in _NAMESPACES]
    cgroup = open_cgroup(spec["cgroup"])
    mnt = fds.pop()  # joined by the command alone, after it has entered the cgroup
    cgns = os.open(f"/proc/{pid}/ns/cgroup", os.O_RDONLY | os.O_CLOEXEC)  # the same
    for fd in fds:
        L.setns(fd)
        os.close(fd)
    child = os.fork()
    if child == 0:
        try:
            cgroup.add(0)  # "0" is the writer itself: only the command counts, not us
            L.setns(cgns)  # /proc/self/cgroup shows "/" as in the container's first process
            if spec.get("ctty"):  # a terminal made for us alone: make it ours
                import fcntl
                import termios

                os.setsid()
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            L.setns(mnt)
            process.run(spec["user"], spec["cwd"], spec["env"], spec["cmd"], spec.get("security"))
        except process.StartFailure as exc:
            os.write(2, f"OCI runtime exec failed: exec failed: unable to start container "
                        f"process: {exc}: unknown\n".encode())
            os._exit(exc.code)
        os._exit(126)
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
    sys.exit(main(json.loads(sys.argv[2])))
