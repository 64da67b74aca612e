"""What a layer changed: ``docker diff`` and the layer inspection the widgets draw.

A layer here is an overlay ``diff/`` folder (whiteouts as char devices 0/0, opaque folders
marked ``trusted.overlay.opaque=y``) over a stack of lower folders, top first. The rules are
Docker's (moby ``pkg/archive/changes.go``; the tree comparison ``docker diff`` shows when the
daemon compares merged trees):

- a path in the layer that the layers below do not have is ``A``, and so is everything under
  it (no lookups below a new folder: that is what keeps 10 000 new files fast);
- a non-folder the layers below have is ``C``; a folder is ``C`` when its mode or owner
  changed, or when anything below it changed (every parent of a change is listed);
- a whiteout is ``D`` for the path it hides; a deleted folder is listed once;
- an opaque folder (deleted, then made again) is ``C``; what it holds is ``A`` and what the
  layers below held in it and it no longer has is ``D``;
- ``/etc/hosts``, ``/etc/hostname``, ``/etc/resolv.conf`` and ``/.dockerenv`` (the engine's
  own files) are never listed for a container.

Results are ``(path, kind)`` tuples sorted by path, kind as the Docker API: 0 = C, 1 = A,
2 = D. Nothing here mounts anything: the merged view of a stack of layers is computed by
reading the layer folders themselves (``merged_entries``, ``lookup``).
"""

from __future__ import annotations

import os
import stat
from typing import Any

from dockerlab.engine.images.archive import WHITEOUT_OPAQUE, WHITEOUT_PREFIX, is_opaque

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockerlab.engine.containers.store import ContainerStore
    from dockerlab.engine.images.store import ImageStore

MODIFY, ADD, DELETE = 0, 1, 2
KIND_LETTERS = ("C", "A", "D")
ENGINE_PATHS = frozenset({"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv"})


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _entry_is_whiteout(entry: os.DirEntry[str]) -> bool:
    """True for a char device 0/0; a stat only for entries that are not file/dir/link."""
    if entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False):
        return False
    if entry.is_symlink():
        return False
    try:
        return is_whiteout(entry.stat(follow_symlinks=False))
    except FileNotFoundError:  # gone meanwhile (a running container)
        return False


class _Level:
    """One folder of the merged view of a stack of layer folders (top first).

    ``top[name]`` is ``(index, entry)`` of the entry that shows (None: whited out),
    ``below[name]`` whether the merged view under that entry's layer also had the name,
    ``dirs[name]`` the folders that merge into that child folder (top first).
    """

    __slots__ = ("below", "dirs", "top")

    def __init__(self, folders: list[tuple[int, str]]) -> None:
        top: dict[str, tuple[int, os.DirEntry[str]] | None] = {}
        below: dict[str, bool] = {}
        dirs: dict[str, list[tuple[int, str]]] = {}
        open_: set[str] = set()  # child folders still merging with lower layers
        pending: set[str] = set()  # names whose next occurrence below is not seen yet
        for index, folder in folders:
            try:
                it = os.scandir(folder)
            except (FileNotFoundError, NotADirectoryError):
                continue
            with it:
                for e in it:
                    name = e.name
                    if name.startswith(WHITEOUT_PREFIX) and e.is_file(follow_symlinks=False):
                        # a whiteout in the tar's form (where mknod 0/0 was refused) or
                        # fuse-overlayfs's opaque marker (is_opaque reads it)
                        name = name[len(WHITEOUT_PREFIX) :]
                        if name.startswith(WHITEOUT_PREFIX[:-1]):
                            continue
                        if name not in top:
                            top[name] = None
                        pending.discard(name)  # (a whiteout below: below stays False)
                        open_.discard(name)
                        continue
                    if name not in top:
                        if _entry_is_whiteout(e):
                            top[name] = None
                            continue
                        top[name] = (index, e)
                        below[name] = False
                        pending.add(name)
                        if e.is_dir(follow_symlinks=False):
                            dirs[name] = [(index, e.path)]
                            if not is_opaque(e.path):
                                open_.add(name)
                        continue
                    if name in pending:
                        pending.discard(name)
                        below[name] = not _entry_is_whiteout(e)
                    if name in open_:
                        if e.is_dir(follow_symlinks=False):
                            dirs[name].append((index, e.path))
                            if is_opaque(e.path):
                                open_.discard(name)
                        else:
                            open_.discard(name)
        self.top, self.below, self.dirs = top, below, dirs


