"""Work in progress: scratch files that name their owner, so abandoned work is found.

    $DOCKERLAB_ROOT/tmp/
    ├── <kind>-<pid>-<start>-<random>[.tar]   one per piece of work: a load's staging
    │                                          folder, a commit's layer tar, a build's
    │                                          context and COPY mounts, an export mount …
    ├── build-<pid>-<start>-<random>/          a build under way; its intermediate
    │                                          containers carry this name (Runtime.Owner)
    ├── commit-<pid>-<start>-<random>/frozen   the container a commit froze (to thaw)
    ├── imagewrite-<pid>-<start>-<random>      a writer holds the image store's lock
    └── .sweep.lock                            held while abandoned work is removed

``<pid>-<start>`` names the owning process for good (its pid and start time in clock ticks,
as the monitor records itself), so "the owner is dead" is a fact, not a guess. The next verb
that takes a store lock calls :func:`sweep`: one ``listdir`` when nothing was left behind;
otherwise each abandoned entry is finished or removed — a frozen container thawed, mounts
below it detached, a dead build's intermediate containers killed and removed, a store whose
writer died garbage-collected — and then deleted. ``system df`` counts what is left
(:func:`entries`) and ``system prune`` removes it.
"""

from __future__ import annotations

import os

from dockerlab.engine.basics import tree_size
from dockerlab.engine.paths import Paths
from dockerlab.engine.runtime import linux as L

TYPE_CHECKING = False  # this module is on the `run` path: no typing, re, shutil, tempfile
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

_token: tuple[int, str] = (0, "")


def token() -> str:
    """``<pid>-<start>`` of this process (recomputed after a fork)."""
    global _token
    pid = os.getpid()
    if _token[0] != pid:
        _token = (pid, f"{pid}-{L.proc_start_time(pid) or 0}")
    return _token[1]


def prefix(kind: str) -> str:
    """The name prefix of a new piece of work of ``kind`` (for ``tempfile``)."""
    return f"{kind}-{token()}-"


def begin(paths: Paths, kind: str) -> str:
    """A new private folder for work of ``kind``, named after this process."""
    import tempfile

    os.makedirs(paths.tmp, mode=0o700, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix(kind), dir=paths.tmp)


def begin_file(paths: Paths, kind: str, suffix: str = "") -> tuple[int, str]:
    """A new private file for work of ``kind``: ``(fd, path)``."""
    import tempfile

    os.makedirs(paths.tmp, mode=0o700, exist_ok=True)
    return tempfile.mkstemp(prefix=prefix(kind), suffix=suffix, dir=paths.tmp)


def owner(name: str) -> tuple[str, int, int] | None:
    """``(kind, pid, start)`` from an entry's name; None for a name not made here."""
    parts = name.split("-", 3)
    if len(parts) == 4 and parts[0].isalpha() and parts[1].isdigit() and parts[2].isdigit():
        return parts[0], int(parts[1]), int(parts[2])
    return None


def abandoned(name: str) -> bool:
    """Whether the entry ``name`` of tmp was left by a process that is gone (or by an older
    dockerlab that did not name its owner: never while a sweep runs, only by prune)."""
    o = owner(name)
    return o is not None and not L.pid_alive(o[1], o[2])


def entries(paths: Paths) -> list[dict[str, Any]]:
    """Every piece of work in tmp: ``{"Kind", "Path", "Owner", "InProgress", "Size"}``."""
    out = []
    try:
        names = os.listdir(paths.tmp)
    except FileNotFoundError:
        return []
    for name in sorted(names):
        if name.startswith("."):
            continue
        o = owner(name)
        path = os.path.join(paths.tmp, name)
        out.append(
            {
                "Kind": o[0] if o else "unknown",
                "Path": path,
                "Owner": o[1] if o else 0,
                "InProgress": bool(o and L.pid_alive(o[1], o[2])),
                "Size": tree_size(path),
            }
        )
    return out


def mounts_below(path: str) -> list[str]:
    """Mount points at or below ``path``, deepest first."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == path or point.startswith(path.rstrip("/") + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def discard(path: str) -> int:
    """Unmount what is mounted below ``path``, delete it; returns the bytes freed."""
    size = tree_size(path)
    for point in mounts_below(path):
        try:
            L.umount(point, L.MNT_DETACH)
        except OSError:
            pass
    if os.path.isdir(path) and not os.path.islink(path):
        import shutil

        shutil.rmtree(path, ignore_errors=True)
        if os.path.lexists(path):  # rootless: a pull's or build's files of subordinate uids
            from dockerlab.engine import rootless

            rootless.rmtree(path)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return size


class _Sweeping:
    """``with _Sweeping(paths) as ok:`` one sweeper at a time; ``ok`` False if busy."""

    def __init__(self, paths: Paths) -> None:
        self.path = os.path.join(paths.tmp, ".sweep.lock")
        self.fd = -1

    def __enter__(self) -> bool:
        import fcntl

        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return False
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)


#: kinds whose abandoned entries must be finished (by a finisher the caller passes) before
#: they are deleted: a build's containers, a commit's frozen container, an image writer's
#: garbage. Without a finisher they wait for a caller that has one.
NEEDS_FINISHING = frozenset({"build", "commit", "imagewrite"})


def sweep(
    paths: Paths,
    everything: bool = False,
    finishers: Mapping[str, Callable[[str], bool]] | None = None,
) -> list[dict[str, Any]]:
    """Finish or remove the work in tmp whose owner is dead; returns what was removed.

    ``finishers``: by kind, what finishes an abandoned entry (called with its path; False:
    not now) before it is deleted. The stores pass theirs (:meth:`ContainerStore.sweep
    <dockerlab.engine.containers.store.ContainerStore.sweep>`, the image store's lock), so this
    module depends on neither. ``everything``: also entries of unknown owner
    (``system prune``).
    """
    finishers = finishers or {}
    try:
        names = os.listdir(paths.tmp)
    except FileNotFoundError:
        return []
    stale = [
        n
        for n in names
        if not n.startswith(".") and (abandoned(n) or (everything and owner(n) is None))
    ]
    if not stale:
        return []
    removed = []
    with _Sweeping(paths) as ok:
        if not ok:
            return []
        for name in stale:
            path = os.path.join(paths.tmp, name)
            kind = (owner(name) or ("unknown",))[0]
            finish = finishers.get(kind)
            try:
                if finish is not None and not finish(path):
                    continue
                if finish is None and kind in NEEDS_FINISHING:
                    continue  # e.g. a build's containers need the container store's lock
                size = discard(path)
            except Exception:  # noqa: BLE001 - never fail the verb that found it: retry later
                continue
            removed.append({"Kind": kind, "Path": path, "Size": size})
    return removed
