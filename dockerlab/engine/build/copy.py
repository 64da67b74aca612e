"""COPY and ADD: find the sources, hash them for the cache, write them into an image's root.

Nothing here can write outside the root it is given: every destination is resolved by the
engine's one resolver (:class:`~dockerlab.engine.runtime.inroot.Root`: symlinks followed
as if the root were ``/``) and written through the descriptor of its folder; an existing entry is
removed before a new one is created with ``O_EXCL|O_NOFOLLOW``. ADD unpacks local archives
with the engine's one extractor. Sources are found with
:func:`~dockerlab.engine.runtime.inroot.join`, so a symlink in the context (or in a
``--from`` image) cannot lead outside it.

:func:`writable_root` gives a folder to write into and, afterwards, the layer's changes:
an overlay of the image's layers (so whiteouts and copied-up folders are right), or, for an
image with no layers (``scratch``), the bare upper folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import shutil
import stat
import tempfile
from collections.abc import Iterator

from dockerlab.engine.build.events import BuildFailed
from dockerlab.engine.runtime.inroot import Root
from dockerlab.engine.runtime.inroot import join as secure_join
from dockerlab.engine.work import prefix as work_prefix
from dockerlab.errors import DockerlabError, InvalidParameter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    # (source folder, path relative to it) -> hidden by .dockerignore?
    ExcludedBelow = Callable[[str, str], bool]


class CopyFailed(BuildFailed):
    """``COPY failed: …`` (the CLI exits 1)."""


@contextlib.contextmanager
def writable_root(lowers: list[str], tmp_dir: str) -> Iterator[tuple[str, str]]:
    """Yield (root to write into, upper folder holding only the changes)."""
    from dockerlab.engine.runtime import linux as L

    os.makedirs(tmp_dir, exist_ok=True)
    base = tempfile.mkdtemp(prefix=work_prefix("copy"), dir=tmp_dir)
    upper = os.path.join(base, "diff")
    os.mkdir(upper, 0o755)
    try:
        if not lowers:
            yield upper, upper
            return
        work, merged = os.path.join(base, "work"), os.path.join(base, "merged")
        os.mkdir(work)
        os.mkdir(merged)
        data = f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}"
        if os.environ.get("DOCKERLAB_ROOTLESS") == "1":  # (engine/userns.py's helper)
            data += ",userxattr"
        if len(data) > 4000:
            raise DockerlabError(
                f"the image has too many layers to mount for COPY ({len(lowers)} layers)"
            )
        L.mount("overlay", merged, "overlay", 0, data)
        try:
            yield merged, upper
        finally:
            try:
                L.umount(merged)
            except OSError:
                L.umount(merged, 2)  # MNT_DETACH
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def readable_root(lowers: list[str], tmp_dir: str) -> Iterator[str]:
    """Yield a folder showing an image's files (for ``COPY --from``)."""
    if len(lowers) == 1:
        yield lowers[0]
        return
    with writable_root(lowers, tmp_dir) as (root, _upper):
        yield root


# ---- sources ----------------------------------------------------------------------------


class Source:
    """One source to copy: ``path`` on the host, ``name`` its base name for a folder dest."""

    __slots__ = ("is_dir", "name", "path")

    def __init__(self, path: str, name: str) -> None:
        self.path, self.name = path, name
        self.is_dir = stat.S_ISDIR(os.stat(path).st_mode)


def clean_source(src: str) -> str | None:
    """The source's path relative to its root; None when it climbs outside."""
    cleaned = posixpath.normpath(src)
    if cleaned.startswith("/"):
        cleaned = posixpath.normpath(cleaned.lstrip("/")) if cleaned != "/" else "."
    if cleaned == ".." or cleaned.startswith("../"):
        return None
    return cleaned