# ---- container / layer changes ---------------------------------------------------------------


def changes(
    upper: str, lowers: list[str], hidden: frozenset[str] = frozenset()
) -> list[tuple[str, int]]:
    """Changes of the layer folder ``upper`` over ``lowers`` (top first), sorted by path."""
    out: list[tuple[str, int]] = []
    try:
        fd = os.open(upper, _DIR_FLAGS & ~os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        return out
    try:
        _walk(fd, "", [(i, d) for i, d in enumerate(lowers)], False, out, hidden)
    finally:
        os.close(fd)
    out.sort()
    return out


# The writable layer of a running container changes under us: it is walked through folder
# descriptors, each child opened O_NOFOLLOW relative to its parent, so a folder swapped for a
# symlink meanwhile is never followed out of the layer (it is listed as it was, or not at all).
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_child(parent: int, name: str) -> int | None:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError:  # gone, or no longer a folder (ELOOP, ENOTDIR)
        return None


def container_changes(upper: str, lowers: list[str]) -> list[tuple[str, int]]:
    """``docker diff``: ``changes`` without the engine's own files."""
    return changes(upper, lowers, ENGINE_PATHS)


def _same_owner_and_mode(a: os.DirEntry[str], b: os.DirEntry[str]) -> bool:
    try:
        sa, sb = a.stat(follow_symlinks=False), b.stat(follow_symlinks=False)
    except FileNotFoundError:
        return False
    return (sa.st_mode, sa.st_uid, sa.st_gid) == (sb.st_mode, sb.st_uid, sb.st_gid)


def _walk(
    folder: int,
    rel: str,
    lowers: list[tuple[int, str]],
    opaque: bool,
    out: list[tuple[str, int]],
    hidden: frozenset[str],
) -> None:
    level = _Level(lowers)
    top = level.top
    seen: set[str] = set()
    with os.scandir(folder) as it:
        entries = list(it)
    for e in entries:
        name = e.name
        path = f"{rel}/{name}"
        seen.add(name)
        if path in hidden:
            continue
        if name.startswith(WHITEOUT_PREFIX) and e.is_file(follow_symlinks=False):
            # fuse-overlayfs's whiteout (``.wh.<name>``) or opaque marker, where it could
            # not make a device 0/0 or write an xattr (engine/storage/fuse.py)
            gone = name[len(WHITEOUT_PREFIX) :]
            if name != WHITEOUT_OPAQUE and not opaque and top.get(gone) is not None:
                out.append((f"{rel}/{gone}", DELETE))
            continue
        below = None if opaque else top.get(name)
        if _entry_is_whiteout(e):
            if below is not None:
                out.append((path, DELETE))
            continue
        is_dir = e.is_dir(follow_symlinks=False)
        child = _open_child(folder, name) if is_dir else None
        try:
            if below is None:
                out.append((path, ADD))
                if child is not None:
                    _added(child, path, out, hidden)
                continue
            if not is_dir:
                out.append((path, MODIFY))
                continue
            lower_entry = below[1]
            start = len(out)
            if child is None:
                changed = True
            elif not lower_entry.is_dir(follow_symlinks=False):
                _added(child, path, out, hidden)
                changed = True
            else:
                child_opaque = is_opaque(child)
                _walk(child, path, level.dirs.get(name, []), child_opaque, out, hidden)
                changed = child_opaque or not _same_owner_and_mode(e, lower_entry)
        finally:
            if child is not None:
                os.close(child)
        if changed or len(out) > start:
            out.append((path, MODIFY))
    if opaque:  # what the layers below had here is gone unless made again
        for name, shown in top.items():
            if shown is not None and name not in seen:
                path = f"{rel}/{name}"
                if path not in hidden:
                    out.append((path, DELETE))


def _added(folder: int, rel: str, out: list[tuple[str, int]], hidden: frozenset[str]) -> None:
    with os.scandir(folder) as it:
        for e in it:
            path = f"{rel}/{e.name}"
            if hidden and path in hidden:
                continue
            if e.name.startswith(WHITEOUT_PREFIX) and e.is_file(follow_symlinks=False):
                continue  # fuse-overlayfs's markers in a new folder: nothing below to hide
            if e.is_dir(follow_symlinks=False):
                out.append((path, ADD))
                child = _open_child(folder, e.name)
                if child is not None:
                    try:
                        _added(child, path, out, hidden)
                    finally:
                        os.close(child)
            elif e.is_file(follow_symlinks=False) or not _entry_is_whiteout(e):
                out.append((path, ADD))


# ---- a full tree against layers (the vfs storage driver) ------------------------------------


def tree_changes(
    root: str, lowers: list[str], hidden: frozenset[str] = ENGINE_PATHS
) -> list[tuple[str, int]]:
    """Changes of the full tree ``root`` (a vfs container's copy) over the merged view of
    ``lowers`` (top first), as Docker's naive diff finds them: a path the layers lack is
    ``A`` (and all below it), one they have that ``root`` lacks is ``D`` (once, for a
    folder), and one whose kind, mode, owner, device or (not for folders) size or
    modification time differs is ``C``, as is every folder above a change."""
    out: list[tuple[str, int]] = []
    try:
        fd = os.open(root, _DIR_FLAGS & ~os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        return out
    try:
        _tree_walk(fd, "", list(enumerate(lowers)), out, hidden)
    finally:
        os.close(fd)
    out.sort()
    return out


def _stat_differs(a: os.stat_result, b: os.stat_result) -> bool:
    """moby's ``statDifferent`` (pkg/archive/changes_unix.go)."""
    if (a.st_mode, a.st_uid, a.st_gid, a.st_rdev) != (b.st_mode, b.st_uid, b.st_gid, b.st_rdev):
        return True
    if stat.S_ISDIR(a.st_mode):
        return False
    if a.st_size != b.st_size:
        return True
    if a.st_mtime_ns == b.st_mtime_ns:
        return False
    whole = a.st_mtime_ns % 10**9 == 0 or b.st_mtime_ns % 10**9 == 0  # sameFsTime
    return not (whole and a.st_mtime_ns // 10**9 == b.st_mtime_ns // 10**9)


def _tree_walk(
    folder: int,
    rel: str,
    lowers: list[tuple[int, str]],
    out: list[tuple[str, int]],
    hidden: frozenset[str],
) -> None:
    level = _Level(lowers)
    top = level.top
    seen: set[str] = set()
    with os.scandir(folder) as it:
        entries = list(it)
    for e in entries:
        name = e.name
        path = f"{rel}/{name}"
        seen.add(name)
        if path in hidden:
            continue
        below = top.get(name)
        is_dir = e.is_dir(follow_symlinks=False)
        child = _open_child(folder, name) if is_dir else None
        start = len(out)
        try:
            if below is None:
                out.append((path, ADD))
                if child is not None:
                    _added(child, path, out, hidden)
                continue
            lower_entry = below[1]
            try:
                changed = _stat_differs(
                    e.stat(follow_symlinks=False), lower_entry.stat(follow_symlinks=False)
                )
            except FileNotFoundError:  # gone meanwhile (a running container)
                continue
            if child is not None and lower_entry.is_dir(follow_symlinks=False):
                _tree_walk(child, path, level.dirs.get(name, []), out, hidden)
            elif child is not None:
                _added(child, path, out, hidden)
        finally:
            if child is not None:
                os.close(child)
        if changed or len(out) > start:
            out.insert(start, (path, MODIFY))
    for name, shown in top.items():
        path = f"{rel}/{name}"
        if shown is not None and name not in seen and path not in hidden:
            out.append((path, DELETE))


# ---- the merged view of a stack of layers --------------------------------------------------


def merged_entries(layers: list[str]) -> list[tuple[str, int, bool, os.stat_result]]:
    """Every path of the merged view of ``layers`` (top first), sorted:
    ``(path, index of the layer it comes from, True if a lower layer had it too, lstat)``."""
    out: list[tuple[str, int, bool, os.stat_result]] = []
    _merged(list(enumerate(layers)), "", out)
    out.sort(key=lambda t: t[0])
    return out


def _merged(
    folders: list[tuple[int, str]], rel: str, out: list[tuple[str, int, bool, os.stat_result]]
) -> None:
    level = _Level(folders)
    for name, shown in level.top.items():
        if shown is None:
            continue
        index, entry = shown
        path = f"{rel}/{name}"
        out.append((path, index, level.below.get(name, False), entry.stat(follow_symlinks=False)))
        if name in level.dirs:
            _merged(level.dirs[name], path, out)


def lookup(layers: list[str], path: str, follow: bool = True) -> tuple[int, str] | None:
    """``(index of the layer, host path)`` of ``path`` in the merged view of ``layers``
    (top first), or None. Symbolic links are resolved inside the view, never on the host;
    the last component is followed only with ``follow``."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    hops = 0
    while True:
        found = _find(layers, parts, follow)
        if found is None or found[0] == "hit":
            return None if found is None else found[1]
        _, link_at, target, rest = found  # a symbolic link to resolve
        hops += 1
        if hops > 40:
            return None
        base = [] if target.startswith("/") else link_at
        parts = base + [p for p in target.split("/") if p not in ("", ".")] + rest
        norm: list[str] = []
        for p in parts:
            if p == "..":
                if norm:
                    norm.pop()
            else:
                norm.append(p)
        parts = norm


def _find(layers: list[str], parts: list[str], follow: bool) -> Any:
    chain = list(enumerate(layers))  # folders merging into the current folder, top first
    walked: list[str] = []
    if not parts:
        return ("hit", (0, layers[0])) if layers else None
    for k, part in enumerate(parts):
        if part == "..":
            return ("link", walked[:-1], ".", parts[k + 1 :])
        last = k == len(parts) - 1
        hit = None
        next_chain: list[tuple[int, str]] = []
        for index, folder in chain:
            candidate = os.path.join(folder, part)
            try:
                st = os.lstat(candidate)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if hit is None:
                if is_whiteout(st):
                    return None
                hit = (index, candidate, st)
                if not stat.S_ISDIR(st.st_mode):
                    break
                next_chain.append((index, candidate))
                if is_opaque(candidate):
                    break
            elif stat.S_ISDIR(st.st_mode):
                next_chain.append((index, candidate))
                if is_opaque(candidate):
                    break
            else:
                break
        if hit is None:
            return None
        index, candidate, st = hit
        if stat.S_ISLNK(st.st_mode) and (follow or not last):
            return ("link", walked, os.readlink(candidate), parts[k + 1 :])
        if last:
            return ("hit", (index, candidate))
        if not stat.S_ISDIR(st.st_mode):
            return None
        walked.append(part)
        chain = next_chain
    return None


def file_type(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISCHR(mode):
        return "char"
    if stat.S_ISBLK(mode):
        return "block"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "unknown"


# ---- verbs (called by the facade) ----------------------------------------------------------


def container_layers(c: Any) -> tuple[str, list[str]]:
    """The container's writable ``diff/`` folder and the folders below it, top first."""
    overlay = c.paths.overlay
    lowers = [
        link if link.startswith("/") else os.path.join(overlay, link)
        for link in c.config["Runtime"]["LowerLinks"]
    ]
    return os.path.join(c.layer_dir, "diff"), lowers


def diff(containers: ContainerStore, ref: str) -> list[dict[str, Any]]:
    """``GET /containers/{id}/changes``: ``[{"Path", "Kind"}]``."""
    c = containers.find(ref)
    from dockerlab.engine import userns

    if userns.needed():  # rootless: folders of the subordinate range are read from inside
        found: list[dict[str, Any]] = userns.call(
            "diff", containers.paths.root, [containers.paths.run, ref]
        )
        return found
    upper, lowers = container_layers(c)
    if (c.config.get("Runtime") or {}).get("Driver") == "vfs":  # a full copy: compare trees
        tree = tree_changes(os.path.join(c.layer_dir, "merged"), lowers)
        return [{"Path": p, "Kind": k} for p, k in tree]
    return [{"Path": p, "Kind": k} for p, k in container_changes(upper, lowers)]


def diff_inside(root: str, run: str, ref: str) -> list[dict[str, Any]]:
    """(In the rootless helper, engine/userns.py) :func:`diff`."""
    from dockerlab.engine.containers.store import ContainerStore
    from dockerlab.engine.paths import Paths

    return diff(ContainerStore(Paths(root, run)), ref)


def _rows(images: ImageStore, ref: str) -> tuple[list[dict[str, Any]], list[str]]:
    """History entries matched to layers (``Layer``: position in the stack or None) and the
    layers' ``diff/`` folders, bottom first."""
    from dockerlab.engine.images.layers import chain_ids

    store = images
    image_id = store.resolve(ref)
    cfg = store.config(image_id)
    diff_ids = list((cfg.get("rootfs") or {}).get("diff_ids", []))
    chain = chain_ids(diff_ids)
    folders = [store.layers.diff_dir(c) for c in chain]
    history = list(cfg.get("history") or [])
    rows: list[dict[str, Any]] = []
    n = 0
    for h in history:
        empty = bool(h.get("empty_layer")) or n >= len(diff_ids)
        rows.append(
            {
                "Index": len(rows),
                "Id": "" if empty else diff_ids[n],
                "CreatedBy": h.get("created_by", ""),
                "Comment": h.get("comment", ""),
                "Created": h.get("created", ""),
                "EmptyLayer": empty,
                "Layer": None if empty else n,
            }
        )
        if not empty:
            n += 1
    while n < len(diff_ids):  # layers without history (some imported images)
        rows.append(
            {
                "Index": len(rows),
                "Id": diff_ids[n],
                "CreatedBy": "",
                "Comment": "",
                "Created": "",
                "EmptyLayer": False,
                "Layer": n,
            }
        )
        n += 1
    for row in rows:
        size = 0
        if row["Layer"] is not None:
            try:
                size = store.layers.size(chain[row["Layer"]])
            except Exception:  # noqa: BLE001 - a missing layer record shows as 0
                size = 0
        row["Size"] = size
    return rows, folders


def _row(rows: list[dict[str, Any]], index: int) -> dict[str, Any]:
    from dockerlab.errors import InvalidParameter

    if not 0 <= index < len(rows):
        raise InvalidParameter(
            f"layer index {index} out of range: the image has "
            f"{len(rows)} history entries (0 to {len(rows) - 1})"
        )
    return rows[index]


def image_layers(images: ImageStore, ref: str) -> list[dict[str, Any]]:
    rows, _ = _rows(images, ref)
    return [
        {k: r[k] for k in ("Index", "Id", "Size", "CreatedBy", "EmptyLayer", "Comment", "Created")}
        for r in rows
    ]


def _stack(rows: list[dict[str, Any]], folders: list[str], index: int) -> list[str]:
    """The layer folders up to history entry ``index``, top first."""
    top = -1
    for r in rows[: index + 1]:
        if r["Layer"] is not None:
            top = r["Layer"]
    return list(reversed(folders[: top + 1]))


def _describe(path: str, kind: str, st: os.stat_result | None) -> dict[str, Any]:
    if st is None:
        return {"Path": path, "Size": 0, "Mode": 0, "Kind": kind, "Type": "unknown"}
    size = st.st_size if stat.S_ISREG(st.st_mode) else 0
    return {
        "Path": path,
        "Size": size,
        "Mode": stat.S_IMODE(st.st_mode),
        "Kind": kind,
        "Type": file_type(st.st_mode),
    }


def _inside(images: ImageStore, task: str, args: list[Any]) -> Any:
    """Rootless: the layer inspectors read files of subordinate uids in the user's
    namespace (engine/userns.py); None when this process may read them itself."""
    from dockerlab.engine import userns

    if not userns.needed():
        return None
    return userns.call("layers", images.paths.root, [images.paths.run, task, args])


def layers_inside(root: str, run: str, task: str, args: list[Any]) -> Any:
    """(In the rootless helper) :func:`layer_files`, :func:`file_at_layer` or
    :func:`file_history` of the image store of ``root``."""
    from dockerlab.engine.images.store import ImageStore
    from dockerlab.engine.paths import Paths

    verb = {"files": layer_files, "file": file_at_layer, "history": file_history}[task]
    return verb(ImageStore(Paths(root, run)), *args)  # type: ignore[operator]


def layer_files(
    images: ImageStore, ref: str, index: int, cumulative: bool = False
) -> list[dict[str, Any]]:
    found = _inside(images, "files", [ref, index, cumulative])
    if found is not None:
        return list(found)
    rows, folders = _rows(images, ref)
    row = _row(rows, index)
    if cumulative:
        stack = _stack(rows, folders, index)
        n = len(stack)
        out = []
        for path, i, below, st in merged_entries(stack):
            item = _describe(path, "C" if below else "A", st)
            item["Layer"] = _index_of(rows, n - 1 - i)
            out.append(item)
        return out
    if row["Layer"] is None:
        return []
    upper = folders[row["Layer"]]
    lowers = list(reversed(folders[: row["Layer"]]))
    out = []
    for path, kind in changes(upper, lowers):
        if kind == DELETE:
            found = lookup(lowers, path, follow=False)
            item = _describe(path, "D", os.lstat(found[1]) if found else None)
            item["Size"] = 0
        else:
            item = _describe(path, KIND_LETTERS[kind], os.lstat(upper + path))
        out.append(item)
    return out


def _index_of(rows: list[dict[str, Any]], layer: int) -> int:
    for r in rows:
        if r["Layer"] == layer:
            index: int = r["Index"]
            return index
    return -1


def file_at_layer(images: ImageStore, ref: str, index: int, path: str) -> bytes | None:
    from dockerlab.engine import userns

    if userns.needed():
        got: bytes | None = _inside(images, "file", [ref, index, path])
        return got
    rows, folders = _rows(images, ref)
    _row(rows, index)
    stack = _stack(rows, folders, index)
    found = lookup(stack, path) if stack else None
    if found is None:
        return None
    try:
        fd = os.open(found[1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read()


def file_history(images: ImageStore, ref: str, path: str) -> list[dict[str, Any]]:
    found = _inside(images, "history", [ref, path])
    if found is not None:
        return list(found)
    rows, folders = _rows(images, ref)
    out = []
    before = None
    for r in rows:
        if r["Layer"] is None:
            continue
        n = r["Layer"]
        stack = list(reversed(folders[: n + 1]))
        now = lookup(stack, path, follow=False)
        if now is not None and now[0] == 0:  # this layer holds it
            st = os.lstat(now[1])
            size = st.st_size if stat.S_ISREG(st.st_mode) else 0
            out.append({"Index": r["Index"], "Kind": "C" if before else "A", "Size": size})
        elif now is None and before is not None:
            out.append({"Index": r["Index"], "Kind": "D", "Size": 0})
        before = now
    return out
