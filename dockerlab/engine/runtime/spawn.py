"""Starting a container's monitor, and talking to it once it runs.

The caller (a CLI, or a multi-threaded Jupyter kernel) never forks: the state root's
forkserver (a warm ``python -I -S`` shared by all callers, started on demand, see
:mod:`dockerlab.engine.runtime.forkserver`) forks each monitor, and the caller reads one JSON report
from a pipe.
"""

from __future__ import annotations

import _socket  # socket.py's enums and selectors cost the CLI ~2 ms; the C module suffices
import json
import marshal
import os
import struct
import sys

from dockerlab.engine.paths import Paths
from dockerlab.engine.runtime import streams
from dockerlab.errors import CommandNotFound, CommandNotInvokable, ContainerStartError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_FORKSERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forkserver.py")
# PKGDIR for the helper scripts: the folder that holds dockerlab/ (engine/runtime/ is 3 below)
_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(_FORKSERVER))))


def _spawn(script: str, args: list[str], pass_fds: list[int]) -> int:
    """posix_spawn ``python -I -S script PKGDIR args…`` in a new session with ``pass_fds``
    (no fork of the caller: safe from a threaded kernel, and no subprocess import).

    With an empty environment: each container's first process is forked from it, and is the
    host's Python with this environment until its ``execve``; nothing of the caller's (a
    token in a teacher's shell) belongs there."""
    # DUP2 of an fd onto itself clears its close-on-exec flag in the child only.
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0),
        (os.POSIX_SPAWN_DUP2, 0, 1),
        (os.POSIX_SPAWN_DUP2, 0, 2),
        *((os.POSIX_SPAWN_DUP2, fd, fd) for fd in pass_fds),
    ]
    return os.posix_spawn(
        sys.executable,
        [sys.executable, "-I", "-S", script, _PKG_PARENT, *args],
        {},
        file_actions=actions,
        setsid=True,
    )


_IDLE = 300.0  # seconds a forkserver waits for work before it exits
_ANSWER_WITHIN = 60.0  # seconds; a server answers before it forks, so only a stuck one waits
_TAG = ""


def _tag() -> str:
    """Which code a forkserver runs: this package's folder, interpreter and version (the
    server itself notices a tree edited in place, see
    :mod:`dockerlab.engine.runtime.forkserver`)."""
    global _TAG
    if not _TAG:
        from binascii import crc32  # zlib's, without loading zlib

        from dockerlab import __version__

        key = f"{_PKG_PARENT}\0{sys.executable}\0{__version__}".encode()
        if _rootless():  # its own server (in a user namespace), never root mode's
            key += b"\0rootless"
        _TAG = f"{crc32(key):08x}"
    return _TAG


def _rootless() -> bool:
    return os.geteuid() != 0 or os.environ.get("DOCKERLAB_ROOTLESS") == "1"


def start_lock(socket_path: str) -> str:
    """The lock under which a caller starts the server of ``socket_path``."""
    return socket_path[: -len(".sock")] + ".lock"


def _socket_path(paths: Paths) -> str:
    return os.path.join(paths.run, f"forkserver-{_tag()}.sock")


def _dial(path: str) -> _socket.socket | None:
    """A connection to the forkserver at ``path``; None if nobody listens there."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    try:
        sock.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    except BaseException:
        sock.close()
        raise
    uid = struct.unpack("3i", sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12))[1]
    if uid != os.geteuid():  # not ours: never hand our pipes to it
        sock.close()
        raise ContainerStartError(f"the forkserver socket {path} belongs to uid {uid}")
    return sock


def _send_fds(sock: _socket.socket, msg: bytes, fds: list[int]) -> None:
    """``socket.send_fds`` of one message, on the C module's socket."""
    rights = struct.pack(f"{len(fds)}i", *fds)
    sock.sendmsg([msg], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)], _socket.MSG_NOSIGNAL)