def find_sources(
    root: str,
    srcs: list[str],
    walk: Callable[[], list[str]],
    excluded: Callable[[str], bool],
    what: str,
) -> list[Source]:
    """Resolve each source pattern under ``root`` (``walk()`` lists visible paths,
    ``excluded(rel)`` says if a path is hidden)."""
    from dockerlab.engine.build.context import go_match, has_wildcards

    out: list[Source] = []
    listing: list[str] | None = None
    for src in srcs:
        rel = clean_source(src)
        if rel is None:
            raise CopyFailed(f"{what} failed: forbidden path outside the build context: {src} ()")
        if has_wildcards(rel):
            listing = walk() if listing is None else listing
            taken: list[str] = []
            for cand in listing:
                if any(cand.startswith(t + "/") for t in taken):
                    continue
                if go_match(rel, cand):
                    taken.append(cand)
                    out.append(Source(secure_join(root, cand), posixpath.basename(cand)))
            continue
        if rel != "." and excluded(rel):
            raise CopyFailed(
                f"{what} failed: file not found in build context or excluded "
                f"by .dockerignore: stat {src}: file does not exist"
            )
        path = secure_join(root, rel) if rel != "." else root
        if not os.path.exists(path):
            raise CopyFailed(
                f"{what} failed: file not found in build context or excluded "
                f"by .dockerignore: stat {src}: file does not exist"
            )
        out.append(Source(path, posixpath.basename(rel) if rel != "." else ""))
    if not out:
        raise CopyFailed(f"{what} failed: no source files were specified")
    return out


def _tree(src: Source, excluded_below: ExcludedBelow) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of a source: itself for a file, the contents for a folder."""
    if not src.is_dir:
        yield "", os.stat(src.path)
        return
    for folder, dirs, files in os.walk(src.path):
        dirs.sort()
        rel_folder = os.path.relpath(folder, src.path)
        rel_folder = "" if rel_folder == "." else rel_folder
        kept = []
        for d in dirs:
            rel = f"{rel_folder}/{d}" if rel_folder else d
            if excluded_below(src.path, rel):
                continue
            st = os.lstat(os.path.join(folder, d))
            yield rel, st
            if not stat.S_ISLNK(st.st_mode):
                kept.append(d)
        dirs[:] = kept
        for f in sorted(files):
            rel = f"{rel_folder}/{f}" if rel_folder else f
            if excluded_below(src.path, rel):
                continue
            yield rel, os.lstat(os.path.join(folder, f))


def content_hash(sources: list[Source], excluded_below: ExcludedBelow) -> str:
    """``file:<hex>``, ``dir:<hex>`` or ``multi:<hex>`` as Docker's history shows.

    The hash covers names, types, modes, sizes, link targets and contents (not times or
    owners, as Docker's), so touching a file keeps the cache and editing it does not.
    """
    outer = hashlib.sha256()
    for src in sources:
        h = hashlib.sha256()
        for rel, st in _tree(src, excluded_below):
            h.update(
                f"{rel}\0{stat.S_IFMT(st.st_mode)}\0{stat.S_IMODE(st.st_mode)}\0"
                f"{st.st_size}\0".encode()
            )
            full = os.path.join(src.path, rel) if rel else src.path
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(full).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
        outer.update(src.name.encode() + b"\0" + h.digest())
        if len(sources) == 1:
            kind = "dir" if src.is_dir else "file"
            return f"{kind}:{h.hexdigest()}"
    return f"multi:{outer.hexdigest()}"


# ---- writing ------------------------------------------------------------------------------


def lookup_owner(root: str, spec: str) -> tuple[int, int]:
    """``--chown=user[:group]`` with names looked up in the image's /etc/passwd and group."""
    user, _, group = spec.partition(":")

    def find(file: str, name: str, field: int) -> int | None:
        try:
            with open(secure_join(root, file), encoding="utf-8", errors="replace") as f:
                for line in f:
                    parts = line.rstrip("\n").split(":")
                    if len(parts) > field and parts[0] == name:
                        return int(parts[field])
        except (OSError, ValueError):
            return None
        return None

    if user.isdigit():
        uid = int(user)
        gid_default = uid
    else:
        found = find("etc/passwd", user, 2)
        if found is None:
            raise CopyFailed(
                "unable to convert uid/gid chown string to host mapping: can't "
                f"find uid for user {user}: no such user: {user}"
            )
        uid = found
        gid_found = find("etc/passwd", user, 3)
        gid_default = uid if gid_found is None else gid_found
    if not group:
        return uid, gid_default
    if group.isdigit():
        return uid, int(group)
    gid = find("etc/group", group, 2)
    if gid is None:
        raise CopyFailed(
            "unable to convert uid/gid chown string to host mapping: can't "
            f"find gid for group {group}: no such group: {group}"
        )
    return uid, gid


def _make_dirs(root: str, rel: str, owner: tuple[int, int]) -> None:
    """Create the folders of ``rel`` (inside ``root``) that are missing (0755, ``owner``); a
    non-folder in the way is replaced."""
    with Root(root) as r, r.mkdirs(rel, 0o755, owner, replace=True):
        pass


def _write_entry(
    src: str, st: os.stat_result, root: Root, rel: str, owner: tuple[int, int]
) -> None:
    """``src`` (its lstat ``st``) as ``rel`` in ``root``: an existing entry there is replaced
    (a folder is kept for a folder), never followed."""
    folder, name = root.parent(rel)
    with folder:
        at = folder.fd
        try:
            cur: os.stat_result | None = os.stat(name, dir_fd=at, follow_symlinks=False)
        except FileNotFoundError:
            cur = None
        mode = st.st_mode
        times = (st.st_mtime_ns, st.st_mtime_ns)
        if stat.S_ISDIR(mode):
            if cur is not None and not stat.S_ISDIR(cur.st_mode):
                os.unlink(name, dir_fd=at)
                cur = None
            if cur is None:
                os.mkdir(name, 0o700, dir_fd=at)
            fd = os.open(
                name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=at
            )
            try:
                os.fchown(fd, *owner)
                os.fchmod(fd, stat.S_IMODE(mode))
                os.utime(fd, ns=times)
            finally:
                os.close(fd)
            return
        if cur is not None:
            if stat.S_ISDIR(cur.st_mode):
                shutil.rmtree(name, dir_fd=at)
            else:
                os.unlink(name, dir_fd=at)
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(src), name, dir_fd=at)
            os.chown(name, *owner, dir_fd=at, follow_symlinks=False)
            os.utime(name, ns=times, dir_fd=at, follow_symlinks=False)
            return
        if stat.S_ISFIFO(mode):
            os.mkfifo(name, 0o600, dir_fd=at)
            fd = os.open(
                name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=at
            )
        elif stat.S_ISREG(mode):
            fd = os.open(
                name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=at,
            )
            with open(src, "rb") as inp:
                while chunk := inp.read(1 << 20):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
        else:
            return  # devices and sockets are not copied
        try:
            os.fchown(fd, *owner)
            os.fchmod(fd, stat.S_IMODE(mode))
            os.utime(fd, ns=times)
        finally:
            os.close(fd)


