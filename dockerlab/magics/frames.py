"""Listings as pandas DataFrames, with typed columns (``Listing.to_pandas()``).

The cells of a listing are Docker's text ("2 minutes ago", "4.26MB"); a frame takes its
values from the records the text was rendered from: sizes in bytes (int), times as UTC
datetimes, percentages as floats. ``stats``' paired cells ("1.2MiB / 64MiB") become two
columns. A column this module does not know keeps its text. pandas is imported here, only
when a frame is asked for: never on the CLI's path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["listing_frame"]

Getter = Callable[[Any], Any]


def _epoch(seconds: Any) -> Any:
    import pandas as pd

    if seconds in (None, "", 0):
        return pd.NaT
    return pd.Timestamp(int(seconds), unit="s", tz="UTC")


def _int(value: Any) -> int:
    return int(value or 0)


def _shared(image: dict[str, Any]) -> Any:
    shared = image.get("SharedSize", -1)
    return None if shared is None or shared < 0 else int(shared)


def _count(n: Any) -> Any:
    return None if n is None or n < 0 else int(n)


def _unique(image: dict[str, Any]) -> Any:
    shared = _shared(image)
    return None if shared is None else int(image.get("Size", 0)) - shared


# title -> [(column, getter)] for each kind of row context (the renderer's go_type)
_PS: dict[str, list[tuple[str, Getter]]] = {
    "CREATED": [("CREATED", lambda r: _epoch(r.c.get("Created")))],
    "CREATED AT": [("CREATED AT", lambda r: _epoch(r.c.get("Created")))],
    "SIZE": [
        ("SIZE", lambda r: _int(r.c.get("SizeRw"))),
        ("VIRTUAL SIZE", lambda r: _int(r.c.get("SizeRootFs"))),
    ],
}
_IMAGES: dict[str, list[tuple[str, Getter]]] = {
    "CREATED": [("CREATED", lambda r: _epoch(r.i.get("Created")))],
    "CREATED AT": [("CREATED AT", lambda r: _epoch(r.i.get("Created")))],
    "SIZE": [("SIZE", lambda r: _int(r.i.get("Size")))],
    "VIRTUAL SIZE": [("VIRTUAL SIZE", lambda r: _int(r.i.get("VirtualSize", r.i.get("Size"))))],
    "SHARED SIZE": [("SHARED SIZE", lambda r: _shared(r.i))],
    "UNIQUE SIZE": [("UNIQUE SIZE", lambda r: _unique(r.i))],
    "CONTAINERS": [("CONTAINERS", lambda r: _count(r.i.get("Containers", -1)))],
}
_HISTORY: dict[str, list[tuple[str, Getter]]] = {
    "CREATED": [("CREATED", lambda r: _epoch(r.h.get("Created")))],
    "CREATED AT": [("CREATED AT", lambda r: _epoch(r.h.get("Created")))],
    "SIZE": [("SIZE", lambda r: _int(r.h.get("Size")))],
}


def _nan_if_invalid(get: Getter) -> Getter:
    return lambda r: float("nan") if r.invalid else get(r)


_STATS: dict[str, list[tuple[str, Getter]]] = {
    "CPU %": [("CPU %", _nan_if_invalid(lambda r: float(r.cpu)))],
    "MEM USAGE / LIMIT": [
        ("MEM USAGE", _nan_if_invalid(lambda r: int(r.memory))),
        ("MEM LIMIT", _nan_if_invalid(lambda r: int(r.limit))),
    ],
    "MEM %": [("MEM %", _nan_if_invalid(lambda r: float(r.mem_percent)))],
    "NET I/O": [
        ("NET RX", _nan_if_invalid(lambda r: int(r.net[0]))),
        ("NET TX", _nan_if_invalid(lambda r: int(r.net[1]))),
    ],
    "BLOCK I/O": [
        ("BLOCK READ", _nan_if_invalid(lambda r: int(r.blk[0]))),
        ("BLOCK WRITE", _nan_if_invalid(lambda r: int(r.blk[1]))),
    ],
    "PIDS": [("PIDS", _nan_if_invalid(lambda r: int(r.pids or 0)))],
}

_KINDS = {
    "*formatter.ContainerContext": _PS,
    "*formatter.imageContext": _IMAGES,
    "*image.historyContext": _HISTORY,
    "*container.statsContext": _STATS,
}


def listing_frame(columns: list[str], rows: list[dict[str, str]], sources: list[Any]) -> Any:
    """A DataFrame of a listing: ``columns`` in order, typed from ``sources`` (the row
    contexts) where this module knows the column; the text cells otherwise."""
    import pandas as pd

    kinds = {getattr(s, "go_type", None) for s in sources}
    kind = kinds.pop() if len(kinds) == 1 and len(sources) == len(rows) else None
    typed = _KINDS.get(kind) if kind else None
    data: dict[str, list[Any]] = {}
    for title in columns:
        getters = (typed or {}).get(title)
        if getters is None:
            data[title] = [row.get(title, "") for row in rows]
            continue
        for name, get in getters:
            data[name] = [get(src) for src in sources]
    frame = pd.DataFrame(data, columns=list(data))
    for name, values in data.items():
        if values and all(isinstance(v, int) for v in values):
            frame[name] = frame[name].astype("int64")
        elif any(isinstance(v, pd.Timestamp) for v in values):
            frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame
