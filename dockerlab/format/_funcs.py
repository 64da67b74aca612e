"""The functions a docker --format template can call: Go's builtins and docker's own.

Each entry of FUNCS is (python function, parameter kinds): "s" string, "i" int,
"L" []string, "a" any; a trailing "*" makes the last kind variadic. The executor checks
argument types against the kinds as Go's reflection would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockerlab.format._gofmt import MAX_SPRINTF, NOVALUE, go_str, sprint, sprintf, to_json
from dockerlab.format._gofmt import type_name as _type_name


class FuncError(Exception):
    """Raised by a template function; shown as `error calling NAME: ...`."""


def _title(s: str) -> str:
    """strings.Title: upper-case every letter that follows a separator."""
    out, prev = [], " "
    for ch in s:
        sep = not (prev.isalnum() or prev == "_") if prev.isascii() else prev.isspace()
        out.append(ch.upper() if sep else ch)
        prev = ch
    return "".join(out)


def _split(s: str, sep: str) -> list[str]:
    return list(s) if sep == "" else s.split(sep)


def _pad(s: str, prefix: int, suffix: int) -> str:
    if s == "":
        return s
    # strings.Repeat would build whatever it is asked for; a row never needs megabytes.
    if max(prefix, 0) + max(suffix, 0) > MAX_SPRINTF:
        raise FuncError(f"padding exceeds {MAX_SPRINTF >> 20} MiB")
    return " " * prefix + s + " " * suffix


def _truncate(s: str, n: int) -> str:
    return s if len(s) < n else s[: max(n, 0)]


def _json(v: Any) -> str:
    try:
        return to_json(v)
    except (ValueError, RecursionError):
        return ""  # docker ignores json.Encoder errors and prints nothing


def _len(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode())
    if isinstance(v, (list, tuple, dict)):
        return len(v)
    if v is None:
        raise FuncError("len of nil pointer")
    raise FuncError(f"len of type {_type_name(v)}")


def _index_one(item: Any, key: Any) -> Any:
    if isinstance(item, dict):
        if key in item:
            return item[key]
        # Go returns the map's zero value: "" for map[string]string (labels), else nil.
        return "" if all(isinstance(x, str) for x in item.values()) else None
    if isinstance(item, (list, tuple, str)):
        if not isinstance(key, int) or isinstance(key, bool):
            raise FuncError(f"cannot index slice/array with type {_type_name(key)}")
        if not 0 <= key < len(item):
            raise FuncError(f"index out of range: {key}")
        return item[key] if not isinstance(item, str) else item.encode()[key]
    if item is None:
        raise FuncError("index of untyped nil")
    raise FuncError(f"can't index item of type {_type_name(item)}")


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        item = _index_one(item, key)
    return item


def _slice(item: Any, *idx: Any) -> Any:
    if not isinstance(item, (list, tuple, str)):
        raise FuncError(f"can't slice item of type {_type_name(item)}")
    if len(idx) > 2:
        raise FuncError(f"too many slice indexes: {len(idx)}")
    bounds = [*idx, len(item)][:2] if idx else [0, len(item)]
    lo, hi = bounds[0], bounds[1]
    if not (0 <= lo <= hi <= len(item)):
        raise FuncError(f"index out of range: {hi if hi > len(item) else lo}")
    return item[lo:hi]


_BASIC = (bool, int, float, str)


def _kind(v: Any) -> type | None:
    for t in _BASIC:
        if isinstance(v, t):
            return t
    return None


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise FuncError("missing argument for comparison")
    for b in others:
        ka, kb = _kind(a), _kind(b)
        nil = a in (None, NOVALUE) or b in (None, NOVALUE)
        if ka is not kb and not nil and (ka or kb):
            raise FuncError("incompatible types for comparison")
        if a == b and not (a is NOVALUE) ^ (b is NOVALUE):
            return True
    return False


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        ka, kb = _kind(a), _kind(b)
        if ka in (None, bool) or kb in (None, bool):
            raise FuncError("invalid type for comparison")
        if ka is not kb:
            raise FuncError("incompatible types for comparison")
        return op(a, b)

    return compare


def _println(*args: Any) -> str:
    return " ".join(go_str(a) for a in args) + "\n"


def _header(v: Any, *_: Any) -> Any:
    return v


FUNCS: dict[str, tuple[Callable[..., Any], str]] = {
    # docker/cli templates.basicFunctions
    "json": (_json, "a"),
    "split": (_split, "ss"),
    "join": (lambda items, sep: sep.join(items), "Ls"),
    "title": (_title, "s"),
    "lower": (str.lower, "s"),
    "upper": (str.upper, "s"),
    "pad": (_pad, "sii"),
    "truncate": (_truncate, "si"),
    # text/template builtins (and/or are evaluated lazily by the executor)
    "and": (lambda *a: a[-1], "aa*"),
    "or": (lambda *a: a[-1], "aa*"),
    "not": (lambda v: not _truth(v), "a"),
    "len": (_len, "a"),
    "index": (_index, "aa*"),
    "slice": (_slice, "aa*"),
    "print": (lambda *a: sprint(list(a)), "a*"),
    "printf": (lambda f, *a: sprintf(f, list(a)), "sa*"),
    "println": (_println, "a*"),
    "eq": (_eq, "aa*"),
    "ne": (lambda a, b: not _eq(a, b), "aa"),
    "lt": (_ordered(lambda a, b: a < b), "aa"),
    "le": (_ordered(lambda a, b: a <= b), "aa"),
    "gt": (_ordered(lambda a, b: a > b), "aa"),
    "ge": (_ordered(lambda a, b: a >= b), "aa"),
}

#: docker's HeaderFunctions: used to render a table's header row from the column names,
#: so `{{upper .Names}}` still prints "NAMES"; `pad` is kept for alignment.
HEADER_FUNCS: dict[str, tuple[Callable[..., Any], str]] = {
    "json": (_header, "s"),
    "split": (_header, "ss"),
    "join": (_header, "ss"),
    "title": (_header, "s"),
    "lower": (_header, "s"),
    "upper": (_header, "s"),
    "truncate": (_header, "si"),
}

_GO_TYPES = {"s": "string", "i": "int", "L": "[]string"}


def _truth(v: Any) -> bool:
    if v is None or v is NOVALUE:
        return False
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True
