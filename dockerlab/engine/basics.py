"""Small helpers with no dependencies, safe on the monitor's start path.

The monitor runs as ``python -I -S`` and its import set is pinned (no ``json``, ``re``,
``typing`` or ``subprocess``: see ``tests/unit/test_architecture.py``), so what it shares
with the rest of the engine lives here and imports only ``time`` and the C half of
``json``. The other start-path modules each keep one concern: :mod:`~dockerlab.engine.atomic`
(crash-safe files and locks), :mod:`~dockerlab.engine.linux` (syscalls),
:mod:`~dockerlab.engine.streams` (the attach protocol), :mod:`~dockerlab.engine.paths`.
"""

from __future__ import annotations

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
