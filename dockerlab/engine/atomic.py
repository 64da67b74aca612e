"""Crash-safe files: atomic writes and inter-process locks.

Every durable write goes to a temp file in the same folder, is fsynced, then renamed over
the target, so a reader sees the old or the new content, never half of one. State shared
between processes (shells, notebook kernels, monitors) is guarded by ``flock`` locks.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from typing import Any, Iterator


def write_bytes(path: str, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically (temp file, fsync, rename, fsync dir)."""
    folder = os.path.dirname(path) or "."
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.rename(tmp, path)
    fsync_dir(folder)


def write_json(path: str, obj: Any, mode: int = 0o644) -> None:
    write_bytes(path, json.dumps(obj, separators=(",", ":")).encode(), mode)


def read_json(path: str) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())


def fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(path: str, shared: bool = False) -> Iterator[int]:
    """Hold an ``flock`` on ``path`` (created if missing) for the ``with`` block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing drops the lock