def _private_dir(folder: str) -> None:
    """The runtime folder: ours and 0700, or we refuse to put a socket in it."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    st = os.lstat(folder)
    if st.st_uid != os.geteuid() or not os.path.isdir(folder) or os.path.islink(folder):
        raise ContainerStartError(f"the runtime folder {folder} is not ours")
    if st.st_mode & 0o077:
        os.chmod(folder, 0o700)


class _ForkServer:
    """The forkserver of each state root (see :mod:`dockerlab.engine.runtime.forkserver`), shared by
    every process that starts containers there: found by its socket in the runtime folder,
    started on demand, replaced when found dead or stale."""

    def __init__(self) -> None:
        import _thread

        self.ready: dict[str, _socket.socket] = {}  # a connection made ahead of a request
        self.pids: list[int] = []  # servers' first halves, reaped once they have forked
        self.lock = _thread.allocate_lock()

    def prestart(self, paths: Paths) -> None:
        """Make sure a server runs (starting one overlaps the caller's own work) and keep a
        connection to it for the next request."""
        path = _socket_path(paths)
        with self.lock:
            if path not in self.ready:  # one is kept: a dead one is replaced at the request
                self.ready[path] = _dial(path) or self._start(paths, path)

    def _start(self, paths: Paths, path: str) -> _socket.socket:
        """Under the folder's start lock: connect to a server another process has started
        meanwhile, or bind a fresh socket over the stale one and start a server on it."""
        from dockerlab.engine.atomic import locked

        _private_dir(paths.run)
        # removable: the server removes it when it exits (forkserver.Server.retire)
        with locked(start_lock(path), removable=True):
            sock = _dial(path)
            if sock is not None:
                return sock
            tmp = f"{path}.{os.getpid()}"
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
            try:
                listener.bind(tmp)
                os.chmod(tmp, 0o600)
                listener.listen(128)
                inode = os.lstat(tmp).st_ino
                os.rename(tmp, path)  # replaces a stale socket file atomically
                idle = os.environ.get("DOCKERLAB_FORKSERVER_IDLE") or str(_IDLE)
                self.pids.append(
                    _spawn(
                        _FORKSERVER,
                        [str(listener.fileno()), path, str(inode), idle]
                        + (["rootless"] if _rootless() else []),
                        [listener.fileno()],
                    )
                )
            finally:
                listener.close()
            sock = _dial(path)  # queued in the backlog until the server accepts it
        if sock is None:
            raise ContainerStartError(
                "the container's monitor failed to start: its forkserver did not listen"
            )
        return sock

    def request(self, paths: Paths, req: dict[str, Any], fds: list[int]) -> None:
        """Have the server fork a monitor; returns once it has said it will."""
        path = _socket_path(paths)
        msg = marshal.dumps(req)
        with self.lock:
            for _attempt in range(4):  # a server that died, retired or went stale: anew
                sock = self.ready.pop(path, None) or _dial(path) or self._start(paths, path)
                sock.settimeout(_ANSWER_WITHIN)
                try:
                    _send_fds(sock, msg, fds)
                    answer = sock.recv(16)
                except TimeoutError:  # alive but stuck: it may still act, so no retry
                    raise ContainerStartError(
                        "the container's monitor failed to start: its forkserver did not answer"
                    ) from None
                except OSError:
                    answer = b""  # no answer: no monitor was forked, so try again
                finally:
                    sock.close()
                if answer == b"k":
                    return
        if _rootless():  # a server that could not make its user namespace says why
            from dockerlab.engine import rootless

            told = rootless.told_error(path)
            if told:
                raise ContainerStartError(f"rootless mode: {told}")
        raise ContainerStartError(
            "the container's monitor failed to start: its forkserver did not answer"
        )

    def reap(self) -> None:
        for pid in list(self.pids):
            try:
                if not os.waitpid(pid, os.WNOHANG)[0]:
                    continue
            except ChildProcessError:
                pass
            self.pids.remove(pid)


_FORKSERVER_PROCESS = _ForkServer()


def prestart(where: Paths | str | None = None) -> None:
    """Start the state root's forkserver now if none runs (best effort: the request that
    follows reports what fails)."""
    if os.geteuid() != 0 and not _rootless():
        return
    try:
        _FORKSERVER_PROCESS.prestart(where if isinstance(where, Paths) else Paths.of(where))
    except (OSError, ContainerStartError):
        pass


def spawn_monitor(
    paths: Paths, cid: str, config: dict[str, Any], attach: str = ""
) -> tuple[dict[str, Any], streams.Attachment | None]:
    """Start ``cid``'s monitor; returns its report and, if asked, an attachment made before
    the container's first output (so nothing is missed). ``attach`` names the streams the
    attachment wants: a string of ``i`` (stdin), ``o`` (stdout) and ``e`` (stderr)."""
    sync_r, sync_w = os.pipe()
    # The config (marshal: the monitor reads it without json) in a memfd rather than a pipe:
    # no size limit (a big Env), and nothing blocks whoever reads it last.
    spec_fd = os.memfd_create("spec", os.MFD_CLOEXEC)
    try:
        view = memoryview(marshal.dumps(config))
        while view:
            view = view[os.write(spec_fd, view) :]
        os.lseek(spec_fd, 0, os.SEEK_SET)  # the monitor shares this offset
    except BaseException:
        os.close(spec_fd)
        os.close(sync_r)
        os.close(sync_w)
        raise
    ours = theirs = None
    fds = [sync_w, spec_fd]
    if attach:
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        fds.append(theirs.fileno())
    try:
        _FORKSERVER_PROCESS.request(
            paths,
            {"root": paths.root, "run": paths.run, "cid": cid, "want": attach, "spec": True},
            fds,
        )
    except BaseException:
        os.close(sync_r)
        if ours is not None:
            ours.close()
        raise
    finally:  # the server holds its own copies now
        os.close(sync_w)
        os.close(spec_fd)
        if theirs is not None:
            theirs.close()
    raw = b""
    try:
        while not raw.endswith(b"\n") and (chunk := os.read(sync_r, 65536)):
            raw += chunk
    finally:
        os.close(sync_r)
        _FORKSERVER_PROCESS.reap()
    report = (
        json.loads(raw)
        if raw
        else {"ok": False, "code": 125, "message": "the container's monitor failed to start"}
    )
    if not report.get("ok"):
        if ours is not None:
            ours.close()
        raise start_error(report)
    return report, streams.Attachment(ours) if ours is not None else None


_UNWRAPPED = (
    "unable to find user ",
    "unable to find group ",
    "Unable to find group ",  # --group-add
    "uids and gids must be in range",
    "failed to create shim task: ",  # already in runc's words (rlimits, sysctls)
    "error while mounting volume ",
    "driver failed programming external connectivity ",  # the daemon's, as Docker's
    "Address already in use",  # --ip taken (user networks)
)


def start_error(report: dict[str, Any]) -> ContainerStartError:
    code = report.get("code", 125)
    message = report.get("message", "")
    if message.startswith(_UNWRAPPED):
        text = message  # Docker's daemon looks the user up itself: no runtime words around
    else:
        text = (
            "failed to create task for container: unable to start container process: "
            f"{message}: unknown"
        )
    cls = {127: CommandNotFound, 126: CommandNotInvokable}.get(code, ContainerStartError)
    return cls(text)


def connect(paths: Paths, cid: str) -> streams.Attachment | None:
    """Attach to a running container's monitor; None if it has already gone."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(os.path.join(paths.run, cid, "attach.sock"))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    return streams.Attachment(sock)
