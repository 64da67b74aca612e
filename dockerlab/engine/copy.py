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

Paths are resolved as the container would resolve them: every symlink is read on the host
but interpreted with the container's root as ``/`` (see :class:`View`), so a link to ``/etc``
inside the container never reaches the host's ``/etc``. Writes go through directory file
descriptors opened with ``O_NOFOLLOW`` (the same walker that unpacks image layers), so an
entry of the uploaded tar cannot leave the extraction folder either.
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

from dockerlab.engine import linux as L
from dockerlab.engine.archive import add_entry
from dockerlab.errors import Conflict, Forbidden, InvalidParameter, NotFound

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
    mode |= {stat.S_IFDIR: GO_DIR, stat.S_IFLNK: GO_SYMLINK, stat.S_IFIFO: GO_PIPE,
             stat.S_IFSOCK: GO_SOCKET, stat.S_IFBLK: GO_DEVICE,
             stat.S_IFCHR: GO_DEVICE | GO_CHARDEV}.get(kind, 0)
    if st_mode & stat.S_ISUID:
        mode |= GO_SETUID
    if st_mode & stat.S_ISGID:
        mode |= GO_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= GO_STICKY
    return mode


def _rfc3339(st: os.stat_result) -> str:
    import time

    secs, frac = divmod(st.st_mtime_ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    f = f"{frac:09d}".rstrip("0")
    return f"{text}.{f}Z" if f else f"{text}Z"


# ---- the container's filesystem as the host sees it ---------------------------------------


class Mount:
    __slots__ = ("dest", "rw", "source")

    def __init__(self, dest: str, source: str, rw: bool) -> None:
        self.dest, self.source, self.rw = posixpath.normpath(dest), source, rw


class View:
    """A container root (host folder) plus its mounts, resolved the container's way."""

    def __init__(self, root: str, mounts: list[Mount] | None = None) -> None:
        self.root = root
        self.mounts = sorted(mounts or [], key=lambda m: len(m.dest), reverse=True)

    def mount_of(self, ctr_path: str) -> Mount | None:
        for m in self.mounts:
            if ctr_path == m.dest or ctr_path.startswith(m.dest.rstrip("/") + "/"):
                return m
        return None

    def host(self, ctr_path: str) -> str:
        """The host path of an already resolved container path (mount-aware, no links)."""
        m = self.mount_of(ctr_path)
        if m is None:
            return os.path.join(self.root, ctr_path.lstrip("/"))
        rest = ctr_path[len(m.dest):].lstrip("/")
        return os.path.join(m.source, rest) if rest else m.source

    def resolve(self, path: str, follow_last: bool = True) -> str:
        """The container path ``path`` names after its symlinks (``/`` is the container's
        root; ``..`` never climbs above it). The last component is followed only with
        ``follow_last``."""
        parts = [p for p in path.split("/") if p not in ("", ".")]
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            current = "/" + "/".join([*done, part])
            if not parts and not follow_last:
                done.append(part)
                break
            try:
                st = os.lstat(self.host(current))
            except (FileNotFoundError, NotADirectoryError):
                done.append(part)
                continue
            if not stat.S_ISLNK(st.st_mode):
                done.append(part)
                continue
            hops += 1
            if hops > 40:
                raise InvalidParameter(f"too many levels of symbolic links: {path}")
            target = os.readlink(self.host(current))
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
        return "/" + "/".join(done)

    def resource(self, path: str) -> tuple[str, str, str]:
        """Docker's ``ResolvePath``: (host path, resolved container path, absolute path as
        asked) with the parent's links resolved and the last component not followed."""
        abs_path = _preserve_trailing(posixpath.normpath("/" + path), path)
        head, base = abs_path.rsplit("/", 1)
        parent = self.resolve(head or "/")
        if base in ("", "."):
            return self.host(parent) + ("/" if base == "" else "/."), parent, abs_path
        ctr = posixpath.join(parent, base)
        return self.host(ctr), ctr, abs_path


def _preserve_trailing(cleaned: str, original: str) -> str:
    """``archive.PreserveTrailingDotOrSeparator``."""
    if original.endswith("/.") or original == ".":
        return cleaned.rstrip("/") + "/." if cleaned != "/" else "/."
    if original.endswith("/") and not cleaned.endswith("/"):
        return cleaned + "/"
    return cleaned


def _mounts(c: Any) -> list[Mount]:
    out = [Mount(m["Destination"], m["Source"], bool(m.get("RW", True)))
           for m in c.config.get("MountPoints") or [] if m.get("Source")]
    for key, dest in (("HostsPath", "/etc/hosts"), ("HostnamePath", "/etc/hostname"),
                      ("ResolvConfPath", "/etc/resolv.conf")):
        if c.config.get(key) and os.path.exists(c.config[key]):
            out.append(Mount(dest, c.config[key], True))
    return out


@contextlib.contextmanager
def _rootfs(engine: Any, ref: str, write: bool) -> Iterator[tuple[Any, View]]:
    """The container and a :class:`View` of its files; stopped ones get a temporary mount."""
    c = engine.store.find(ref)
    merged = os.path.join(c.layer_dir, "merged")
    if c.running and os.path.ismount(merged):
        yield c, View(merged, _mounts(c))
        return
    with c.lock():
        c.refresh(locked=True)
        if c.running and os.path.ismount(merged):
            yield c, View(merged, _mounts(c))
            return
        with _temporary_mount(engine.paths, c, write) as root:
            yield c, View(root, _mounts(c))


@contextlib.contextmanager
def _temporary_mount(paths: Any, c: Any, write: bool) -> Iterator[str]:
    import subprocess
    import tempfile

    from dockerlab.engine.work import prefix as work_prefix

    rt = c.config["Runtime"]
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
    try:
        if len(absolute) < _PAGE:
            L.mount("overlay", target, "overlay", 0 if write else L.MS_RDONLY, absolute)
        else:  # relative lower links: mount from the overlay folder (never chdir ourselves)
            subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            rel + ("" if write else ",ro"), target],
                           cwd=paths.overlay, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        os.rmdir(target)
        if isinstance(exc, OSError) and exc.errno == errno.EBUSY:
            raise Conflict(f"container {c.id[:12]} is starting; try again") from None
        raise Forbidden(f"cannot mount the filesystem of container {c.id[:12]}: {exc}") from None
    try:
        yield target
    finally:
        try:
            L.umount(target)
        except OSError:
            L.umount(target, L.MNT_DETACH)
        os.rmdir(target)


