"""``docker cp``, engine side: Docker's archive API (``GET``/``PUT /containers/{id}/archive``,
``HEAD`` for the path stat) on a container's filesystem, running or not.

Where the files are::

    running   overlay/<id>/merged          the monitor's overlay mount (the host sees it)
    stopped   tmp/cp-<id12>-<rand>         a temporary overlay mount made for this copy:
                                           read-only (lowerdir = diff:lowers) for reading,
                                           read-write (upperdir = diff) for writing;
                                           always unmounted and removed afterwards
    volumes   volumes/<name>/_data, bind sources, containers/<id>/hosts …  (their mount
              points are mapped by path, as the kernel would inside the container)

Paths are resolved as the container would resolve them, through file descriptors
(:mod:`dockerlab.engine.runtime.inroot`): ``/`` is the container's root, its links never
lead out, its mount points lead to their sources, and what is found is read or written through the
descriptor the resolver returned, never again by host path. A running container that swaps a
folder for a symlink mid-copy (CVE-2018-15664) therefore cannot make us read or write the
host. Docker 20.10 does not pause the container for ``cp`` (it works in a chroot of the
container's root); neither do we. Archives are written by :class:`~dockerlab.engine.images.archive.
Packer` and extracted by :func:`~dockerlab.engine.images.archive.extract`, the engine's only ones.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
import tarfile
from collections.abc import Callable, Iterator
from typing import IO, Any, BinaryIO

from dockerlab.engine import userns
from dockerlab.engine.images.archive import Packer, extract
from dockerlab.engine.runtime import linux as L
from dockerlab.engine.runtime.inroot import Entry, Root
from dockerlab.errors import Conflict, Forbidden, InvalidParameter, NotFound, reason

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockerlab.engine.containers.store import ContainerStore

__all__ = ["View", "copy_from", "copy_to", "go_file_mode", "path_stat", "untar", "write_tar"]

_CHUNK = 1 << 20
_PAGE = 4000  # mount options must fit a page

# Go's os.FileMode bits: the API's stat "mode" is one of these (as Docker sends it).
GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27
GO_DEVICE = 1 << 26
GO_PIPE = 1 << 25
GO_SOCKET = 1 << 24
GO_SETUID = 1 << 23
GO_SETGID = 1 << 22
GO_CHARDEV = 1 << 21
GO_STICKY = 1 << 20


def go_file_mode(st_mode: int) -> int:
    """A stat ``st_mode`` as Go's ``os.FileMode`` (what Docker's path stat carries)."""
    mode = st_mode & 0o777
    kind = stat.S_IFMT(st_mode)
    mode |= {
        stat.S_IFDIR: GO_DIR,
        stat.S_IFLNK: GO_SYMLINK,
        stat.S_IFIFO: GO_PIPE,
        stat.S_IFSOCK: GO_SOCKET,
        stat.S_IFBLK: GO_DEVICE,
        stat.S_IFCHR: GO_DEVICE | GO_CHARDEV,
    }.get(kind, 0)
    if st_mode & stat.S_ISUID:
        mode |= GO_SETUID
    if st_mode & stat.S_ISGID:
        mode |= GO_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= GO_STICKY
    return mode


def _rfc3339(st: os.stat_result) -> str:
    from dockerlab.format.units import rfc3339nano_ns

    return rfc3339nano_ns(st.st_mtime_ns)


# ---- the container's filesystem as the host sees it ---------------------------------------


class Mount:
    __slots__ = ("dest", "rw", "source")

    def __init__(self, dest: str, source: str, rw: bool) -> None:
        self.dest, self.source, self.rw = posixpath.normpath("/" + dest.lstrip("/")), source, rw


class View(Root):
    """A container root (host folder) plus its mounts, resolved the container's way."""

    def __init__(self, root: str, mounts: list[Mount] | None = None) -> None:
        super().__init__(root, [(m.dest, m.source) for m in mounts or []])
        self.rw = {m.dest: m.rw for m in mounts or []}


def _preserve_trailing(cleaned: str, original: str) -> str:
    """``archive.PreserveTrailingDotOrSeparator``."""
    if original.endswith("/.") or original == ".":
        return cleaned.rstrip("/") + "/." if cleaned != "/" else "/."
    if original.endswith("/") and not cleaned.endswith("/"):
        return cleaned + "/"
    return cleaned


def _mounts(c: Any) -> list[Mount]:
    out = [
        Mount(m["Destination"], m["Source"], bool(m.get("RW", True)))
        for m in c.config.get("MountPoints") or []
        if m.get("Source")
    ]
    for key, dest in (
        ("HostsPath", "/etc/hosts"),
        ("HostnamePath", "/etc/hostname"),
        ("ResolvConfPath", "/etc/resolv.conf"),
    ):
        if c.config.get(key) and os.path.exists(c.config[key]):
            out.append(Mount(dest, c.config[key], True))
    return out


