"""Tars in and out of the engine: the one extractor and the one tar writer.

The two whiteout forms live here and only here:

    in a layer tar (OCI / AUFS)          in an overlay diff/ folder
    ───────────────────────────          ──────────────────────────
    dir/.wh.name   (empty file)          dir/name   character device 0/0
    dir/.wh..wh..opq                     dir        xattr trusted.overlay.opaque=y

:func:`extract` (layers, ``import``, ``load``, ``cp`` into a container, build ``ADD`` and
build contexts) never writes outside its destination: every entry is created through
directory file descriptors opened one component at a time with ``O_NOFOLLOW``, so neither
``..``, an absolute name, nor a symlink placed by an earlier entry (or by a running container)
can redirect a write. Names that climb out, hardlinks out of the destination or to folders
are refused with :class:`Breakout`; GNU sparse entries with Docker's "unhandled tar header
type 83". Absolute names are taken relative to the destination (as Docker does). Symlink
*targets* are stored as given: they are only ever interpreted inside the container's root.

:class:`Packer` (``commit``, ``export``, ``cp`` out of a container, builds) walks folders
through descriptors only; :func:`pack_dir` writes a deterministic layer tar (sorted names,
PAX format, integer mtimes, no user/group names), so packing the same folder twice gives the
same diff ID.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Literal

from dockerlab.errors import InvalidParameter

if TYPE_CHECKING:
    from dockerlab.engine.images.inflate import Budget

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
# (fuse-overlayfs writes its own name where it may not write the kernel's: engine/storage)
OVERLAY_OPAQUE_XATTRS = (
    "trusted.overlay.opaque",
    "user.overlay.opaque",
    "user.fuseoverlayfs.opaque",
)
# rootless: overlay is mounted with userxattr (trusted.* is the host root's alone)
_ROOTLESS = os.geteuid() != 0 or os.environ.get("DOCKERLAB_ROOTLESS") == "1"
OPAQUE_XATTR = "user.overlay.opaque" if _ROOTLESS else "trusted.overlay.opaque"
_XATTR_PAX = "SCHILY.xattr."
# xattrs never taken from a tar (they steer overlayfs itself) and never packed into one.
_FORBIDDEN_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.", "user.fuseoverlayfs.")
# xattrs kept when packing (Docker keeps security.capability; user.* is harmless).
_PACKED_XATTR_PREFIXES = ("security.capability", "user.")


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Regular files are opened without following a link, without blocking on a fifo and without
# taking a terminal: a running container may swap any entry between our stat and our open.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CHUNK = 1 << 20
_GNU_SPARSE = b"S"


class Breakout(InvalidParameter):
    """An archive entry that would land outside its destination (Docker's breakout error)."""


_UNPRIVILEGED = os.geteuid() != 0  # chown to others needs CAP_CHOWN (rootless: see DESIGN)


def _clean(name: str, shown: str) -> list[str]:
    """Components of a tar name relative to the destination (``Clean`` + breakout check)."""
    cleaned = posixpath.normpath("/" + name) if name.startswith("/") else posixpath.normpath(name)
    cleaned = cleaned.lstrip("/")
    if cleaned == ".." or cleaned.startswith("../"):
        raise Breakout(f"{name!r} is outside of {shown!r}".replace("'", '"'))
    if cleaned in ("", "."):
        return []
    return cleaned.split("/")


class _Tree:
    """Directory file descriptors below the destination, opened without following links."""

    def __init__(self, dest: str | int, shown: str) -> None:
        self.shown = shown
        if isinstance(dest, int):
            self.root = os.open(f"/proc/self/fd/{dest}", _DIR_FLAGS & ~os.O_NOFOLLOW)
        else:
            self.root = os.open(dest, _DIR_FLAGS)
        self._cache: dict[tuple[str, ...], int] = {(): self.root}

    def close(self) -> None:
        for fd in self._cache.values():
            os.close(fd)
        self._cache.clear()

    def forget(self, parts: list[str]) -> None:
        """Drop cached fds at or below ``parts`` (the entry was removed or replaced)."""
        key = tuple(parts)
        for k in [k for k in self._cache if k[: len(key)] == key and k]:
            os.close(self._cache.pop(k))

    def dir(self, parts: list[str], create: bool = True) -> int:
        """fd of the directory ``parts`` (created 0755 when missing and ``create``)."""
        key = tuple(parts)
        fd = self._cache.get(key)
        if fd is not None:
            return fd
        parent = self.dir(parts[:-1], create)
        name = parts[-1]
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(name, 0o755, dir_fd=parent)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise Breakout(
                    f'"{"/".join(parts)}" is outside of "{self.shown}": a '
                    "symlink or file cannot hold entries"
                ) from None
            raise
        self._cache[key] = fd
        return fd


def _remove(tree: _Tree, parent: int, parts: list[str], st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        import shutil

        tree.forget(parts)
        shutil.rmtree(parts[-1], dir_fd=parent)  # fd-based: never follows a link
    else:
        os.unlink(parts[-1], dir_fd=parent)


def _set_xattrs(target: int | str, xattrs: dict[str, bytes]) -> None:
    for key, value in xattrs.items():
        if key.startswith(_FORBIDDEN_XATTR_PREFIXES):
            continue
        try:
            if isinstance(target, int):
                os.setxattr(target, key, value)
            else:
                os.setxattr(target, key, value, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.ENOTSUP, errno.EPERM, errno.EINVAL):
                raise


def _member_xattrs(member: Any) -> dict[str, bytes]:
    out = {}
    for key, value in (member.pax_headers or {}).items():
        if key.startswith(_XATTR_PAX):
            out[key[len(_XATTR_PAX) :]] = value.encode("utf-8", "surrogateescape")
    return out


def unpack_layer(
    src: str | os.PathLike[str] | IO[bytes], dest: str, shown: str | None = None
) -> None:
    """Apply the layer tar ``src`` (path or readable binary file; gzip accepted) to ``dest``.

    ``dest`` is an existing (normally empty) folder that becomes an overlay ``diff/``: OCI
    whiteouts become overlay whiteouts. Raises :class:`InvalidParameter` for entries that
    would land outside ``dest`` (named ``shown`` in the message, if given).
    """
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            unpack_layer(f, dest, shown)
            return
    extract(src, dest, layer=True, shown=shown, error_prefix="invalid layer tar")


def extract(
    src: IO[bytes],
    dest: str | int,
    *,
    layer: bool = False,
    owner: tuple[int, int] | None = None,
    keep_owner: bool = True,
    no_overwrite_dir_non_dir: bool = False,
    rename: Callable[[str], str] | None = None,
    shown: str | None = None,
    error_prefix: str = "Error processing tar file",
    budget: Budget | None = None,
) -> int:
    """The engine's one tar extractor: ``src`` (plain or compressed) into the existing folder
    ``dest`` (a path, or a descriptor already resolved inside a container root), never outside
    it. Returns the bytes of file content written.

    Every entry is created through directory descriptors opened ``O_NOFOLLOW`` one component
    at a time: ``..`` names, hardlinks out of ``dest`` or to folders, and entries below a
    symlink are refused with :class:`Breakout`; GNU sparse entries (type ``S``) are refused as
    Docker refuses them (a few KB of tar must not become a GB file). ``layer`` turns OCI
    whiteouts into overlay whiteouts and keeps xattrs and the root entry's metadata.
    Owners come from the tar (``keep_owner``), or are ``owner`` for every entry, or are left
    to whoever extracts (neither). Special headers over 1 MiB are refused before they are read;
    with a ``budget`` (:mod:`dockerlab.engine.images.inflate`), decompression is bounded too.
    """
    import tarfile

    from dockerlab.engine.images.inflate import BoundedTarInfo, corrupt

    shown = shown if shown is not None else (dest if isinstance(dest, str) else ".")
    tree = _Tree(os.path.abspath(dest) if isinstance(dest, str) else dest, shown)
    total = 0
    dir_times: list[tuple[list[str], int]] = []
    try:
        mode: Literal["r|", "r|*"]
        stream, mode = (budget.inflating(src), "r|") if budget else (src, "r|*")
        with tarfile.open(fileobj=stream, mode=mode, tarinfo=BoundedTarInfo) as tf:
            for m in tf:
                try:
                    total += _apply(
                        tf,
                        m,
                        tree,
                        dir_times,
                        layer=layer,
                        owner=owner,
                        keep_owner=keep_owner,
                        rename=rename,
                        strict=no_overwrite_dir_non_dir,
                    )
                except OSError as exc:  # name the entry: "…/bin/ls: no space left on device"
                    if exc.errno == errno.EINVAL and _ROOTLESS and _unmapped(m.uid, m.gid):
                        from dockerlab.errors import Forbidden

                        raise Forbidden(
                            "potentially insufficient UIDs or GIDs available in the user "
                            f"namespace (requested {m.uid}:{m.gid} for /{m.name.lstrip('./')}):"
                            " check /etc/subuid and /etc/subgid; an administrator can add "
                            "ranges with usermod --add-subuids and --add-subgids"
                        ) from None
                    if exc.errno is not None and not str(exc.filename or "").startswith("/"):
                        exc.filename = os.path.join(shown, m.name)
                    raise
        # Directory mtimes last: creating children changed them. Deepest first.
        for parts, mtime in sorted(dir_times, key=lambda t: -len(t[0])):
            os.utime(tree.dir(parts, create=False), ns=(mtime, mtime))
    except Exception as exc:  # a bad tar or bad compressed data; bounds and bugs go on up
        if not isinstance(exc, tarfile.TarError) and not corrupt(exc):
            raise
        raise InvalidParameter(f"{error_prefix}: {exc}") from None
    finally:
        tree.close()
    return total


def _unmapped(uid: int, gid: int) -> bool:
    """Rootless: is ``uid`` or ``gid`` outside this process's user namespace's maps?"""

    def mapped(kind: str, n: int) -> bool:
        try:
            with open(f"/proc/self/{kind}_map") as f:
                for line in f:
                    inside, _outside, count = (int(x) for x in line.split())
                    if inside <= n < inside + count:
                        return True
        except (OSError, ValueError):
            return True
        return False

    return not mapped("uid", uid) or not mapped("gid", gid)


def _apply(
    tf: Any,
    m: Any,
    tree: _Tree,
    dir_times: list[tuple[list[str], int]],
    *,
    layer: bool,
    owner: tuple[int, int] | None,
    keep_owner: bool,
    rename: Callable[[str], str] | None,
    strict: bool,
) -> int:
    import tarfile

    if m.type == _GNU_SPARSE:
        raise InvalidParameter(
            "Error processing tar file(exit status 1): unhandled tar header "
            f"type {ord(_GNU_SPARSE)}"
        )  # Docker's words, exactly
    name = rename(m.name) if rename else m.name
    parts = _clean(name, tree.shown)
    uid, gid = (m.uid, m.gid) if keep_owner else (owner or (-1, -1))
    if _UNPRIVILEGED:  # rootless: the files are the user's, i.e. the container's root's
        uid = gid = -1
    mode = m.mode & 0o7777
    mtime_ns = int(m.mtime * 1e9)
    if not parts:  # the root entry "./": a layer takes its metadata, cp leaves the folder be
        if layer and m.isdir():
            _set_xattrs(tree.root, _member_xattrs(m))
            os.chown(tree.root, uid, gid)
            os.chmod(tree.root, mode)
            dir_times.append(([], mtime_ns))
        return 0
    base = parts[-1]

    if layer and base.startswith(WHITEOUT_PREFIX):
        dir_parts = parts[:-1]
        if base == WHITEOUT_OPAQUE:
            os.setxattr(tree.dir(dir_parts), OPAQUE_XATTR, b"y")
            return 0
        if base.startswith(WHITEOUT_META_PREFIX):
            return 0  # other AUFS metadata (.wh..wh.plnk, …): ignored as Docker does
        hidden = base[len(WHITEOUT_PREFIX) :]
        if not hidden or hidden in (".", ".."):
            raise Breakout(f'"{m.name}" is outside of "{tree.shown}"')
        parent = tree.dir(dir_parts)
        try:
            _remove(
                tree,
                parent,
                [*dir_parts, hidden],
                os.stat(hidden, dir_fd=parent, follow_symlinks=False),
            )
        except FileNotFoundError:
            pass
        try:
            os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent)
        except PermissionError:  # a filesystem (overlayfs) or kernel refusing whiteouts:
            # the tar's own form, which fuse-overlayfs and vfs read (engine/storage)
            os.close(os.open(base, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o000, dir_fd=parent))
            return 0
        os.chown(hidden, uid, gid, dir_fd=parent, follow_symlinks=False)
        return 0

    if m.type in (
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    ):
        return 0
    parent = tree.dir(parts[:-1])
    try:
        st = os.stat(base, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is not None:
        is_dir = stat.S_ISDIR(st.st_mode)
        shown = "/" + "/".join(parts)
        if strict and is_dir and not m.isdir():
            raise InvalidParameter(
                f'cannot overwrite directory "{shown}" with non-directory "{shown}"'
            )
        if strict and not is_dir and m.isdir():
            raise InvalidParameter(
                f'cannot overwrite non-directory "{shown}" with directory "{shown}"'
            )
        if not (is_dir and m.isdir()):
            _remove(tree, parent, parts, st)
            st = None
    xattrs = _member_xattrs(m) if layer else {}

    if m.isdir():
        if st is None:
            os.mkdir(base, 0o700, dir_fd=parent)
        fd = tree.dir(parts)
        if uid != -1:
            os.chown(fd, uid, gid)
        os.chmod(fd, mode)
        _set_xattrs(fd, xattrs)
        dir_times.append((parts, mtime_ns))
        return 0

    if m.isreg():
        written = 0
        fd = os.open(
            base,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=parent,
        )
        try:
            data = tf.extractfile(m)
            if m.sparse is not None:  # PAX sparse: write the data, leave the holes (as Go)
                raw = data.raw  # positions only; the stream below is read forward
                for offset, size in m.sparse:
                    raw.seek(offset)
                    while size > 0 and (chunk := raw.read(min(size, _CHUNK))):
                        written += os.pwrite(fd, chunk, offset)
                        offset += len(chunk)
                        size -= len(chunk)
                os.ftruncate(fd, m.size)
            while m.sparse is None and (chunk := data.read(_CHUNK)):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
                written += len(chunk)
            if uid != -1:
                os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)  # after chown, which clears set-id bits
            _set_xattrs(fd, xattrs)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)
        return written

    if m.issym():
        os.symlink(m.linkname, base, dir_fd=parent)
    elif m.islnk():
        target = rename(m.linkname) if rename else m.linkname
        bad = Breakout(f'invalid hardlink "{m.name}" -> "{m.linkname}"')
        try:
            lparts = _clean(target, tree.shown)
        except Breakout:
            raise bad from None
        if not lparts:
            raise bad
        try:
            lparent = tree.dir(lparts[:-1], create=False)
            lst = os.stat(lparts[-1], dir_fd=lparent, follow_symlinks=False)
        except (FileNotFoundError, Breakout):
            raise bad from None
        if stat.S_ISDIR(lst.st_mode):
            raise bad
        os.link(lparts[-1], base, src_dir_fd=lparent, dst_dir_fd=parent, follow_symlinks=False)
        return 0  # a hardlink shares its target's metadata
    elif m.ischr() or m.isblk():
        kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
        os.mknod(base, kind | mode, os.makedev(m.devmajor, m.devminor), dir_fd=parent)
    elif m.isfifo():
        os.mkfifo(base, mode, dir_fd=parent)
    else:
        return 0  # sockets and unknown types are skipped, as Docker does

    if uid != -1:
        os.chown(base, uid, gid, dir_fd=parent, follow_symlinks=False)
    if not m.issym():
        os.chmod(base, mode, dir_fd=parent)
    if xattrs:
        _set_xattrs(f"/proc/self/fd/{parent}/{base}", xattrs)
    os.utime(base, ns=(mtime_ns, mtime_ns), dir_fd=parent, follow_symlinks=False)
    return 0


