"""A warm parent for monitors, like multiprocessing's forkserver.

Starting a fresh interpreter and importing the monitor costs ~25 ms per container. A process
that starts containers (a CLI, a Jupyter kernel) starts this server once instead: a lean
``python -I -S`` that has imported the monitor and its parts, and forks a monitor for each
request. The caller never forks (a kernel is multi-threaded); the server is single-threaded,
so forking it is safe. It detaches at once and ends when its caller's socket closes.

A request is ``marshal`` of ``{"root", "run", "cid", "want", "spec"}`` with the sync pipe, the
spec pipe (when ``spec``) and the attach socket (when ``want``) passed as SCM_RIGHTS. The server
runs with an empty environment (see :func:`dockerlab.engine.runtime._spawn`).
"""

from __future__ import annotations

import marshal
import os
import signal
import socket
import sys

if __name__ == "__main__":  # started with -I -S: make the package importable, nothing more
    sys.path.insert(0, sys.argv[1])

from dockerlab.engine import (  # noqa: E402,F401  (warm imports)
    cgroups,  # noqa: E402
    monitor,
    process,
    rootfs,
)

if cgroups.version() == 2:  # the one the monitor will open, imported once here
    from dockerlab.engine.cgroups import bpf, devices, v2  # noqa: E402,F401

    bpf.encoded(devices.DEFAULT_RULES)  # the default device filter, built once for all
else:
    from dockerlab.engine.cgroups import v1  # noqa: E402,F401


def serve(ctl: socket.socket) -> None:
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctl, 1 << 16, 3)
        except OSError:
            return
        if not msg:
            return  # our caller has gone
        req = marshal.loads(msg)
        fds = list(fds)
        sync = fds.pop(0)
        spec = fds.pop(0) if req["spec"] else -1
        attach = fds.pop(0) if req["want"] else None
        pid = os.fork()
        if pid == 0:  # never returns into serve(), whatever is raised
            try:
                ctl.close()
                os.setsid()
                monitor.run(req["root"], req["cid"], sync, spec, attach, req["want"],
                            req.get("run"))
            finally:
                os._exit(0)
        for fd in (sync, spec, attach):
            if fd is not None and fd >= 0:
                os.close(fd)
        os.waitpid(pid, 0)  # monitor.run forks and this first half exits at once


def main(argv: list[str]) -> None:
    ctl = socket.socket(fileno=int(argv[2]))
    os.set_inheritable(ctl.fileno(), False)
    if os.fork():  # the caller reaps this parent at once
        os._exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a kernel's interrupt is not for us
    serve(ctl)


if __name__ == "__main__":
    main(sys.argv)
