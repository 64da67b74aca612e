"""``vfs``: a container's root is a full copy of its image's layers (Docker's vfs driver).

No mount of layers at all, so it works where neither the kernel's overlay nor FUSE does;
it costs the copy at ``create`` (each container's files once more on disk) and a tree
comparison for ``diff``/``commit``.

- :func:`populate` copies the merged view of the layers (the init layer on top) into
  ``overlay/<id>/merged``: owners, modes, times to the nanosecond, xattrs, hardlinks kept
  (busybox's applets are one file), whiteouts applied. It runs inside the create's staging:
  a create cut short is removed with its half-made copy by the next load.
- ``diff`` is :func:`~dockerlab.engine.images.changes.tree_changes` of the copy against
  those layers (moby's naive diff: kind, mode, owner, size, modification time).
- :func:`changes_folder` turns those changes into an overlay-form ``diff/`` folder (changed
  files linked or copied, deleted paths as whiteouts), which ``commit`` and ``build`` pack as
  they pack an overlay container's upper folder.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

if __name__ == "__main__":  # the rootless copy helper (below): make the package importable
    sys.path.insert(0, sys.argv[1])

from dockerlab.engine.images.changes import DELETE, _Level, container_layers, tree_changes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_SKIPPED_XATTRS = ("trusted.overlay.", "user.overlay.", "user.fuseoverlayfs.")


def _copy_xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        if name.startswith(_SKIPPED_XATTRS):
            continue
        try:
            value = os.getxattr(src, name, follow_symlinks=False)
            os.setxattr(dst, name, value, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.ENOTSUP, errno.EPERM, errno.EINVAL, errno.ENODATA):
                raise


def _meta(src: str, dst: str, st: os.stat_result) -> None:
    """Owner, mode, xattrs and times of ``src`` onto ``dst`` (a link: owner and times)."""
    if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
        os.lchown(dst, st.st_uid, st.st_gid)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))  # after chown, which clears setuid bits
        _copy_xattrs(src, dst)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_file(src: str, dst: str) -> None:
    """Content of ``src`` into a new ``dst``: a reflink where the filesystem has them."""
    fin = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            try:
                import fcntl

                fcntl.ioctl(fout, 0x40049409, fin)  # FICLONE
                return
            except OSError:
                pass
            while os.copy_file_range(fin, fout, 1 << 30):
                pass
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def copy_entry(
    src: str, dst: str, st: os.stat_result, links: dict[tuple[int, int], str] | None
) -> None:
    """One entry (not a folder's content) at the new path ``dst``, as ``src`` is; with
    ``links``, files seen before under another name become hardlinks of their copy."""
    kind = stat.S_IFMT(st.st_mode)
    if kind == stat.S_IFDIR:
        os.mkdir(dst, 0o700)
        return  # its metadata after its content (the caller's)
    if kind == stat.S_IFREG:
        key = (st.st_dev, st.st_ino)
        if links is not None and st.st_nlink > 1 and key in links:
            os.link(links[key], dst)
            return
        _copy_file(src, dst)
        if links is not None and st.st_nlink > 1:
            links[key] = dst
    elif kind == stat.S_IFLNK:
        os.symlink(os.readlink(src), dst)
    elif kind in (stat.S_IFCHR, stat.S_IFBLK):
        os.mknod(dst, kind | 0o600, st.st_rdev)
    elif kind == stat.S_IFIFO:
        os.mkfifo(dst, 0o600)
    else:
        return  # sockets are not copied (as Docker's copy skips them)
    _meta(src, dst, st)


def populate(lowers: list[str], dest: str) -> None:
    """Copy the merged view of the layer folders ``lowers`` (top first) into the existing,
    empty folder ``dest``; the root folder takes the top layer's metadata. In rootless mode,
    files of the user's subordinate IDs can only be copied with their owners by the user
    namespace's root: where the user alone cannot, a helper in a namespace of the same
    mapping makes the copy (as ``rootless.rmtree`` removes such files)."""
    from dockerlab.engine import rootless

    if not rootless.enabled() or rootless.in_userns():
        _copy_all(lowers, dest)
        return
    try:
        _copy_all(lowers, dest)
        return
    except PermissionError:
        pass
    rootless.rmtree(dest)
    os.mkdir(dest, 0o755)
    here = os.path.abspath(__file__)  # dockerlab/engine/storage/vfs.py
    pkg = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(here))))
    err_r, err_w = os.pipe()
    try:
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-I", "-S", here, pkg, dest, *lowers],
            dict(os.environ),
            file_actions=[(os.POSIX_SPAWN_DUP2, err_w, 2)],
        )
    finally:
        os.close(err_w)
    with os.fdopen(err_r, "rb") as f:
        said = f.read(8192).decode("utf-8", "replace").strip().splitlines()
    if os.waitpid(pid, 0)[1] != 0:
        raise PermissionError(
            1, "copying the image's files in the user namespace failed: " + (said or ["?"])[-1]
        )


def _copy_all(lowers: list[str], dest: str) -> None:
    links: dict[tuple[int, int], str] = {}
    _populate(list(enumerate(lowers)), dest, links)
    for folder in lowers:
        try:
            _meta(folder, dest, os.stat(folder))
            break
        except FileNotFoundError:
            continue


def _populate(folders: list[tuple[int, str]], dest: str, links: dict[tuple[int, int], str]) -> None:
    level = _Level(folders)
    for name, shown in sorted(level.top.items()):
        if shown is None:
            continue
        _, entry = shown
        st = entry.stat(follow_symlinks=False)
        target = os.path.join(dest, name)
        copy_entry(entry.path, target, st, links)
        if stat.S_ISDIR(st.st_mode):
            _populate(level.dirs.get(name, []), target, links)
            _meta(entry.path, target, st)


def changes_folder(c: Any, dest: str) -> str:
    """Write the changes of the vfs container ``c`` into the new folder ``dest`` in overlay
    form (an upper ``diff/``: changed entries, whiteouts for deleted ones); returns
    ``dest``. Files are hardlinked from the copy where the kernel allows, else copied."""
    root = os.path.join(c.layer_dir, "merged")
    _, lowers = container_layers(c)
    os.mkdir(dest, 0o755)
    folders: list[tuple[str, str, os.stat_result]] = []
    for path, kind in tree_changes(root, lowers):
        target = dest + path
        head = os.path.dirname(target)
        if not os.path.isdir(head):  # a deleted or changed entry's unchanged parents
            os.makedirs(head, 0o755)
        if kind == DELETE:
            os.mknod(target, stat.S_IFCHR | 0o600, 0)  # overlay's whiteout
            continue
        src = root + path
        try:
            st = os.lstat(src)
        except FileNotFoundError:  # gone meanwhile (a running container)
            continue
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(target, 0o700)
            folders.append((src, target, st))
            continue
        if stat.S_ISREG(st.st_mode):
            try:
                os.link(src, target)
                continue
            except OSError:  # another filesystem, or protected_hardlinks: a copy
                pass
        copy_entry(src, target, st, None)
    for src, target, st in reversed(folders):  # deepest first: times stay as set
        _meta(src, target, st)
    return dest


def rw_size(c: Any) -> int:
    """Docker's SizeRw on vfs: the bytes of the files the container added or changed."""
    root = os.path.join(c.layer_dir, "merged")
    _, lowers = container_layers(c)
    total = 0
    seen: set[tuple[int, int]] = set()
    for path, kind in tree_changes(root, lowers):
        if kind == DELETE:
            continue
        try:
            st = os.lstat(root + path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) or (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        total += st.st_size
    return total


if __name__ == "__main__":  # python -I -S vfs.py PKGDIR DEST LOWER…: populate as the ns's root
    from dockerlab.engine import rootless as _rl
    from dockerlab.engine.runtime import linux as _L

    _L.load()
    _L.prctl(_L.PR_SET_PDEATHSIG, 9)  # a killed create's copy stops too (the next load
    _rl.enter(_L)  # removes what it left)
    _copy_all(sys.argv[3:], sys.argv[2])