# ---- packing ------------------------------------------------------------------------------


class _HashingWriter:
    """Forwards writes to ``out`` while computing sha256 and the byte count."""

    def __init__(self, out: BinaryIO) -> None:
        import hashlib

        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size


class _Exactly:
    """``size`` bytes of an open file: a file that shrank while we read is padded with
    zeros, one that grew is cut (the tar header already holds the size)."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.left = fd, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        if n <= 0:
            return b""
        data = os.read(self.fd, n) if self.fd >= 0 else b""
        if not data:
            self.fd = -1
            data = bytes(n)
        self.left -= len(data)
        return data


def _xattrs_of(target: int | str) -> dict[str, bytes]:
    try:
        names = (
            os.listxattr(target)
            if isinstance(target, int)
            else os.listxattr(target, follow_symlinks=False)
        )
    except OSError:
        return {}
    out = {}
    for name in sorted(names):
        if name.startswith(_PACKED_XATTR_PREFIXES):
            try:
                out[name] = (
                    os.getxattr(target, name)
                    if isinstance(target, int)
                    else os.getxattr(target, name, follow_symlinks=False)
                )
            except OSError:
                pass
    return out


def is_opaque(path: str | int) -> bool:
    """Whether an overlay upper folder (path or descriptor) is opaque (by xattr, or by
    fuse-overlayfs's ``.wh..wh..opq`` marker file where it could write no xattr)."""
    try:
        if isinstance(path, int):
            os.stat(WHITEOUT_OPAQUE, dir_fd=path, follow_symlinks=False)
        else:
            os.lstat(os.path.join(path, WHITEOUT_OPAQUE))
        return True
    except OSError:
        pass
    for name in OVERLAY_OPAQUE_XATTRS:
        try:
            value = (
                os.getxattr(path, name)
                if isinstance(path, int)
                else os.getxattr(path, name, follow_symlinks=False)
            )
            if value == b"y":
                return True
        except OSError:
            pass
    return False


def _tarinfo(name: str, st: os.stat_result) -> Any:
    import tarfile

    ti = tarfile.TarInfo(name)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.uname = ti.gname = ""
    ti.mtime = int(st.st_mtime)
    return ti


class Packer:
    """The engine's one tar writer, walking folders through descriptors only.

    Each child is looked up relative to its folder's descriptor and opened ``O_NOFOLLOW``
    (folders ``O_DIRECTORY``, files ``O_NONBLOCK``), and what is written comes from ``fstat``
    of the opened descriptor: a running container swapping an entry for a symlink (or a
    device, or a fifo) between our listing and our open makes us skip it, never read the
    host. ``layer`` writes overlay whiteouts as OCI ones and keeps xattrs; ``mounts`` maps a
    container path to a host folder to read instead (volumes, for ``cp``).
    """

    def __init__(
        self,
        tf: Any,
        *,
        layer: bool = False,
        mounts: dict[str, str] | None = None,
        rename: Callable[[str], str] | None = None,
    ) -> None:
        self.tf, self.layer, self.mounts, self.rename = tf, layer, mounts or {}, rename
        self.seen: dict[tuple[int, int], str] = {}
        self.total = 0

    def _name(self, arc: str) -> str:
        return self.rename(arc) if self.rename else arc

    def add_children(self, fd: int, arc: str, ctr: str) -> None:
        """Every entry of the open folder ``fd``, named ``arc/<name>`` (``<name>`` when
        ``arc`` is empty), sorted by name."""
        with os.scandir(fd) as it:
            names = sorted(e.name for e in it)
        for name in names:
            if self.layer and name == WHITEOUT_OPAQUE:  # fuse-overlayfs's marker: add_dir's
                continue
            child_arc = f"{arc}/{name}" if arc else name
            child_ctr = f"{ctr.rstrip('/')}/{name}" if ctr else ""
            source = self.mounts.get(child_ctr) if child_ctr else None
            if source is not None and os.path.isdir(source):
                mfd = os.open(source, _DIR_FLAGS & ~os.O_NOFOLLOW)
                try:
                    self.add_dir(mfd, os.fstat(mfd), child_arc, child_ctr)
                finally:
                    os.close(mfd)
                continue
            if source is not None:
                pfd = os.open(os.path.dirname(source), _DIR_FLAGS & ~os.O_NOFOLLOW)
                try:
                    self.add(pfd, os.path.basename(source), child_arc, "")
                finally:
                    os.close(pfd)
                continue
            self.add(fd, name, child_arc, child_ctr)

    def add_dir(self, fd: int, st: os.stat_result, arc: str, ctr: str) -> None:
        """The open folder ``fd`` as ``arc`` (no entry for an empty ``arc``), then below."""
        import tarfile

        if arc:
            ti = _tarinfo(self._name(arc), st)
            ti.type = tarfile.DIRTYPE
            if self.layer:
                self._xattrs(ti, fd)
            self.tf.addfile(ti)
            if self.layer and is_opaque(fd):
                wo = _tarinfo(f"{arc}/{WHITEOUT_OPAQUE}", st)
                wo.type = tarfile.REGTYPE
                self.tf.addfile(wo)
        self.add_children(fd, arc, ctr)

    def add(self, parent: int, name: str, arc: str, ctr: str) -> None:
        """The entry ``name`` of the open folder ``parent`` as ``arc`` (and all below it).
        An entry that vanished or changed kind meanwhile is left out."""
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            kind = stat.S_IFMT(st.st_mode)
            if kind == stat.S_IFDIR:
                fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
                try:
                    self.add_dir(fd, os.fstat(fd), arc, ctr)
                finally:
                    os.close(fd)
            elif kind == stat.S_IFREG:
                fd = os.open(name, _FILE_FLAGS, dir_fd=parent)
                try:
                    self.add_file(fd, os.fstat(fd), arc)
                finally:
                    os.close(fd)
            else:
                link = os.readlink(name, dir_fd=parent) if kind == stat.S_IFLNK else ""
                self.add_special(st, arc, link, f"/proc/self/fd/{parent}/{name}")
        except (FileNotFoundError, NotADirectoryError):
            return  # gone meanwhile
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EINVAL):  # swapped for a link meanwhile
                raise

    def add_file(self, fd: int, st: os.stat_result, arc: str) -> None:
        """The open descriptor ``fd`` (``st`` its fstat) as ``arc``: a regular file (or a link
        to the first name of a file seen before), anything else as its kind says."""
        import tarfile

        if not stat.S_ISREG(st.st_mode):
            if not stat.S_ISDIR(st.st_mode):  # swapped meanwhile: header only, never content
                self.add_special(st, arc, "", None)
            return
        ti = _tarinfo(self._name(arc), st)
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.seen:
            ti.type = tarfile.LNKTYPE
            ti.linkname = self._name(self.seen[key])
            self.tf.addfile(ti)
            return
        if st.st_nlink > 1:
            self.seen[key] = arc
        if self.layer:
            self._xattrs(ti, fd)
        ti.type = tarfile.REGTYPE
        ti.size = st.st_size
        self.tf.addfile(ti, _Exactly(fd, st.st_size))
        self.total += st.st_size

    def add_special(self, st: os.stat_result, arc: str, link: str, path: str | None) -> None:
        """A symlink (``link``), device, fifo or overlay whiteout; sockets are skipped."""
        import tarfile

        mode = st.st_mode
        ti = _tarinfo(self._name(arc), st)
        if stat.S_ISCHR(mode) and st.st_rdev == 0 and self.layer:
            head, _, tail = arc.rpartition("/")
            ti.name = f"{head}/{WHITEOUT_PREFIX}{tail}" if head else WHITEOUT_PREFIX + tail
            ti.type = tarfile.REGTYPE
            self.tf.addfile(ti)
            return
        if stat.S_ISLNK(mode):
            ti.type = tarfile.SYMTYPE
            ti.linkname = link
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
        else:
            return
        if self.layer and path is not None:
            self._xattrs(ti, path)
        self.tf.addfile(ti)

    @staticmethod
    def _xattrs(ti: Any, target: int | str) -> None:
        xattrs = _xattrs_of(target)
        if xattrs:
            ti.pax_headers = {
                _XATTR_PAX + k: v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()
            }


