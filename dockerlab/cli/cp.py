"""``docker cp``, client side: Docker CLI's path rules (``cp.go`` and moby's
``pkg/archive/copy.go``) over the engine's archive API.

The rules, for ``SRC_PATH`` and ``DEST_PATH``:

    SRC is a file:
      DEST does not exist                 the file is saved as DEST
      DEST does not exist, ends with /    error "no such directory"
      DEST exists and is a file           DEST is overwritten
      DEST exists and is a directory      the file is copied into it, as DEST/<base of SRC>
    SRC is a directory:
      DEST does not exist                 DEST is created; SRC's content goes into it
      DEST exists and is a file           error "cannot copy directory"
      DEST exists and is a directory      SRC ends with /. : its content goes into DEST
                                          otherwise: SRC is copied into DEST (DEST/<base>)

Everything here but :func:`copy_from_container` and :func:`copy_to_container` is pure.
"""

from __future__ import annotations

import os
import posixpath
from typing import IO, Any, NamedTuple

from dockerlab.errors import ClientError, DockerlabError, InvalidParameter

GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27
_GO_IRREGULAR = (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)


ERR_CANNOT_COPY_DIR = "cannot copy directory"
ERR_DIR_NOT_EXISTS = "no such directory"
ERR_NOT_DIRECTORY = "not a directory"


class CopyInfo(NamedTuple):
    path: str
    exists: bool = False
    is_dir: bool = False
    rebase_name: str = ""


def split_container_path(arg: str) -> tuple[str, str]:
    """``ctr:/path`` → ("ctr", "/path"); a local path → ("", path) (``./a:b`` is local)."""
    if arg.startswith((".", "/")) or ":" not in arg:
        return "", arg
    container, _, path = arg.partition(":")
    return container, path


def specifies_current_dir(path: str) -> bool:
    return posixpath.basename(path) == "."


def has_trailing_separator(path: str) -> bool:
    return len(path) > 0 and path.endswith("/")


def asserts_directory(path: str) -> bool:
    return has_trailing_separator(path) or specifies_current_dir(path)


def split_dir_entry(path: str) -> tuple[str, str]:
    """``SplitPathDirEntry``: ("/a", "b") for "/a/b/", ("/a/b", ".") for "/a/b/."."""
    cleaned = posixpath.normpath(path) if path else "."
    if specifies_current_dir(path):
        cleaned = cleaned.rstrip("/") + "/." if cleaned != "/" else "/."
    return posixpath.dirname(cleaned) or ".", posixpath.basename(cleaned)


def rebase_name(path: str, resolved: str) -> tuple[str, str]:
    """``GetRebaseName``: (resolved path with ``/.`` or ``/`` kept, name to rebase to)."""
    if specifies_current_dir(path) and not specifies_current_dir(resolved):
        resolved += "/."
    if has_trailing_separator(path) and not has_trailing_separator(resolved):
        resolved += "/"
    name = ""
    if posixpath.basename(path) != posixpath.basename(resolved):
        name = posixpath.basename(path.rstrip("/")) if path.rstrip("/") else path
    return resolved, name


def rebase_entry(name: str, old: str, new: str) -> str:
    """``RebaseArchiveEntries`` for one name: the first ``old`` becomes ``new``."""
    if old == "/":
        old = ""
    return name.replace(old, new, 1)


def prepare_copy(src: CopyInfo, dst: CopyInfo) -> tuple[str, tuple[str, str] | None]:
    """``PrepareArchiveCopy``: (folder to extract into, (old, new) entry rebase or None).

    Raises :class:`~dockerlab.errors.ClientError` with Docker's words for the impossible cases.
    """
    dst_dir, dst_base = split_dir_entry(dst.path)
    _, src_base = split_dir_entry(src.path)
    if dst.exists and dst.is_dir:
        return dst.path, None
    if dst.exists and src.is_dir:
        raise ClientError(ERR_CANNOT_COPY_DIR)
    if not dst.exists and not src.is_dir and asserts_directory(dst.path):
        raise ClientError(ERR_DIR_NOT_EXISTS)
    if src.rebase_name:
        src_base = src.rebase_name
    return dst_dir, (src_base, dst_base)


def destination_info(path: str) -> CopyInfo:
    """``CopyInfoDestinationPath`` for a local path (symlinks followed, up to 10)."""
    original = path
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    n = 0
    import stat as _stat

    while st is not None and _stat.S_ISLNK(st.st_mode):
        if n > 10:
            raise ClientError(f"too many symlinks in {original}")
        target = os.readlink(path)
        if not target.startswith("/"):
            target = posixpath.join(split_dir_entry(path)[0], target)
        path = target
        n += 1
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
    if st is None:
        parent = split_dir_entry(path)[0]
        try:
            pst = os.stat(parent)
        except FileNotFoundError:
            raise ClientError(f"stat {parent}: no such file or directory") from None
        if not _stat.S_ISDIR(pst.st_mode):
            raise ClientError(ERR_NOT_DIRECTORY)
        return CopyInfo(path)
    return CopyInfo(path, True, _stat.S_ISDIR(st.st_mode))