@contextlib.contextmanager
def _rootfs(containers: ContainerStore, ref: str, write: bool) -> Iterator[tuple[Any, View]]:
    """The container and a :class:`View` of its files; stopped ones get a temporary mount."""
    c = containers.find(ref)
    merged = os.path.join(c.layer_dir, "merged")
    if c.running and os.path.ismount(merged):
        with View(merged, _mounts(c)) as view:
            yield c, view
        return
    with c.lock():
        c.refresh(locked=True)
        if c.running and os.path.ismount(merged):
            with View(merged, _mounts(c)) as view:
                yield c, view
            return
        with _temporary_mount(containers.paths, c, write) as root, View(root, _mounts(c)) as view:
            yield c, view


@contextlib.contextmanager
def _temporary_mount(paths: Any, c: Any, write: bool) -> Iterator[str]:
    import subprocess
    import tempfile

    from dockerlab.engine import rootless
    from dockerlab.engine.work import prefix as work_prefix

    rt = c.config["Runtime"]
    if rt.get("Driver") == "vfs":  # a full copy: the container's files, nothing to mount
        yield os.path.join(c.layer_dir, "merged")
        return
    os.makedirs(paths.tmp, mode=0o700, exist_ok=True)
    target = tempfile.mkdtemp(prefix=work_prefix("cp"), dir=paths.tmp)
    layer = rt["Layer"]
    lowers = list(rt["LowerLinks"])
    if write:
        rel = f"lowerdir={':'.join(lowers)},upperdir={layer}/diff,workdir={layer}/work"
    else:
        rel = f"lowerdir={':'.join([f'{layer}/diff', *lowers])}"
    absolute = ",".join(
        key + "=" + ":".join(os.path.join(paths.overlay, p) for p in value.split(":"))
        for key, value in (item.split("=", 1) for item in rel.split(","))
    )
    if rootless.enabled():  # in the user's namespace: its opaque folders are user.* xattrs
        rel += ",userxattr"
        absolute += ",userxattr"
    try:
        if rt.get("Driver") == "fuse-overlayfs":  # where the kernel's overlay is refused
            from dockerlab.engine.storage import fuse

            fuse.mount(absolute + ("" if write else ",ro"), target)
        elif len(absolute) < _PAGE:
            L.mount("overlay", target, "overlay", 0 if write else L.MS_RDONLY, absolute)
        else:  # relative lower links: mount from the overlay folder (never chdir ourselves)
            subprocess.run(
                ["mount", "-t", "overlay", "overlay", "-o", rel + ("" if write else ",ro"), target],
                cwd=paths.overlay,
                check=True,
                capture_output=True,
            )
    except (OSError, subprocess.CalledProcessError) as exc:
        os.rmdir(target)
        if isinstance(exc, OSError) and exc.errno == errno.EBUSY:
            raise Conflict(f"container {c.id[:12]} is starting; try again") from None
        raise Forbidden(
            f"cannot mount the filesystem of container {c.id[:12]}: {reason(exc)}"
        ) from None
    try:
        yield target
    finally:
        if rt.get("Driver") == "fuse-overlayfs":
            from dockerlab.engine.storage import fuse

            fuse.unmount(target)
        else:
            try:
                L.umount(target)
            except OSError:
                L.umount(target, L.MNT_DETACH)
        os.rmdir(target)


# ---- stat and archive ---------------------------------------------------------------------


def _not_found(path: str, ref: str) -> NotFound:
    return NotFound(f"Could not find the file {path} in container {ref}")


@contextlib.contextmanager
def _resolved(
    view: View, path: str, ref: str, follow: bool, asked: str | None = None
) -> Iterator[Entry]:
    try:
        entry = view.resolve(path, follow=follow)
    except (FileNotFoundError, NotADirectoryError):
        raise _not_found(asked or path, ref) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidParameter(f"too many levels of symbolic links: {path}") from None
        raise
    with entry:
        yield entry


def _stat_of(view: View, entry: Entry, abs_path: str) -> dict[str, Any]:
    st = entry.st
    link = ""
    if stat.S_ISLNK(st.st_mode):
        try:
            with view.resolve(entry.path, follow=True) as target:
                link = target.path
        except OSError:  # a dangling link: Docker shows where it leads
            link = _lexical_target(view, entry)
    name = "." if abs_path.endswith("/.") else posixpath.basename(abs_path.rstrip("/")) or "/"
    return {
        "name": name,
        "size": st.st_size,
        "mode": go_file_mode(st.st_mode),
        "mtime": _rfc3339(st),
        "linkTarget": link,
    }