# ---- stat and archive ---------------------------------------------------------------------


def _not_found(path: str, ref: str) -> NotFound:
    return NotFound(f"Could not find the file {path} in container {ref}")


def _stat(view: View, path: str, ref: str) -> tuple[dict[str, Any], str]:
    """(Docker's path stat, resolved container path) of ``path``."""
    host, ctr, abs_path = view.resource(path)
    try:
        st = os.lstat(host)
    except (FileNotFoundError, NotADirectoryError):
        raise _not_found(path, ref) from None
    link = ""
    if stat.S_ISLNK(st.st_mode):
        link = view.resolve(ctr, follow_last=True)
    name = "." if abs_path.endswith("/.") else posixpath.basename(abs_path.rstrip("/")) or "/"
    return ({"name": name, "size": st.st_size, "mode": go_file_mode(st.st_mode),
             "mtime": _rfc3339(st), "linkTarget": link}, ctr)


def path_stat(engine: Any, ref: str, path: str) -> dict[str, Any]:
    """Docker's ``HEAD /containers/{id}/archive``: name, size, mode (Go ``FileMode``),
    mtime, linkTarget (the fully resolved container path, for a symlink)."""
    with _rootfs(engine, ref, write=False) as (_c, view):
        return _stat(view, path, ref)[0]


def copy_from(engine: Any, ref: str, path: str, out: BinaryIO,
              follow_link: bool = False) -> dict[str, Any]:
    """Docker's ``GET /containers/{id}/archive``: a tar of ``path`` named after its last
    component (``.`` for ``dir/.``); returns the path's stat. With ``follow_link`` a final
    symlink is replaced by what it points to (still named as asked, like ``docker cp -L``)."""
    with _rootfs(engine, ref, write=False) as (_c, view):
        info, ctr = _stat(view, path, ref)
        name = info["name"] if info["name"] != "/" else "."
        if follow_link and info["linkTarget"]:
            info, ctr = _stat(view, info["linkTarget"], ref)
        write_tar(view.host(ctr), name, out, view=view, ctr_path=ctr)
        return info


