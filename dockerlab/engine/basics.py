"""Small helpers with no dependencies, safe on the monitor's start path.

The monitor runs as ``python -I -S`` and its import set is pinned (no ``json``, ``re``,
``typing`` or ``subprocess``: see ``tests/unit/test_architecture.py``), so what it shares
with the rest of the engine lives here, importing only ``os``, ``stat``, ``time`` (all
loaded by Python's own start) and the C half of ``json``. The other start-path modules
each keep one concern: :mod:`~dockerlab.engine.atomic` (crash-safe files and locks),
:mod:`~dockerlab.engine.runtime.linux` (syscalls),
:mod:`~dockerlab.engine.runtime.streams` (the attach protocol), :mod:`~dockerlab.engine.paths`.
"""

from __future__ import annotations

import os
import stat
import time
from _json import encode_basestring as _quote  # C; json.py would pull in re (~7 ms)


def rfc3339_ns(ns: int) -> str:
    """RFC 3339 in UTC with all nine digits of nanoseconds, as Docker writes its json-file
    log lines and its container times (``Created``, ``StartedAt``, ``FinishedAt``)."""
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def time_now() -> str:
    """Now, as :func:`rfc3339_ns`."""
    return rfc3339_ns(time.time_ns())


def tree_size(path: str) -> int:
    """Bytes at or below ``path`` as Docker's ``directory.Size`` counts them: the lstat size
    of everything but folders (a symlink's is its target's length), each hardlinked file
    once, never following a link or crossing into a mount below (a COPY overlay left
    mounted shows image files, not ours)."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size
    total, dev = 0, st.st_dev
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(path):
        keep, links = [], []
        for d in dirs:
            try:
                dst = os.lstat(os.path.join(folder, d))
            except OSError:
                continue
            if stat.S_ISLNK(dst.st_mode):  # os.walk lists a link to a folder as a folder
                links.append(d)
            elif dst.st_dev == dev:
                keep.append(d)
        dirs[:] = keep
        for f in [*files, *links]:
            try:
                fst = os.lstat(os.path.join(folder, f))
            except OSError:
                continue
            if stat.S_ISDIR(fst.st_mode):
                continue
            if fst.st_nlink > 1:
                if (fst.st_dev, fst.st_ino) in seen:
                    continue
                seen.add((fst.st_dev, fst.st_ino))
            total += fst.st_size
    return total


def dumps(obj: object) -> str:
    """Compact JSON of plain data (str, int, float, bool, None, dicts, lists), without the
    ``json`` module: what the monitor writes (records, log lines)."""
    if isinstance(obj, str):
        return _quote(obj)
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if obj is None:
        return "null"
    if isinstance(obj, (int, float)):
        return repr(obj)
    if isinstance(obj, dict):
        return "{" + ",".join(f"{_quote(str(k))}:{dumps(v)}" for k, v in obj.items()) + "}"
    return "[" + ",".join(dumps(v) for v in obj) + "]"  # type: ignore[attr-defined]


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def daemon_env(hostname: str, env: list[str], tty: bool) -> list[str]:
    """The process's environment as Docker's ``CreateDaemonEnvironment`` makes it: PATH,
    HOSTNAME (and TERM with a terminal) first, replaced or followed by ``Config.Env``,
    which keeps none of them (``inspect`` shows only what the image and the user set)."""
    out = {
        "PATH": f"PATH={DEFAULT_PATH}",
        "HOSTNAME": f"HOSTNAME={hostname}",
    }
    if tty:
        out["TERM"] = "TERM=xterm"
    for item in env:
        out[item.split("=", 1)[0]] = item
    return list(out.values())
