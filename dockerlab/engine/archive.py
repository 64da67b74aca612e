"""Layer tars: unpack safely into an overlay layer folder, pack a layer folder back.

The two whiteout forms live here and only here:

    in a layer tar (OCI / AUFS)          in an overlay diff/ folder
    ───────────────────────────          ──────────────────────────
    dir/.wh.name   (empty file)          dir/name   character device 0/0
    dir/.wh..wh..opq                     dir        xattr trusted.overlay.opaque=y

:func:`unpack_layer` never writes outside its destination: every entry is created through
directory file descriptors opened one component at a time with ``O_NOFOLLOW``, so neither
``..``, an absolute name, nor a symlink placed by an earlier entry can redirect a write.
Names that climb out (``../evil``) and hardlinks to targets outside the layer are refused
with :class:`~dockerlab.errors.InvalidParameter`; absolute names are taken relative to the
layer (as Docker does). Symlink *targets* are stored as given: they are only ever
interpreted inside the container's root.

:func:`pack_dir` writes a deterministic tar (sorted names, PAX format, integer mtimes, no
user/group names), so packing the same folder twice gives the same diff ID.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from typing import IO, Any, BinaryIO

from dockerlab.errors import InvalidParameter

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
OPAQUE_XATTR = "trusted.overlay.opaque"
_XATTR_PAX = "SCHILY.xattr."
# xattrs never taken from a tar (they steer overlayfs itself) and never packed into one.
_FORBIDDEN_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")
# xattrs kept when packing (Docker keeps security.capability; user.* is harmless).
_PACKED_XATTR_PREFIXES = ("security.capability", "user.")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


class _Breakout(InvalidParameter):
    pass


def _clean(name: str, dest: str) -> list[str]:
    """Components of a tar name relative to the layer root (``Clean`` + breakout check)."""
    cleaned = posixpath.normpath("/" + name) if name.startswith("/") else posixpath.normpath(name)
    cleaned = cleaned.lstrip("/")
    if cleaned == ".." or cleaned.startswith("../"):
        raise _Breakout(f"invalid tar entry: {name!r} is outside of {dest!r}")
    if cleaned in ("", "."):
        return []
    return cleaned.split("/")


class _Tree:
    """Directory file descriptors under the layer root, opened without following links."""

    def __init__(self, dest: str) -> None:
        self.dest = dest
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
                raise _Breakout(
                    f"invalid tar entry: {'/'.join(parts)!r} in {self.dest!r} is not a "
                    "directory (a symlink or file cannot hold entries)"
                ) from None
            raise
        self._cache[key] = fd
        return fd


def _remove_existing(tree: _Tree, parts: list[str], keep_dir: bool) -> None:
    """Make room for a new entry (a layer should hold no duplicates; be lenient as Docker)."""
    parent = tree.dir(parts[:-1])
    name = parts[-1]
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if keep_dir:
            return
        import shutil

        tree.forget(parts)
        shutil.rmtree(os.path.join(f"/proc/self/fd/{parent}", name))
    else:
        os.unlink(name, dir_fd=parent)


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


def unpack_layer(src: str | os.PathLike[str] | IO[bytes], dest: str) -> None:
    """Apply the layer tar ``src`` (path or readable binary file; gzip accepted) to ``dest``.

    ``dest`` is an existing (normally empty) folder that becomes an overlay ``diff/``: OCI
    whiteouts become overlay whiteouts. Raises :class:`InvalidParameter` for entries that
    would land outside ``dest``.
    """
    import tarfile

    from dockerlab.engine.inflate import BoundedTarInfo

    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            return unpack_layer(f, dest)
    dest = os.path.abspath(dest)
    tree = _Tree(dest)
    dir_times: list[tuple[list[str], int]] = []
    try:
        # oversized long-name/PAX headers are refused before they are read into memory
        with tarfile.open(fileobj=src, mode="r|*", tarinfo=BoundedTarInfo) as tf:
            for member in tf:
                _apply(tf, member, tree, dest, dir_times)
        # Directory mtimes last: creating children changed them. Deepest first.
        for parts, mtime in sorted(dir_times, key=lambda t: -len(t[0])):
            fd = tree.dir(parts, create=False)
            os.utime(fd, ns=(mtime, mtime))
    except tarfile.TarError as exc:
        raise InvalidParameter(f"invalid layer tar: {exc}") from None
    finally:
        tree.close()


def _apply(tf: Any, m: Any, tree: _Tree, dest: str, dir_times: list) -> None:
    import tarfile

    parts = _clean(m.name, dest)
    if not parts:  # the root entry "./": take its metadata
        if m.isdir():
            _set_xattrs(tree.root, _member_xattrs(m))
            os.chown(tree.root, m.uid, m.gid)
            os.chmod(tree.root, m.mode & 0o7777)
            dir_times.append(([], int(m.mtime * 1e9)))
        return
    base = parts[-1]
    mtime_ns = int(m.mtime * 1e9)

    if base.startswith(WHITEOUT_PREFIX):
        dir_parts = parts[:-1]
        if base == WHITEOUT_OPAQUE:
            fd = tree.dir(dir_parts)
            os.setxattr(fd, OPAQUE_XATTR, b"y")
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # other AUFS metadata (.wh..wh.plnk, …): ignored as Docker does
        hidden = base[len(WHITEOUT_PREFIX) :]
        if not hidden or hidden in (".", ".."):
            raise _Breakout(f"invalid whiteout entry {m.name!r}")
        target = dir_parts + [hidden]
        _remove_existing(tree, target, keep_dir=False)
        parent = tree.dir(dir_parts)
        os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent)
        os.chown(hidden, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)
        return

    parent = tree.dir(parts[:-1])
    _remove_existing(tree, parts, keep_dir=m.isdir())
    mode = m.mode & 0o7777
    xattrs = _member_xattrs(m)

    if m.isdir():
        try:
            os.mkdir(base, 0o700, dir_fd=parent)
        except FileExistsError:
            pass
        fd = tree.dir(parts)
        os.chown(fd, m.uid, m.gid)
        os.chmod(fd, mode)
        _set_xattrs(fd, xattrs)
        dir_times.append((parts, mtime_ns))
        return

    if m.isreg():
        fd = os.open(
            base,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=parent,
        )
        try:
            data = tf.extractfile(m)
            while chunk := data.read(_CHUNK):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            os.fchown(fd, m.uid, m.gid)
            os.fchmod(fd, mode)  # after chown, which clears set-id bits
            _set_xattrs(fd, xattrs)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)
        return

    if m.issym():
        os.symlink(m.linkname, base, dir_fd=parent)
    elif m.islnk():
        lparts = _clean(m.linkname, dest)
        if not lparts:
            raise _Breakout(f"invalid hardlink {m.name!r} -> {m.linkname!r}")
        try:
            lparent = tree.dir(lparts[:-1], create=False)
            lst = os.stat(lparts[-1], dir_fd=lparent, follow_symlinks=False)
        except (FileNotFoundError, _Breakout):
            raise _Breakout(
                f"invalid hardlink {m.name!r} -> {m.linkname!r}: target is not in the layer"
            ) from None
        if stat.S_ISDIR(lst.st_mode):
            raise _Breakout(f"invalid hardlink {m.name!r} -> {m.linkname!r}: a directory")
        os.link(lparts[-1], base, src_dir_fd=lparent, dst_dir_fd=parent, follow_symlinks=False)
        return  # a hardlink shares its target's metadata
    elif m.ischr() or m.isblk():
        kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
        os.mknod(base, kind | mode, os.makedev(m.devmajor, m.devminor), dir_fd=parent)
    elif m.isfifo():
        os.mkfifo(base, mode, dir_fd=parent)
    elif m.type in (
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    ):
        return
    else:
        return  # sockets and unknown types are skipped, as Docker does

    os.chown(base, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)
    if not m.issym():
        os.chmod(base, mode, dir_fd=parent)
    _set_xattrs(os.path.join(f"/proc/self/fd/{parent}", base), xattrs)
    os.utime(base, ns=(mtime_ns, mtime_ns), dir_fd=parent, follow_symlinks=False)


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


def _read_xattrs(path: str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in sorted(names):
        if name.startswith(_PACKED_XATTR_PREFIXES):
            try:
                out[name] = os.getxattr(path, name, follow_symlinks=False)
            except OSError:
                pass
    return out


def is_opaque(path: str) -> bool:
    """Whether an overlay upper folder is opaque (hides everything below it)."""
    for name in OVERLAY_OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return False


def pack_dir(src_dir: str, fileobj: BinaryIO) -> str:
    """Write the layer folder ``src_dir`` as a deterministic tar to ``fileobj``.

    Overlay whiteouts become OCI whiteouts. Returns the diff ID ``sha256:<hex>`` of the bytes
    written (the tar is hashed while it is written).
    """
    import tarfile

    writer = _HashingWriter(fileobj)
    seen_inodes: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
        _pack_tree(tf, src_dir, "", seen_inodes)
    return f"sha256:{writer.sha.hexdigest()}"


def _tarinfo(name: str, st: os.stat_result) -> Any:
    import tarfile

    ti = tarfile.TarInfo(name)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.uname = ti.gname = ""
    ti.mtime = int(st.st_mtime)
    return ti


def _pack_tree(tf: Any, root: str, rel: str, seen: dict[tuple[int, int], str]) -> None:
    import tarfile

    folder = os.path.join(root, rel) if rel else root
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        arc = f"{rel}/{name}" if rel else name
        st = os.lstat(path)
        mode = st.st_mode
        ti = _tarinfo(arc, st)
        if stat.S_ISCHR(mode) and st.st_rdev == 0:
            ti.name = f"{rel}/{WHITEOUT_PREFIX}{name}" if rel else WHITEOUT_PREFIX + name
            ti.type = tarfile.REGTYPE
            ti.size = 0
            tf.addfile(ti)
            continue
        xattrs = _read_xattrs(path)
        if xattrs:
            ti.pax_headers = {
                _XATTR_PAX + k: v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()
            }
        if stat.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
            tf.addfile(ti)
            if is_opaque(path):
                wo = _tarinfo(f"{arc}/{WHITEOUT_OPAQUE}", st)
                wo.type = tarfile.REGTYPE
                wo.size = 0
                tf.addfile(wo)
            _pack_tree(tf, root, arc, seen)
            continue
        add_entry(tf, ti, path, st, seen, arc)


def add_entry(tf: Any, ti: Any, path: str, st: os.stat_result,
              seen: dict[tuple[int, int], str], name: str,
              rename: Any = None) -> int:
    """Add the non-folder ``path`` (its lstat is ``st``) to ``tf`` as ``ti``: a file, a
    link to the first name a hardlinked file had (``seen``), a symlink, a device or a fifo
    (sockets are not archived). Returns the bytes of file content written."""
    import tarfile

    mode = st.st_mode
    if stat.S_ISREG(mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in seen:
            ti.type = tarfile.LNKTYPE
            ti.linkname = rename(seen[key]) if rename else seen[key]
            tf.addfile(ti)
            return 0
        if st.st_nlink > 1:
            seen[key] = name
        ti.type = tarfile.REGTYPE
        ti.size = st.st_size
        with open(path, "rb") as f:
            tf.addfile(ti, f)
        return st.st_size
    if stat.S_ISLNK(mode):
        ti.type = tarfile.SYMTYPE
        ti.linkname = os.readlink(path)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        ti.type = tarfile.FIFOTYPE
    else:
        return 0
    tf.addfile(ti)
    return 0