def write_tar(host_path: str, arcname: str, out: BinaryIO, view: View | None = None,
              ctr_path: str = "", rename: Callable[[str], str] | None = None) -> int:
    """Write ``host_path`` (a file, a link, or a folder and all below it, links never
    followed) as a PAX tar to ``out``, its entries named from ``arcname``. With ``view``
    folders that are mount points inside the container are read from their mount's source.
    Returns the bytes of file content written."""
    total = 0
    seen: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT,
                      copybufsize=_CHUNK) as tf:  # type: ignore[call-overload]

        def add(host: str, name: str, ctr: str) -> None:
            nonlocal total
            st = os.lstat(host)
            ti = tarfile.TarInfo(rename(name) if rename else name)
            ti.mode = stat.S_IMODE(st.st_mode)
            ti.uid, ti.gid = st.st_uid, st.st_gid
            ti.uname = ti.gname = ""
            ti.mtime = int(st.st_mtime)
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
                for child in sorted(os.listdir(host)):
                    child_ctr = f"{ctr.rstrip('/')}/{child}"
                    child_host = view.host(child_ctr) if view is not None and ctr else \
                        os.path.join(host, child)
                    add(child_host, f"{name.rstrip('/')}/{child}", child_ctr)
            else:
                total += add_entry(tf, ti, host, st, seen, name, rename)

        add(host_path, arcname, ctr_path)
    return total


# ---- extraction ---------------------------------------------------------------------------


def untar(src: IO[bytes], dest: str, *, owner: tuple[int, int] | None = None,
          keep_owner: bool = True, no_overwrite_dir_non_dir: bool = True,
          rename: Callable[[str], str] | None = None) -> int:
    """Extract the tar ``src`` into the existing folder ``dest``, never outside it.

    Owners come from the tar (``keep_owner``), or are ``owner`` for every entry, or are left
    to whoever extracts (neither). ``..`` entries and hardlinks out of ``dest`` are refused;
    an entry below a symlink is refused (it would leave the folder). Returns the bytes of
    file content written.
    """
    from dockerlab.engine.archive import _Breakout, _clean, _Tree

    dest = os.path.abspath(dest)
    tree = _Tree(dest)
    total = 0
    dir_times: list[tuple[list[str], int]] = []
    try:
        with tarfile.open(fileobj=src, mode="r|*") as tf:
            for m in tf:
                name = rename(m.name) if rename else m.name
                parts = _clean(name, dest)
                if not parts:
                    continue
                parent = tree.dir(parts[:-1])
                base = parts[-1]
                try:
                    st = os.stat(base, dir_fd=parent, follow_symlinks=False)
                except FileNotFoundError:
                    st = None
                if st is not None:
                    is_dir = stat.S_ISDIR(st.st_mode)
                    shown = "/" + "/".join(parts)
                    if no_overwrite_dir_non_dir and is_dir and not m.isdir():
                        raise InvalidParameter(f'cannot overwrite directory "{shown}" with '
                                               f'non-directory "{shown}"')
                    if no_overwrite_dir_non_dir and not is_dir and m.isdir():
                        raise InvalidParameter(f'cannot overwrite non-directory "{shown}" '
                                               f'with directory "{shown}"')
                    if not (is_dir and m.isdir()):
                        if is_dir:
                            import shutil

                            tree.forget(parts)
                            shutil.rmtree(os.path.join(f"/proc/self/fd/{parent}", base))
                        else:
                            os.unlink(base, dir_fd=parent)
                uid, gid = (m.uid, m.gid) if keep_owner else (owner or (-1, -1))
                mode = m.mode & 0o7777
                mtime = int(m.mtime * 1e9)
                if m.isdir():
                    if st is None or not stat.S_ISDIR(st.st_mode):
                        os.mkdir(base, 0o700, dir_fd=parent)
                    fd = tree.dir(parts)
                    if uid != -1:
                        os.chown(fd, uid, gid)
                    os.chmod(fd, mode)
                    dir_times.append((parts, mtime))
                    continue
                if m.isreg():
                    fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                 | os.O_CLOEXEC, 0o600, dir_fd=parent)
                    try:
                        data = tf.extractfile(m)
                        while chunk := data.read(_CHUNK):  # type: ignore[union-attr]
                            view = memoryview(chunk)
                            while view:
                                view = view[os.write(fd, view):]
                            total += len(chunk)
                        if uid != -1:
                            os.fchown(fd, uid, gid)
                        os.fchmod(fd, mode)
                        os.utime(fd, ns=(mtime, mtime))
                    finally:
                        os.close(fd)
                    continue
                if m.issym():
                    os.symlink(m.linkname, base, dir_fd=parent)
                elif m.islnk():
                    target = rename(m.linkname) if rename else m.linkname
                    lparts = _clean(target, dest)
                    if not lparts:
                        raise _Breakout(f"invalid hardlink {m.name!r} -> {m.linkname!r}")
                    try:
                        lparent = tree.dir(lparts[:-1], create=False)
                        os.link(lparts[-1], base, src_dir_fd=lparent, dst_dir_fd=parent,
                                follow_symlinks=False)
                    except (FileNotFoundError, _Breakout):
                        raise _Breakout(f"invalid hardlink {m.name!r} -> {m.linkname!r}: "
                                        "target is not in the archive") from None
                    continue
                elif m.ischr() or m.isblk():
                    kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
                    os.mknod(base, kind | mode, os.makedev(m.devmajor, m.devminor),
                             dir_fd=parent)
                elif m.isfifo():
                    os.mkfifo(base, mode, dir_fd=parent)
                else:
                    continue
                if uid != -1:
                    os.chown(base, uid, gid, dir_fd=parent, follow_symlinks=False)
                if not m.issym():
                    os.chmod(base, mode, dir_fd=parent)
                os.utime(base, ns=(mtime, mtime), dir_fd=parent, follow_symlinks=False)
        for parts, mtime in sorted(dir_times, key=lambda t: -len(t[0])):
            os.utime(tree.dir(parts, create=False), ns=(mtime, mtime))
    except tarfile.TarError as exc:
        raise InvalidParameter(f"Error processing tar file: {exc}") from None
    finally:
        tree.close()
    return total


