"""A warm parent for monitors, shared by every caller of one state root.

Starting a fresh interpreter and importing the monitor costs ~30 ms; a CLI used to pay it on
every command. This server is a lean ``python -I -S`` that has imported the monitor and its
parts and forks a monitor for each request. It outlives the command that started it, serves
every caller of its state root (CLIs, Jupyter kernels) and exits after an idle period. The
callers never fork (a kernel is multi-threaded); the server is single-threaded, so forking it
is safe. See :mod:`dockerlab.engine.runtime.spawn` for how callers find, start and replace it, and
DESIGN.md ("Starting containers fast") for why.

It is started as ``python -I -S forkserver.py PKGDIR LISTEN_FD SOCKET INODE IDLE``: the
caller has bound and listened on SOCKET (a ``SOCK_SEQPACKET`` unix socket, mode 0600 in the
0700 runtime folder) and passes it, so callers can connect before the server runs. It has an
empty environment, ``/`` as its folder and the umask Docker gives containers.

A request is one message: ``marshal`` of ``{"root", "run", "cid", "want", "spec"}`` with the
sync pipe, the spec pipe (when ``spec``) and the attach socket (when ``want``) as SCM_RIGHTS.
The server answers ``k`` before it forks the monitor (so a caller that got no answer knows no
monitor was started and may try again), or ``s`` when it is stale (its code changed on disk
since it started: it has already retired). Peers other than root or its own user are refused.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # started with -I -S: make the package importable, nothing more
    if os.fork():  # detach at once: the caller reaps this first half without waiting
        os._exit(0)
    sys.path.insert(0, sys.argv[1])

import marshal  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402

from dockerlab.engine.network import dns, endpoint, etcfiles  # noqa: E402,F401  (the bridge's)
from dockerlab.engine.runtime import (  # noqa: E402,F401  (warm imports)
    cgroups,
    linux,
    monitor,
    process,
    rootfs,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

if cgroups.version() == 2:  # the one the monitor will open, imported once here
    from dockerlab.engine.runtime.cgroups import bpf, devices, v2  # noqa: E402,F401

    bpf.encoded(devices.DEFAULT_RULES)  # the default device filter, built once for all
else:
    from dockerlab.engine.runtime.cgroups import v1  # noqa: E402,F401

_UCRED = struct.Struct("3i")  # pid, uid, gid
_CHECK = 2.0  # seconds between looks at our socket file when idle


def _fingerprint() -> dict[str, tuple[int, int, int]]:
    """What our code is on disk: an upgraded or edited tree makes us stale."""
    out = {}
    for name, mod in list(sys.modules.items()):
        path = getattr(mod, "__file__", None)
        if name.startswith("dockerlab") and path:
            try:
                st = os.stat(path)
            except OSError:
                out[path] = (0, 0, 0)
            else:
                out[path] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out


def _peer_allowed(conn: socket.socket) -> bool:
    _pid, uid, _gid = _UCRED.unpack(
        conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    )
    return uid in (0, os.geteuid())


class Server:
    def __init__(self, listener: socket.socket, path: str, inode: int, idle: float) -> None:
        self.listener, self.path, self.inode, self.idle = listener, path, inode, idle
        self.code = _fingerprint()
        self.poll = select.epoll()
        self.conns: dict[int, socket.socket] = {}
        self.poll.register(listener.fileno(), select.EPOLLIN)
        self.last = time.monotonic()

    def ours(self) -> bool:
        """Is SOCKET still the file we listen on (not removed, not replaced)?"""
        try:
            return os.lstat(self.path).st_ino == self.inode
        except OSError:
            return False

    def retire(self, last_word: socket.socket | None = None) -> None:
        """Stop taking requests: new callers find no socket and start a fresh server; one
        that connected meanwhile gets no answer, so it tries again."""
        if self.ours():
            try:
                os.unlink(self.path)
            except OSError:
                pass
        if last_word is not None:  # "stale": its caller starts a fresh server
            try:
                last_word.send(b"s", socket.MSG_NOSIGNAL)
            except OSError:
                pass
        self.leave()

    def leave(self) -> None:
        """Exit, and take the callers' start lock with us (spawn.start_lock's name): removed
        under the lock, so a caller starting a server meanwhile keeps one (atomic.locked)."""
        from dockerlab.engine.atomic import remove_lock

        try:
            remove_lock(self.path[: -len(".sock")] + ".lock")
        except OSError:
            pass
        raise SystemExit(0)

    def serve(self) -> None:
        while True:
            events = self.poll.poll(min(self.idle, _CHECK))
            if not events:
                if not self.ours():  # removed (its state root went) or replaced
                    self.leave()
                if time.monotonic() - self.last >= self.idle:
                    self.retire()
                continue
            self.last = time.monotonic()
            for fd, _ in events:
                if fd == self.listener.fileno():
                    self.accept()
                elif fd in self.conns:
                    self.on_request(self.conns[fd])

    def accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        if not _peer_allowed(conn):
            conn.close()
            return
        self.conns[conn.fileno()] = conn
        self.poll.register(conn.fileno(), select.EPOLLIN)

    def drop(self, conn: socket.socket) -> None:
        self.conns.pop(conn.fileno(), None)
        self.poll.unregister(conn.fileno())
        conn.close()

    def on_request(self, conn: socket.socket) -> None:
        try:
            msg, fds, flags, _ = socket.recv_fds(conn, 1 << 16, 3)
        except OSError:
            msg, fds, flags = b"", [], 0
        fds = list(fds)
        try:
            if not msg or flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC):
                self.drop(conn)
                return
            if _fingerprint() != self.code:
                self.retire(conn)
            req = marshal.loads(msg)
            expected = 1 + bool(req["spec"]) + bool(req["want"])
            if len(fds) != expected:
                self.drop(conn)
                return
            try:
                conn.send(b"k", socket.MSG_NOSIGNAL)
            except OSError:  # the caller is gone: start nothing for it
                self.drop(conn)
                return
            self.fork(req, fds)
        finally:
            for fd in fds:
                os.close(fd)

    def fork(self, req: dict[str, Any], fds: list[int]) -> None:
        sync = fds[0]
        spec = fds[1] if req["spec"] else -1
        attach = fds[-1] if req["want"] else None
        try:
            pid = os.fork()
        except OSError as exc:
            from dockerlab.engine.basics import dumps

            msg = {"ok": False, "code": 125, "message": f"cannot start the monitor: {exc}"}
            try:
                os.write(sync, dumps(msg).encode() + b"\n")
            except OSError:
                pass
            return
        if pid == 0:  # never returns into serve(), whatever is raised
            try:
                # Nothing of the server or of other callers: monitor.run closes every fd
                # but these three, and each request's fds were closed after its fork.
                os.setsid()
                monitor.run(
                    req["root"], req["cid"], sync, spec, attach, req["want"], req.get("run")
                )
            finally:
                os._exit(0)
        os.waitpid(pid, 0)  # monitor.run forks and this first half exits at once


def reset_inherited() -> None:
    """What the first caller's process would hand every later caller's monitors and
    containers, set back to what the system gives a daemon: the resource limits of PID 1
    (a shell's ``ulimit -n 256`` or a kernel's raised core limit is not the engine's), nice
    0 and the normal scheduling policy, PID 1's CPUs, and an OOM score adjustment of 0
    (Docker's for containers). Without CAP_SYS_RESOURCE a hard limit (and an OOM score)
    the caller lowered cannot be raised again: then each soft limit is PID 1's or as near
    as the hard one allows. The cgroup stays the caller's: see DESIGN.md."""
    import resource

    inf = resource.RLIM_INFINITY
    for name in dir(resource):
        if not name.startswith("RLIMIT_"):
            continue
        which = getattr(resource, name)
        try:
            soft, hard = resource.prlimit(1, which)
            try:
                resource.setrlimit(which, (soft, hard))
            except ValueError:  # "not allowed to raise maximum limit": keep ours
                ours = resource.getrlimit(which)[1]
                if ours != inf and (soft == inf or soft > ours):
                    soft = ours
                resource.setrlimit(which, (soft, ours))
        except (OSError, ValueError):
            pass  # a limit this kernel lacks
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        os.setpriority(os.PRIO_PROCESS, 0, 0)
        os.sched_setaffinity(0, os.sched_getaffinity(1))
    except OSError:
        pass
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("0")
    except OSError:
        pass


def main(argv: list[str]) -> None:
    listener = socket.socket(fileno=int(argv[2]))
    os.set_inheritable(listener.fileno(), False)
    os.chdir("/")  # pin no folder of the caller's (a mount point it may want to unmount)
    os.umask(0o022)  # Docker's for containers; not the first caller's
    reset_inherited()
    if argv[6:7] == ["rootless"]:  # the namespace holder of this user's containers
        from dockerlab.engine import rootless
        from dockerlab.engine.network import usermode

        try:  # the user's namespaces: a live holder's (usermode), else new ones
            usermode.enter(linux, os.path.dirname(argv[3]))
        except (OSError, rootless.Refused) as exc:  # told to the caller, who gets no answer
            with open(rootless.error_file(argv[3]), "w") as f:
                f.write(str(exc))
            sys.exit(1)
        try:
            os.unlink(rootless.error_file(argv[3]))  # an earlier server's
        except FileNotFoundError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a kernel's interrupt is not for us
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    Server(listener, argv[3], int(argv[4]), float(argv[5])).serve()


if __name__ == "__main__":
    main(sys.argv)
