"""Sizes, durations, CPU counts and timestamps, as docker/go-units and the docker CLI print them.

Every function here mirrors one Go function (named in its docstring) so that dockerlab's
output matches Docker's byte for byte: `human_size` is `units.HumanSize`, `status_string` is
moby's `State.String()`, and so on.
"""

from __future__ import annotations

import re

__all__ = [
    "ago",
    "bytes_size",
    "human_duration",
    "human_size",
    "human_size_with_precision",
    "parse_cpus",
    "parse_go_duration",
    "parse_ram",
    "parse_rfc3339",
    "parse_rfc3339_ns",
    "parse_size",
    "rfc3339nano",
    "rfc3339nano_ns",
    "status_string",
]

_DECIMAL_ABBRS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_ABBRS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
_DECIMAL_MAP = {"k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4, "p": 1000**5}
_BINARY_MAP = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
# go-units sizeRegex; Go's `$` is end of text, so `\Z` (Python's `$` also matches before "\n").
_SIZE_RE = re.compile(r"^([0-9]+(\.[0-9]+)*) ?([kmgtp])?i?b?\Z", re.IGNORECASE)


def _size_and_unit(size: float, base: float, abbrs: tuple[str, ...]) -> tuple[float, str]:
    i = 0
    while size >= base and i < len(abbrs) - 1:
        size /= base
        i += 1
    return size, abbrs[i]


def human_size_with_precision(size: float, precision: int) -> str:
    """units.HumanSizeWithPrecision: decimal units, `%.*g` (docker ps/images use precision 3)."""
    size, unit = _size_and_unit(float(size), 1000.0, _DECIMAL_ABBRS)
    return f"{size:.{precision}g}{unit}"


def human_size(size: float) -> str:
    """units.HumanSize: 4150000 -> "4.15MB", 0 -> "0B"."""
    return human_size_with_precision(size, 4)


def bytes_size(size: float) -> str:
    """units.BytesSize: binary units, 1572864 -> "1.5MiB"."""
    size, unit = _size_and_unit(float(size), 1024.0, _BINARY_ABBRS)
    return f"{size:.4g}{unit}"


def _parse_size(text: str, umap: dict[str, int]) -> int:
    m = _SIZE_RE.match(text)
    if m is None:
        raise ValueError(f"invalid size: '{text}'")
    try:
        size = float(m.group(1))
    except ValueError:  # "1.2.3" passes the regex but not strconv.ParseFloat
        raise ValueError(f'strconv.ParseFloat: parsing "{m.group(1)}": invalid syntax') from None
    size *= umap.get((m.group(3) or "").lower(), 1)
    return int(size)  # Go int64(float) truncates toward zero


def parse_ram(text: str) -> int:
    """units.RAMInBytes: "512m" -> 536870912; binary multiples, case-insensitive,
    'b'/'ib' optional."""
    return _parse_size(text, _BINARY_MAP)


def parse_size(text: str) -> int:
    """units.FromHumanSize: "44kB" -> 44000; decimal multiples."""
    return _parse_size(text, _DECIMAL_MAP)


def parse_cpus(value: str, flag: str = "--cpus") -> int:
    """opts.ParseCPUs behind `--cpus`: a rational number of CPUs -> nano CPUs ("1.5" -> 1500000000).

    Errors carry cobra's flag wrapping: `invalid argument "abc" for "--cpus" flag: ...`.
    """
    from fractions import Fraction  # imported lazily: only `run/create/update --cpus` need it

    try:
        cpu = Fraction(value.strip()) if value.strip() == value else None
    except (ValueError, ZeroDivisionError):
        cpu = None
    if cpu is None:
        reason = f"failed to parse {value} as a rational number"
    else:
        nano = cpu * 1_000_000_000
        if nano.denominator == 1:
            return int(nano)
        reason = "value is too precise"
    raise ValueError(f'invalid argument "{value}" for "{flag}" flag: {reason}')


def human_duration(seconds: float) -> str:
    """units.HumanDuration, with Go's thresholds (hours round half up, the rest truncate)."""
    secs = int(seconds)  # Go int(d.Seconds()) truncates toward zero
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


_GO_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # U+00B5 micro sign
    "\u03bcs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def _go_quote(text: str) -> str:
    """The ``time`` package's ``quote``: bytes outside printable ASCII as ``\\xNN``."""
    out: list[str] = []
    for ch in text:
        if ord(ch) < 0x20 or ord(ch) >= 0x80:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogateescape"))
        else:
            out.append("\\" + ch if ch in '"\\' else ch)
    return '"' + "".join(out) + '"'


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` (``1h30m``, ``1.5s``, ``-2m``, ``0``) in nanoseconds;
    ValueError with Go's words (``time: unknown unit "x" in duration "1x"``)."""
    invalid = ValueError(f"time: invalid duration {_go_quote(text)}")
    s, neg = text, False
    if s[:1] in ("-", "+"):
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        i = 0
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        whole, s = s[:i], s[i:]
        value = int(whole) if whole else 0
        if value > 1 << 63:
            raise invalid
        frac, scale = 0, 1
        post = False
        if s[:1] == ".":
            s = s[1:]
            i = 0
            while i < len(s) and "0" <= s[i] <= "9":
                if frac * 10 + int(s[i]) <= 1 << 63 and scale < 10**19:  # Go stops adding
                    frac, scale = frac * 10 + int(s[i]), scale * 10  # precision on overflow
                i += 1
            post, s = i > 0, s[i:]
        if not whole and not post:
            raise invalid
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise ValueError(f"time: missing unit in duration {_go_quote(text)}")
        unit_text, s = s[:i], s[i:]
        unit = _GO_DURATION_UNITS.get(unit_text)
        if unit is None:
            raise ValueError(
                f"time: unknown unit {_go_quote(unit_text)} in duration {_go_quote(text)}"
            )
        if value > (1 << 63) // unit:
            raise invalid
        value *= unit
        if frac:
            value += int(frac * (unit / scale))
            if value > 1 << 63:
                raise invalid
        total += value
        if total > 1 << 63:
            raise invalid
    if neg:
        return -total
    if total > (1 << 63) - 1:
        raise invalid
    return total


def ago(ts: float, now: float) -> str:
    """`units.HumanDuration(now.Sub(t)) + " ago"`, as `docker ps` CREATED prints it."""
    return human_duration(now - ts) + " ago"


# --- RFC 3339 timestamps (Go's time.RFC3339Nano) -----------------------------------------

_NS = 1_000_000_000
_RFC3339_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era, yoe = divmod(y, 400)
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    era, doe = divmod(z + 719468, 146097)
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, doy - (153 * mp + 2) // 5 + 1


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    return 30 if m in (4, 6, 9, 11) else 31


_ZERO_NS = _days_from_civil(1, 1, 1) * 86400 * _NS  # 0001-01-01T00:00:00Z, Go's zero time


def parse_rfc3339_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 string (any 1-9 digit fraction, Z or offset).

    Go's zero time "0001-01-01T00:00:00Z" (Docker's "never") maps to 0.
    """
    m = _RFC3339_RE.match(text)
    if m is None:
        raise ValueError(f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse')
    year, month, day, hour, minute, sec = (int(g) for g in m.groups()[:6])
    if not 1 <= month <= 12:
        raise ValueError(f'parsing time "{text}": month out of range')
    if not 1 <= day <= _days_in_month(year, month):
        raise ValueError(f'parsing time "{text}": day out of range')
    if hour > 23 or minute > 59 or sec > 59:
        raise ValueError(f'parsing time "{text}": time out of range')
    days = _days_from_civil(year, month, day)
    frac = (m.group(7) or ".")[1:].ljust(9, "0")
    offset = 0
    zone = m.group(8)
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    ns = ((days * 86400 + hour * 3600 + minute * 60 + sec - offset) * _NS) + int(frac)
    return 0 if ns == _ZERO_NS else ns


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch (float) of an RFC 3339 string; Go's zero time -> 0.0."""
    return parse_rfc3339_ns(text) / _NS


def rfc3339nano_ns(ns: int) -> str:
    """time.RFC3339Nano in UTC from integer nanoseconds; 0 prints Go's zero time."""
    if ns == 0:
        return "0001-01-01T00:00:00Z"
    secs, frac = divmod(ns, _NS)
    days, secs = divmod(secs, 86400)
    y, m, d = _civil_from_days(days)
    text = f"{y:04d}-{m:02d}-{d:02d}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
    digits = f"{frac:09d}".rstrip("0")  # RFC3339Nano drops trailing zeros, and the dot
    return f"{text}.{digits}Z" if digits else f"{text}Z"


def rfc3339nano(ts: float) -> str:
    """time.RFC3339Nano in UTC of float seconds, e.g. "2026-11-28T06:52:25.123456Z".

    The fraction is taken from the float's shortest decimal form, so 1.5 prints ".5",
    not binary noise; use `rfc3339nano_ns` for exact nanoseconds.
    """
    if isinstance(ts, int):
        return rfc3339nano_ns(ts * _NS)
    whole, _, frac = repr(float(ts)).partition(".")
    if "e" in whole or "e" in frac:  # tiny or huge floats: fall back to arithmetic
        return rfc3339nano_ns(round(ts * _NS))
    ns = int(whole) * _NS + (1 if ts >= 0 else -1) * int(frac[:9].ljust(9, "0"))
    return rfc3339nano_ns(ns)


# --- docker ps STATUS ----------------------------------------------------------------------


def _since(stamp: str | None, now: float) -> str:
    return human_duration(now - (parse_rfc3339(stamp) if stamp else 0.0))


def status_string(state: dict, now: float) -> str:
    """moby's `State.String()`: the STATUS column of `docker ps` from an inspect `State` dict.

    Flags (Running/Paused/Restarting/Dead) win when present; otherwise they are derived from
    `Status`. A running container with `Health` appends "(healthy)", "(health: starting)", ...
    """
    status = state.get("Status", "")
    running = state.get("Running", status in ("running", "paused", "restarting"))
    paused = state.get("Paused", status == "paused")
    restarting = state.get("Restarting", status == "restarting")
    started = state.get("StartedAt") or ""
    started_zero = not started or parse_rfc3339_ns(started) == 0
    finished = state.get("FinishedAt") or ""
    finished_zero = not finished or parse_rfc3339_ns(finished) == 0
    if running:
        if paused:
            return f"Up {_since(started, now)} (Paused)"
        if restarting:
            return f"Restarting ({state.get('ExitCode', 0)}) {_since(finished, now)} ago"
        health = (state.get("Health") or {}).get("Status", "")
        if health:
            health = "health: starting" if health == "starting" else health
            return f"Up {_since(started, now)} ({health})"
        return f"Up {_since(started, now)}"
    if status == "removing" or state.get("RemovalInProgress"):
        return "Removal In Progress"
    if state.get("Dead", status == "dead"):
        return "Dead"
    if started_zero:
        return "Created"
    if finished_zero:
        return ""
    return f"Exited ({state.get('ExitCode', 0)}) {_since(finished, now)} ago"