def _user_ids(view: View, user: str) -> tuple[int, int]:
    """``USER`` of the container as (uid, gid), read from its own /etc/passwd and group."""
    name, _, group = user.partition(":")

    def lookup(file: str, key: str) -> list[str] | None:
        try:
            with open(view.host(view.resolve(file))) as f:
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
            raise InvalidParameter(f"unable to find user {name}: no matching entries in "
                                   "passwd file")
        uid, gid = int(entry[2]), int(entry[3])
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            g = lookup("/etc/group", group)
            if g is None or len(g) < 3:
                raise InvalidParameter(f"unable to find group {group}: no matching entries "
                                       "in group file")
            gid = int(g[2])
    return uid, gid


def copy_to(engine: Any, ref: str, path: str, src: IO[bytes],
            copy_uid_gid: bool = False, no_overwrite_dir_non_dir: bool = True) -> None:
    """Docker's ``PUT /containers/{id}/archive``: extract the tar ``src`` into the folder
    ``path`` of the container (a final symlink is followed, inside the container).

    Owners are taken from the tar; with ``copy_uid_gid`` and a container ``USER`` they are
    that user's. Refused into read-only volumes and read-only root filesystems.
    """
    with _rootfs(engine, ref, write=True) as (c, view):
        abs_path = view.resolve(posixpath.normpath("/" + path), follow_last=True)
        host = view.host(abs_path)
        try:
            st = os.lstat(host)
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(path, ref) from None
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidParameter("extraction point is not a directory")
        mount = view.mount_of(abs_path)
        if mount is not None and not mount.rw:
            raise Forbidden("mounted volume is marked read-only")
        if mount is None and (c.config.get("HostConfig") or {}).get("ReadonlyRootfs"):
            raise Forbidden("container rootfs is marked read-only")
        user = (c.config.get("Config") or {}).get("User") or ""
        owner = _user_ids(view, user) if copy_uid_gid and user else None
        untar(src, host, owner=owner, keep_owner=owner is None,
              no_overwrite_dir_non_dir=no_overwrite_dir_non_dir)