def _lexical_target(view: View, entry: Entry) -> str:
    target = os.readlink("", dir_fd=entry.fd)
    base = posixpath.dirname(entry.path)
    return posixpath.normpath(target if target.startswith("/") else posixpath.join(base, target))


def _asked(path: str) -> tuple[str, bool]:
    """(the absolute path as asked, whether its last component is followed): Docker's
    ``ResolvePath`` follows a final link only for ``dir/`` and ``dir/.``."""
    abs_path = _preserve_trailing(posixpath.normpath("/" + path.lstrip("/")), path)
    return abs_path, abs_path.endswith("/") or abs_path.endswith("/.")


def path_stat(containers: ContainerStore, ref: str, path: str) -> dict[str, Any]:
    """Docker's ``HEAD /containers/{id}/archive``: name, size, mode (Go ``FileMode``),
    mtime, linkTarget (the fully resolved container path, for a symlink)."""
    if userns.needed():
        info: dict[str, Any] = _inside(containers, ref, "cp_stat", [ref, path])
        return info
    abs_path, follow = _asked(path)
    with (
        _rootfs(containers, ref, write=False) as (_c, view),
        _resolved(view, abs_path, ref, follow, path) as entry,
    ):
        return _stat_of(view, entry, abs_path)


def copy_from(
    containers: ContainerStore, ref: str, path: str, out: BinaryIO, follow_link: bool = False
) -> dict[str, Any]:
    """Docker's ``GET /containers/{id}/archive``: a tar of ``path`` named after its last
    component (``.`` for ``dir/.``); returns the path's stat. With ``follow_link`` a final
    symlink is replaced by what it points to (still named as asked, like ``docker cp -L``)."""
    if userns.needed():
        info: dict[str, Any] = _inside(
            containers, ref, "cp_from", [ref, path, follow_link], data_out=out
        )
        return info
    abs_path, follow = _asked(path)
    with (
        _rootfs(containers, ref, write=False) as (_c, view),
        _resolved(view, abs_path, ref, follow, path) as entry,
    ):
        info = _stat_of(view, entry, abs_path)
        name = info["name"] if info["name"] != "/" else "."
        if follow_link and info["linkTarget"]:
            with _resolved(view, info["linkTarget"], ref, False) as target:
                info = _stat_of(view, target, info["linkTarget"])
                _write_entry(view, target, name, out)
        else:
            _write_entry(view, entry, name, out)
        return info


def _write_entry(view: View, entry: Entry, arcname: str, out: BinaryIO) -> int:
    """The resolved ``entry`` (and all below it) as a PAX tar to ``out``."""
    with tarfile.open(
        fileobj=out,
        mode="w|",
        format=tarfile.PAX_FORMAT,  # type: ignore[call-overload]
        copybufsize=_CHUNK,
    ) as tf:
        packer = Packer(tf, mounts=view.mounts)
        kind = stat.S_IFMT(entry.st.st_mode)
        if kind in (stat.S_IFDIR, stat.S_IFREG):
            fd = entry.open(os.O_RDONLY | (os.O_DIRECTORY if kind == stat.S_IFDIR else 0))
            try:
                if kind == stat.S_IFDIR:
                    packer.add_dir(fd, entry.st, arcname, entry.path)
                else:
                    packer.add_file(fd, entry.st, arcname)
            finally:
                os.close(fd)
        else:
            link = os.readlink("", dir_fd=entry.fd) if kind == stat.S_IFLNK else ""
            packer.add_special(entry.st, arcname, link, None)
        return packer.total