def is_dir_in(root: str | Root, rel: str) -> bool:
    if isinstance(root, str):
        with Root(root) as r:
            return is_dir_in(r, rel)
    try:
        with root.resolve(rel) as entry:
            return entry.is_dir
    except (FileNotFoundError, NotADirectoryError):
        return False


def copy_sources(
    sources: list[Source],
    root: str,
    dest: str,
    owner: tuple[int, int],
    excluded_below: ExcludedBelow,
    what: str,
    unpack: bool = False,
) -> None:
    """Docker's COPY rules: a folder's *contents* go to ``dest``; a file goes to
    ``dest/name`` when ``dest`` ends with ``/`` or is an existing folder, else to ``dest``;
    several sources need a folder ``dest`` ending with ``/``. ``unpack`` (ADD) unpacks local
    tar archives into ``dest``."""
    dest_dir = dest.endswith("/") or dest.endswith("/.") or dest == "."
    if len(sources) > 1 and not dest_dir:
        raise CopyFailed(
            f"When using {what} with more than one source file, the destination "
            "must be a directory and end with a /"
        )
    dest = posixpath.normpath("/" + dest.lstrip("/"))
    with Root(root) as r:
        for src in sources:
            if src.is_dir:
                r.mkdirs(dest, 0o755, owner, replace=True).close()
                for rel, st in _tree(src, excluded_below):
                    _write_entry(os.path.join(src.path, rel), st, r, f"{dest}/{rel}", owner)
                continue
            if unpack and _archive_kind(src.path):
                with r.mkdirs(dest, 0o755, owner, replace=True) as folder:
                    _unpack(src.path, folder.fd, owner if what_owner(owner) else None)
                continue
            into = dest_dir or is_dir_in(r, dest)
            target = f"{dest.rstrip('/')}/{src.name}" if into else dest
            parent = posixpath.dirname(target)
            if parent and parent != "/":
                r.mkdirs(parent, 0o755, owner, replace=True).close()
            _write_entry(src.path, os.stat(src.path), r, target, owner)


def what_owner(owner: tuple[int, int]) -> bool:
    return owner != (0, 0)


def _archive_kind(path: str) -> bool:
    from dockerlab.engine.build.context import is_archive

    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return False
    return is_archive(head)


