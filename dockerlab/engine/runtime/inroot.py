"""Paths inside a container root, resolved and opened through file descriptors.

The one resolver of the engine (``cp``, ``export``, build COPY/ADD destinations, volume
copy-up, bind-mount targets). A container may rename, replace and re-link its files while the
host works on them (the CVE-2018-15664 class), so a host path string is never trusted after a
check: every component is opened relative to a directory descriptor that is already inside the
root, and what the host reads or writes afterwards goes through the descriptor it got.

Two ways to resolve, same answer:

* ``openat2(root_fd, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`` (Linux 5.6): the kernel
  walks the path with ``root_fd`` as ``/`` (``..`` and absolute links stay inside; /proc magic
  links are refused). Used when the container has no folder mounted inside it (file mounts
  like /etc/hosts are swapped in afterwards: a file cannot be walked through).
* a component walk: each component opened ``O_PATH | O_NOFOLLOW`` relative to the previous
  one, symlinks read from the descriptor of the link itself (``readlinkat(fd, "")``) and
  re-walked from the root, ``..`` popped from our own stack of descriptors (never asked of
  the kernel). It maps mount destinations (volumes, binds) to their host sources on the way,
  as the kernel would inside the container, and is the fallback without ``openat2``.

The host sources of mounts are trusted host paths (the engine's volumes, the user's ``-v``).
"""

from __future__ import annotations

import ctypes
import errno
import os
import posixpath
import stat
from collections.abc import Iterable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Self

__all__ = ["HAVE_OPENAT2", "Entry", "Root", "join", "openat2"]