def pack_dir(src_dir: str | int, fileobj: BinaryIO) -> str:
    """Write the layer folder ``src_dir`` (a path, or an open folder descriptor) as a
    deterministic tar to ``fileobj``: sorted names, PAX, integer mtimes, no user names.

    Overlay whiteouts become OCI whiteouts. Returns the diff ID ``sha256:<hex>`` of the bytes
    written (the tar is hashed while it is written).
    """
    import tarfile

    if isinstance(src_dir, str):
        from dockerlab.engine import userns

        if userns.needed():  # rootless: read in the user's namespace, IDs as containers see
            root = _state_root(src_dir)
            digest: str = userns.call("pack", root, [src_dir], data_out=fileobj)
            return digest
    writer = _HashingWriter(fileobj)
    fd = (
        os.open(src_dir, _DIR_FLAGS & ~os.O_NOFOLLOW)
        if isinstance(src_dir, str)
        else os.open(f"/proc/self/fd/{src_dir}", _DIR_FLAGS & ~os.O_NOFOLLOW)
    )
    try:
        with tarfile.open(
            fileobj=writer,
            mode="w|",  # type: ignore[call-overload]
            format=tarfile.PAX_FORMAT,
        ) as tf:
            Packer(tf, layer=True).add_children(fd, "", "")
    finally:
        os.close(fd)
    return f"sha256:{writer.sha.hexdigest()}"


def _state_root(path: str) -> str:
    """The state root holding ``path`` (its ``overlay/`` or ``tmp/`` folder's parent)."""
    parts = os.path.abspath(path).split("/")
    for i in range(len(parts) - 1, 0, -1):
        if parts[i] in ("overlay", "tmp"):
            return "/".join(parts[:i]) or "/"
    return os.path.dirname(os.path.abspath(path))


def pack_inside(root: str, src_dir: str, out: BinaryIO) -> str:
    """(In the rootless helper, engine/userns.py) :func:`pack_dir` of a folder of the state
    root into the pipe ``out``."""
    from dockerlab.engine.userns import below

    return pack_dir(below(root, src_dir), out)