def _unpack(archive: str, dest: int, owner: tuple[int, int] | None) -> None:
    """Unpack a local tar (gzip, bzip2, xz, zstd) into the folder descriptor ``dest`` with the
    engine's one extractor: nothing may land outside it."""
    from dockerlab.engine.images.archive import extract
    from dockerlab.engine.images.inflate import Budget

    name = os.path.basename(archive)
    try:
        with open(archive, "rb") as f:
            # one pass, decompressed within bounds (ratio, free disk, header sizes)
            extract(
                f,
                dest,
                owner=owner,
                keep_owner=owner is None,
                shown=name,
                error_prefix=f"ADD failed: cannot unpack {name}",
                budget=Budget(dest, prefix="ADD failed"),
            )
    except InvalidParameter as exc:
        if str(exc).startswith("ADD failed"):
            raise
        if str(exc).startswith("Error processing tar file"):  # Docker's classic builder
            raise InvalidParameter(f"failed to copy files: {exc}") from None
        raise InvalidParameter(f"ADD failed: refusing to unpack {name}: {exc}") from None


# ---- rootless: a step's files in the user's namespace (engine/userns.py) -------------------


def step_inside(root: str, op: str, spec: dict[str, Any]) -> str:
    """(In the rootless helper) one build step's files: ``hash`` returns the digest of
    ``COPY --from`` sources; ``copy`` and ``workdir`` write the step on an overlay of
    ``lowers`` and return the path of its layer tar (``out``; "" when nothing changed)."""
    from dockerlab.engine.build.context import PatternMatcher
    from dockerlab.engine.userns import below

    tmp = below(root, spec["tmp"])
    for path in [*spec["lowers"], *(spec.get("from") or [])]:
        below(root, path)
    what = spec.get("what", "COPY")
    if op == "hash":
        with _from_root(spec["from"], tmp) as src_root:
            found = find_sources(src_root, spec["srcs"], lambda: walk_names(src_root), _no, what)
            return content_hash(found, _none_below)
    with writable_root(spec["lowers"], tmp) as (dest_root, up):
        if op == "workdir":
            _make_dirs(dest_root, spec["path"], (0, 0))
        else:
            owner = lookup_owner(dest_root, spec["chown"]) if spec["chown"] else (0, 0)
            try:
                if spec.get("from") is not None:
                    with _from_root(spec["from"], tmp) as src_root:
                        walk = lambda: walk_names(src_root)  # noqa: E731
                        found = find_sources(src_root, spec["srcs"], walk, _no, what)
                        copy_sources(found, dest_root, spec["dest"], owner, _none_below, what)
                else:
                    ignore = PatternMatcher(spec["patterns"]) if spec["patterns"] else None
                    ctx = spec["context"]

                    def excluded_below(src_path: str, rel: str) -> bool:
                        full = os.path.relpath(os.path.join(src_path, rel), ctx)
                        return ignore is not None and full not in ("", ".") and ignore.matches(full)

                    found = [Source(path, name) for path, name in spec["sources"]]
                    copy_sources(
                        found, dest_root, spec["dest"], owner, excluded_below, what, spec["unpack"]
                    )
            except OSError as exc:
                raise BuildFailed(
                    f"{what} failed: {exc.strerror or exc}: {exc.filename or spec['shown']}"
                ) from exc
        if not os.listdir(up):
            return ""
        from dockerlab.engine.images.archive import pack_dir

        tar = below(root, spec["out"])  # named by the caller: the sweeps see it as theirs
        with open(tar, "wb") as f:
            pack_dir(up, f)
        return tar


def _no(_rel: str) -> bool:
    return False


def _none_below(_src: str, _rel: str) -> bool:
    return False


def walk_names(root: str) -> list[str]:
    """Every name below ``root``, relative, folders before their entries, sorted."""
    out = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(folder, root)
        for n in sorted(dirs) + sorted(files):
            out.append(n if rel == "." else f"{rel}/{n}")
    return out


@contextlib.contextmanager
def _from_root(lowers: list[str], tmp: str) -> Iterator[str]:
    if lowers:
        with readable_root(lowers, tmp) as src_root:
            yield src_root
        return
    path = tempfile.mkdtemp(prefix=work_prefix("empty"), dir=tmp)
    try:
        yield path
    finally:
        os.rmdir(path)