_SYS_OPENAT2 = 437  # the same number on every architecture (unified syscall table)
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10
MAX_HOPS = 40  # Linux's MAXSYMLINKS
_PATH = os.O_PATH | os.O_CLOEXEC


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def openat2(dir_fd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """The ``openat2`` syscall; raises ``OSError``. ``EAGAIN`` (a rename raced a ``..``
    lookup) is retried a bounded number of times, as the kernel asks."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    raw = os.fsencode(path)
    for _ in range(128):
        fd = _libc.syscall(
            _SYS_OPENAT2,
            ctypes.c_int(dir_fd),
            ctypes.c_char_p(raw),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err not in (errno.EINTR, errno.EAGAIN):
            raise OSError(err, os.strerror(err), path)
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN), path)


def _probe() -> bool:
    try:
        os.close(openat2(-100, "/", os.O_PATH, RESOLVE_NO_MAGICLINKS))  # AT_FDCWD
        return True
    except OSError:  # ENOSYS (old kernel), EPERM (a seccomp filter without it)
        return False


HAVE_OPENAT2 = _probe()


class Entry:
    """A resolved entry: an ``O_PATH`` descriptor of it (a final symlink is the link itself
    unless followed), its container path, its lstat, and the mount destination it is in."""

    __slots__ = ("fd", "mount", "path", "st")

    def __init__(self, fd: int, path: str, st: os.stat_result, mount: str | None) -> None:
        self.fd, self.path, self.st, self.mount = fd, path, st, mount

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)

    def open(self, flags: int = os.O_RDONLY) -> int:
        """A real descriptor of the same inode (reopened through our own fd, never by
        path). Only folders and regular files: a device or fifo is never opened."""
        if not (stat.S_ISREG(self.st.st_mode) or stat.S_ISDIR(self.st.st_mode)):
            raise OSError(errno.EINVAL, "not a regular file or folder", self.path)
        return os.open(f"/proc/self/fd/{self.fd}", flags | os.O_CLOEXEC | os.O_NOCTTY)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


class Root:
    """A container root folder (opened once) and its mounts (container dest → host source)."""

    def __init__(self, root: str, mounts: Iterable[tuple[str, str]] = ()) -> None:
        self.fd = os.open(root, _PATH | os.O_DIRECTORY)
        self.path = os.readlink(f"/proc/self/fd/{self.fd}")
        self.mounts = {posixpath.normpath("/" + d.lstrip("/")): s for d, s in mounts}
        self._dir_mounts = any(os.path.isdir(s) for s in self.mounts.values())

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mount_of(self, ctr_path: str) -> str | None:
        """The destination of the mount that holds ``ctr_path`` (the deepest), or None."""
        best = None
        for dest in self.mounts:
            if (ctr_path == dest or ctr_path.startswith(dest.rstrip("/") + "/")) and (
                best is None or len(dest) > len(best)
            ):
                best = dest
        return best

    # ---- resolving -------------------------------------------------------------------------
    def resolve(self, path: str, follow: bool = True) -> Entry:
        """The entry ``path`` names inside the root (``/`` is the root, ``..`` stops there),
        its final symlink followed only with ``follow``. Raises ``FileNotFoundError``,
        ``NotADirectoryError`` or ``OSError(ELOOP)``."""
        if HAVE_OPENAT2 and not self._dir_mounts:
            entry = self._kernel(path, follow)
            if entry is not None:
                return entry
        return self._walk(path, follow, None)

    def mkdirs(
        self,
        path: str,
        mode: int = 0o755,
        owner: tuple[int, int] | None = None,
        replace: bool = False,
    ) -> Entry:
        """The folder ``path``, its missing folders created (``mode``, ``owner``), symlinks
        on the way followed inside the root; with ``replace`` a non-folder in the way is
        removed first (COPY's rule), otherwise it is ``NotADirectoryError``."""
        try:
            entry = self.resolve(path)
            if entry.is_dir:
                return entry
            entry.close()
        except FileNotFoundError:
            pass
        except NotADirectoryError:
            if not replace:
                raise
        return self._walk(path, True, (mode, owner, replace))

    def parent(self, path: str) -> tuple[Entry, str]:
        """(the folder holding ``path``'s last component, that component): the parent's
        links followed, the last component untouched (Docker's ``ResolvePath``)."""
        parts = _parts(path)
        while parts and parts[-1] == "..":  # "a/.." names a folder: resolve it whole
            entry = self.resolve("/".join(parts))
            if entry.path == "/":
                return entry, ""
            entry.close()
            parts = _parts(entry.path)
        if not parts:
            return self.resolve("/"), ""
        folder = self.resolve("/" + "/".join(parts[:-1]))
        if not folder.is_dir:
            folder.close()
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        return folder, parts[-1]

    def _ctr_path(self, fd: int) -> str | None:
        host = os.readlink(f"/proc/self/fd/{fd}")
        if host == self.path:
            return "/"
        if self.path == "/":
            return host
        if host.startswith(self.path + "/"):
            return host[len(self.path) :]
        return None

    def _kernel(self, path: str, follow: bool) -> Entry | None:
        flags = os.O_PATH | (0 if follow else os.O_NOFOLLOW)
        fd = openat2(
            self.fd, "/" + "/".join(_parts(path)), flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
        )
        ctr = self._ctr_path(fd)
        if ctr is None or ctr in self.mounts:  # unnamed, or a file mount: walk instead
            os.close(fd)
            return None
        return Entry(fd, ctr, os.fstat(fd), None)

    def _walk(
        self,
        path: str,
        follow: bool,
        make: tuple[int, tuple[int, int] | None, bool] | None,
        missing: list[str] | None = None,
    ) -> Entry:
        parts = _parts(path)
        stack: list[tuple[str, int]] = []  # (name, O_PATH fd) of each folder below the root
        hops = 0
        try:
            while parts:
                part = parts.pop(0)
                if part == "..":
                    if stack:
                        os.close(stack.pop()[1])
                    continue
                top = stack[-1][1] if stack else self.fd
                here = "/" + "/".join([*(n for n, _ in stack), part])
                source = self.mounts.get(here)
                if source is not None:
                    stack.append((part, os.open(source, _PATH)))
                    continue
                try:
                    fd = os.open(part, _PATH | os.O_NOFOLLOW, dir_fd=top)
                except FileNotFoundError:
                    if make is None:
                        if missing is not None:  # the rest is named, not resolved
                            names = [n for n, _ in stack]
                            for rest in [part, *parts]:
                                if rest != "..":
                                    names.append(rest)
                                elif names:
                                    names.pop()
                            missing.append("/" + "/".join(names))
                        raise
                    fd = self._mkdir(top, part, make)
                st = os.fstat(fd)
                if stat.S_ISLNK(st.st_mode) and (parts or follow):
                    hops += 1
                    target = os.readlink("", dir_fd=fd)  # the link we hold, not a new lookup
                    os.close(fd)
                    if hops > MAX_HOPS:
                        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                    if target.startswith("/"):
                        while stack:
                            os.close(stack.pop()[1])
                    parts = _parts(target) + parts
                    continue
                if parts and not stat.S_ISDIR(st.st_mode):
                    os.close(fd)
                    if missing is not None:
                        missing.append("/" + "/".join([*(n for n, _ in stack), part, *parts]))
                    if make is None or not make[2]:
                        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
                    os.unlink(part, dir_fd=top)
                    fd = self._mkdir(top, part, make)
                stack.append((part, fd))
            if stack:
                name, fd = stack.pop()
                ctr = "/" + "/".join([*(n for n, _ in stack), name])
            else:
                fd, ctr = os.dup(self.fd), "/"
        finally:
            for _, other in stack:
                os.close(other)
        return Entry(fd, ctr, os.fstat(fd), self.mount_of(ctr))

    @staticmethod
    def _mkdir(top: int, name: str, make: tuple[int, tuple[int, int] | None, bool]) -> int:
        mode, owner, _ = make
        try:
            os.mkdir(name, mode, dir_fd=top)
        except FileExistsError:
            pass
        fd = os.open(name, _PATH | os.O_NOFOLLOW | os.O_DIRECTORY, dir_fd=top)
        if owner is not None:
            os.chown(f"/proc/self/fd/{fd}", *owner)
        os.chmod(f"/proc/self/fd/{fd}", mode)
        return fd


def join(root: str, path: str) -> str:
    """The host path of ``path`` inside the trusted tree ``root``: links resolved inside it
    as far as the path exists, the missing rest named as given. For trees no container can
    change while we look (a build context, an image being built); anything a container can
    touch goes through :class:`Root` descriptors."""
    with Root(root) as r:
        missing: list[str] = []
        try:
            with r._walk(path, True, None, missing) as entry:
                ctr = entry.path
        except (FileNotFoundError, NotADirectoryError):
            if not missing:
                raise
            ctr = missing[0]
        return os.path.join(r.path, ctr.lstrip("/"))