def source_info(path: str, follow_link: bool) -> CopyInfo:
    """``CopyInfoSourcePath`` for a local path."""
    name = ""
    if follow_link:
        resolved = os.path.realpath(path)
        if not os.path.lexists(resolved):
            raise ClientError(f"lstat {path}: no such file or directory")
        resolved, name = rebase_name(path, resolved)
    else:
        head, base = os.path.split(path)
        resolved = os.path.realpath(head or ".").rstrip("/") + "/" + base
        if has_trailing_separator(path) and posixpath.basename(path) != posixpath.basename(
            resolved
        ):
            name = posixpath.basename(path)
    try:
        st = os.lstat(resolved)
    except (FileNotFoundError, NotADirectoryError):
        raise ClientError(f"lstat {resolved.rstrip('/')}: no such file or directory") from None
    import stat as _stat

    return CopyInfo(resolved, True, _stat.S_ISDIR(st.st_mode), name)


def resolve_local(path: str) -> str:
    """``resolveLocalPath``: absolute, keeping a trailing ``/`` or ``/.``."""
    absolute = os.path.abspath(path)
    if specifies_current_dir(path) and not absolute.endswith("/."):
        return absolute.rstrip("/") + "/."
    if has_trailing_separator(path) and not absolute.endswith("/"):
        return absolute + "/"
    return absolute


def _spool() -> Any:
    import tempfile

    return tempfile.SpooledTemporaryFile(max_size=32 << 20, dir=None)


def copy_from_container(
    engine: Any, container: str, src: str, dst: str, out: IO[bytes], follow_link: bool
) -> tuple[int, str]:
    """``docker cp CONTAINER:SRC DST``; returns (bytes copied, the destination shown)."""
    from dockerlab.engine.containers.copy import untar

    if dst != "-":
        dst = resolve_local(dst)
        parent = split_dir_entry(dst)[0]
        if not os.path.isdir(parent) and not (os.path.isdir(dst) and asserts_directory(dst)):
            raise ClientError(f'invalid output path: directory "{parent}" does not exist')
    rebase = ""
    if follow_link:
        try:
            st = engine.path_stat(container, src)
        except DockerlabError:
            st = None
        if st and st["mode"] & GO_SYMLINK:
            target = st["linkTarget"]
            src, rebase = rebase_name(src, target)
    spool = _spool()
    stat = engine.copy_from(container, src, spool, follow_link=False)
    size = spool.tell()
    spool.seek(0)
    if dst == "-":
        try:
            while chunk := spool.read(1 << 20):
                out.write(chunk)
            out.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            from dockerlab.errors import describe

            raise ClientError(f"write /dev/stdout: {describe(exc)}") from exc
        return size, "STDOUT"
    src_info = CopyInfo(src, True, bool(stat["mode"] & GO_DIR), rebase)
    dst_info = destination_info(dst)
    folder, change = prepare_copy(src_info, dst_info)
    renames = []
    if rebase:
        renames.append((split_dir_entry(src)[1], rebase))
    if change is not None:
        renames.append(change)

    def rename(name: str) -> str:
        for old, new in renames:
            name = rebase_entry(name, old, new)
        return name

    copied = untar(spool, folder, keep_owner=False, no_overwrite_dir_non_dir=True, rename=rename)
    return copied, dst


def copy_to_container(
    engine: Any,
    container: str,
    src: str,
    dst: str,
    stdin: IO[bytes],
    follow_link: bool,
    copy_uid_gid: bool,
) -> tuple[int, str]:
    """``docker cp SRC CONTAINER:DST``; returns (bytes copied, the destination shown)."""
    from dockerlab.engine.containers.copy import write_tar

    if src != "-":
        src = resolve_local(src)
    dst_info = CopyInfo(dst)
    try:
        st = engine.path_stat(container, dst)
        if st["mode"] & GO_SYMLINK:
            target = st["linkTarget"]
            dst_info = CopyInfo(target)
            st = engine.path_stat(container, target)
    except DockerlabError:
        st = None
    if st is not None and st["mode"] & _GO_IRREGULAR and not st["mode"] & GO_DIR:
        raise ClientError(f'destination "{container}:{dst}" must be a directory or a regular file')
    if st is not None:
        dst_info = CopyInfo(dst_info.path, True, bool(st["mode"] & GO_DIR))
    if src == "-":
        if not dst_info.is_dir:
            raise ClientError(f'destination "{container}:{dst}" must be a directory')
        spool = _spool()
        while chunk := stdin.read(1 << 20):
            spool.write(chunk)
        size = spool.tell()
        spool.seek(0)
        engine.copy_to(container, dst_info.path, spool, copy_uid_gid)
        return size, f"{container}:{dst}"
    src_info = source_info(src, follow_link)
    folder, change = prepare_copy(src_info, dst_info)
    src_dir, src_base = split_dir_entry(src_info.path)
    renames = []
    if src_info.rebase_name:
        renames.append((src_base, src_info.rebase_name))
    if change is not None:
        renames.append(change)

    def rename(name: str) -> str:
        for old, new in renames:
            name = rebase_entry(name, old, new)
        return name

    spool = _spool()
    host = src_info.path[:-2] if src_info.path.endswith("/.") else src_info.path.rstrip("/")
    size = write_tar(host or "/", src_base, spool, rename=rename)
    spool.seek(0)
    engine.copy_to(container, folder, spool, copy_uid_gid)
    return size, f"{container}:{dst}"


def check_args(src: str, dst: str) -> tuple[str, str, str, str]:
    """(src container, src path, dst container, dst path) or Docker's refusal."""
    sc, sp = split_container_path(src)
    dc, dp = split_container_path(dst)
    if sc and dc:
        raise ClientError("copying between containers is not supported")
    if not sc and not dc:
        raise ClientError("must specify at least one container source")
    if (sc and not sp) or (dc and not dp):
        raise InvalidParameter("filepath cannot be empty")
    return sc, sp, dc, dp