def write_tar(
    host_path: str, arcname: str, out: BinaryIO, rename: Callable[[str], str] | None = None
) -> int:
    """Write the host's ``host_path`` (a file, a link, or a folder and all below it, links
    never followed) as a PAX tar to ``out``, its entries named from ``arcname`` (``docker cp``
    from the host). Returns the bytes of file content written."""
    with tarfile.open(
        fileobj=out,
        mode="w|",
        format=tarfile.PAX_FORMAT,  # type: ignore[call-overload]
        copybufsize=_CHUNK,
    ) as tf:
        packer = Packer(tf, rename=rename)
        head, base = os.path.split(host_path.rstrip("/") or "/")
        if not base:  # the host's root folder itself
            fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                packer.add_dir(fd, os.fstat(fd), arcname, "")
            finally:
                os.close(fd)
            return packer.total
        parent = os.open(head or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.stat(base, dir_fd=parent, follow_symlinks=False)  # missing: an error, as before
            packer.add(parent, base, arcname, "")
        finally:
            os.close(parent)
        return packer.total


# ---- extraction ---------------------------------------------------------------------------


def untar(
    src: IO[bytes],
    dest: str | int,
    *,
    owner: tuple[int, int] | None = None,
    keep_owner: bool = True,
    no_overwrite_dir_non_dir: bool = True,
    rename: Callable[[str], str] | None = None,
    shown: str | None = None,
) -> int:
    """Extract the tar ``src`` into the existing folder ``dest`` (a path or a descriptor),
    never outside it (:func:`~dockerlab.engine.images.archive.extract`). Returns the bytes of file
    content written."""
    return extract(
        src,
        dest,
        owner=owner,
        keep_owner=keep_owner,
        no_overwrite_dir_non_dir=no_overwrite_dir_non_dir,
        rename=rename,
        shown=shown,
    )


def _user_ids(view: View, user: str) -> tuple[int, int]:
    """``USER`` of the container as (uid, gid), read from its own /etc/passwd and group."""
    name, _, group = user.partition(":")

    def lookup(file: str, key: str) -> list[str] | None:
        try:
            with (
                view.resolve(file) as entry,
                open(entry.open(), encoding="utf-8", errors="replace") as f,
            ):
                for line in f:
                    fields = line.rstrip("\n").split(":")
                    if fields and fields[0] == key:
                        return fields
        except OSError:
            pass
        return None

    if name.isdigit():
        uid, gid = int(name), 0
        entry = None
    else:
        entry = lookup("/etc/passwd", name)
        if entry is None or len(entry) < 4:
            raise InvalidParameter(
                f"unable to find user {name}: no matching entries in passwd file"
            )
        uid, gid = int(entry[2]), int(entry[3])
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            g = lookup("/etc/group", group)
            if g is None or len(g) < 3:
                raise InvalidParameter(
                    f"unable to find group {group}: no matching entries in group file"
                )
            gid = int(g[2])
    return uid, gid


def copy_to(
    containers: ContainerStore,
    ref: str,
    path: str,
    src: IO[bytes],
    copy_uid_gid: bool = False,
    no_overwrite_dir_non_dir: bool = True,
) -> None:
    """Docker's ``PUT /containers/{id}/archive``: extract the tar ``src`` into the folder
    ``path`` of the container (a final symlink is followed, inside the container).

    Owners are taken from the tar; with ``copy_uid_gid`` and a container ``USER`` they are
    that user's. Refused into read-only volumes and read-only root filesystems.
    """
    if userns.needed():
        _inside(
            containers,
            ref,
            "cp_to",
            [ref, path, copy_uid_gid, no_overwrite_dir_non_dir],
            data_in=src,
        )
        return
    abs_path = posixpath.normpath("/" + path.lstrip("/"))
    with (
        _rootfs(containers, ref, write=True) as (c, view),
        _resolved(view, abs_path, ref, True, path) as entry,
    ):
        if not entry.is_dir:
            raise InvalidParameter("extraction point is not a directory")
        if entry.mount is not None and not view.rw.get(entry.mount, True):
            raise Forbidden("mounted volume is marked read-only")
        if entry.mount is None and (c.config.get("HostConfig") or {}).get("ReadonlyRootfs"):
            raise Forbidden("container rootfs is marked read-only")
        user = (c.config.get("Config") or {}).get("User") or ""
        owner = _user_ids(view, user) if copy_uid_gid and user else None
        untar(
            src,
            entry.fd,
            owner=owner,
            keep_owner=owner is None,
            no_overwrite_dir_non_dir=no_overwrite_dir_non_dir,
            shown=entry.path,
        )


# ---- rootless: in the user's namespace (engine/userns.py) -----------------------------------


def _inside(
    containers: ContainerStore,
    ref: str,
    task: str,
    args: list[Any],
    data_in: IO[bytes] | None = None,
    data_out: BinaryIO | None = None,
) -> Any:
    """Run a ``cp`` verb in the helper: in the monitor's namespaces for a running container
    (its ``merged/`` is mounted there), else in a fresh one (a temporary mount)."""
    c = containers.find(ref)
    paths = containers.paths
    return userns.call(
        task,
        paths.root,
        [paths.run, *args],
        join=userns.monitor_of(c),
        data_in=data_in,
        data_out=data_out,
    )


def _store(root: str, run: str) -> ContainerStore:
    from dockerlab.engine.containers.store import ContainerStore
    from dockerlab.engine.paths import Paths

    return ContainerStore(Paths(root, run))


def stat_inside(root: str, run: str, ref: str, path: str) -> dict[str, Any]:
    return path_stat(_store(root, run), ref, path)


def copy_from_inside(
    root: str, run: str, ref: str, path: str, follow_link: bool, out: BinaryIO
) -> dict[str, Any]:
    return copy_from(_store(root, run), ref, path, out, follow_link)


def copy_to_inside(
    root: str, run: str, ref: str, path: str, uid_gid: bool, strict: bool, src: IO[bytes]
) -> None:
    copy_to(_store(root, run), ref, path, src, uid_gid, strict)
