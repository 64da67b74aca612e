"""Crash-safe files: atomic writes and inter-process locks.

Every durable write goes to a temp file in the same folder, is fsynced, then renamed over
the target, so a reader sees the old or the new content, never half of one. State shared
between processes (shells, notebook kernels, monitors) is guarded by ``flock`` locks.
"""

from __future__ import annotations

import fcntl
import os

TYPE_CHECKING = False  # typing itself costs ~5 ms on the monitor's start path
if TYPE_CHECKING:
    from typing import Any


def write_bytes(path: str, data: bytes, mode: int = 0o644, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (temp file, fsync, rename, fsync dir).

    ``durable=False`` keeps the atomic rename but skips the fsyncs, for records that are
    re-derived from the system after a crash anyway."""
    folder = os.path.dirname(path) or "."
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    except BaseException as exc:
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = tmp  # "write …/.state.json.1.tmp: no space left on device"
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.rename(tmp, path)
    if durable:
        fsync_dir(folder)


def write_new(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write a file that nobody can see yet (inside a folder renamed into place later)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as exc:
        if exc.filename is None:
            exc.filename = path
        raise
    finally:
        os.close(fd)


def write_json(path: str, obj: Any, mode: int = 0o644, durable: bool = True) -> None:
    import json  # imported here: the monitor writes JSON without the json module

    write_bytes(path, json.dumps(obj, separators=(",", ":")).encode(), mode, durable)


def read_json(path: str) -> Any:
    import json

    with open(path, "rb") as f:
        return json.loads(f.read())


def fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class locked:
    """``with locked(path):`` holds an ``flock`` on ``path`` (created if missing).

    ``removable``: the file may be removed by :func:`remove_lock` (which takes the lock to do
    it). A waiter then wakes holding the removed file, so it checks that ``path`` is still
    the file it locked and, if not, locks the new one.

    A class rather than a ``contextlib`` generator: it is on the monitor's start path.
    """

    def __init__(self, path: str, shared: bool = False, removable: bool = False) -> None:
        self.path = path
        self.shared = shared
        self.removable = removable
        self.fd = -1

    def __enter__(self) -> int:
        while True:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(self.fd, fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)
                if not self.removable or _same_file(self.fd, self.path):
                    return self.fd
            except BaseException:
                os.close(self.fd)
                raise
            os.close(self.fd)  # removed while we waited: lock the one there now

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing drops the lock


def _same_file(fd: int, path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def remove_lock(path: str) -> None:
    """Remove the lock file ``path`` of a :class:`locked` ``removable`` lock, holding it, so
    no holder ever shares it with a process that locked a new file at ``path``."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if _same_file(fd, path):
            os.unlink(path)
    finally:
        os.close(fd)
