"""``dockerlab events`` (and ``system events``): the client's half of ``docker events``.

The docker CLI turns ``--since``/``--until`` into the API's Unix timestamps itself
(``GetTimestamp``: a Go duration before now, an RFC 3339 date or time in the local zone or
with its own, or a Unix timestamp passed through), checks the ``--format`` template on an
empty message, then prints each event the daemon streams. Nothing here imports the engine.
"""

from __future__ import annotations

import calendar
import math
import re
import time
from typing import TYPE_CHECKING, Any

from dockerlab.errors import ClientError

if TYPE_CHECKING:
    from dockerlab.cli.parser import Namespace

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_SEGMENT = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_duration(text: str) -> float | None:
    """Go's ``time.ParseDuration`` in seconds (``10m``, ``1h30m``, ``-1.5h``, ``0``); None
    when ``text`` is not a duration."""
    s, sign = text, 1.0
    if s[:1] in ("+", "-"):
        sign, s = (-1.0 if s[0] == "-" else 1.0), s[1:]
    if s == "0":
        return 0.0
    if not s:
        return None
    total, pos = 0.0, 0
    while pos < len(s):
        m = _SEGMENT.match(s, pos)
        if not m or m.group(1) in ("", "."):
            return None
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def _time_error(message: str) -> ClientError:
    return ClientError(message)


class _GoTime:
    """Go's ``time.Parse`` for the layouts ``GetTimestamp`` uses, with Go's messages."""

    def __init__(self, value: str, layout: str) -> None:
        self.value, self.layout, self.rest = value, layout, value

    def bad(self, elem: str) -> ClientError:
        return _time_error(
            f'parsing time "{self.value}" as "{self.layout}": cannot parse "{self.rest}" as '
            f'"{elem}"'
        )

    def number(self, elem: str, width: int, fixed: bool = True) -> int:
        digits = 0
        while digits < width and digits < len(self.rest) and self.rest[digits].isdigit():
            digits += 1
        if digits == 0 or (fixed and digits < width):
            raise self.bad(elem)
        n = int(self.rest[:digits])
        self.rest = self.rest[digits:]
        return n

    def literal(self, text: str) -> None:
        if not self.rest.startswith(text):
            raise self.bad(text)
        self.rest = self.rest[len(text) :]

    def parse(self, local_offset: int) -> tuple[int, int]:
        """(Unix seconds, nanoseconds) of the value; a layout without a zone reads it in
        ``local_offset`` (seconds east of UTC)."""
        y = mo = d = 0
        h = mi = sec = nanos = 0
        offset = local_offset
        for elem in re.findall(r"2006|01|02|15|04|05|\.999999999|Z07:00|.", self.layout):
            if elem == "2006":
                if len(self.rest) < 4 or not self.rest[:4].isdigit():
                    raise self.bad(elem)
                y, self.rest = int(self.rest[:4]), self.rest[4:]
            elif elem == "01":
                mo = self.number(elem, 2)
                if not 1 <= mo <= 12:
                    raise _time_error(f'parsing time "{self.value}": month out of range')
            elif elem == "02":
                d = self.number(elem, 2)
            elif elem == "15":
                h = self.number(elem, 2, fixed=False)
                if h > 23:
                    raise _time_error(f'parsing time "{self.value}": hour out of range')
            elif elem == "04":
                mi = self.number(elem, 2)
                if mi > 59:
                    raise _time_error(f'parsing time "{self.value}": minute out of range')
            elif elem == "05":
                sec = self.number(elem, 2)
                if sec > 59:
                    raise _time_error(f'parsing time "{self.value}": second out of range')
                nanos = self.fraction()
            elif elem == ".999999999":
                nanos = nanos or self.fraction()
            elif elem == "Z07:00":
                offset = self.zone()
            else:
                self.literal(elem)
        if self.rest:
            raise _time_error(f'parsing time "{self.value}": extra text: "{self.rest}"')
        if d < 1 or d > calendar.monthrange(y, mo)[1]:
            raise _time_error(f'parsing time "{self.value}": day out of range')
        return calendar.timegm((y, mo, d, h, mi, sec)) - offset, nanos

    def fraction(self) -> int:
        if len(self.rest) < 2 or self.rest[0] not in ".," or not self.rest[1].isdigit():
            return 0
        n = 1
        while n < len(self.rest) and self.rest[n].isdigit():
            n += 1
        digits, self.rest = self.rest[1:n], self.rest[n:]
        return int((digits + "000000000")[:9])

    def zone(self) -> int:
        if self.rest[:1] == "Z":
            self.rest = self.rest[1:]
            return 0
        r = self.rest
        if len(r) < 6 or r[0] not in "+-" or r[3] != ":" or not (r[1:3] + r[4:6]).isdigit():
            raise self.bad("Z07:00")
        self.rest = r[6:]
        minutes = int(r[1:3]) * 60 + int(r[4:6])
        return (minutes if r[0] == "+" else -minutes) * 60


def get_timestamp(value: str, now: float | None = None) -> str:
    """The docker CLI's ``GetTimestamp``: ``value`` as the API's ``since``/``until``."""
    now = time.time() if now is None else now
    dur = parse_duration(value)
    if dur is not None and value != "0":
        return str(math.floor(now - dur))  # whole seconds, as Go's Time.Unix()
    in_location = not (any(c in value for c in "zZ+") or value.count("-") == 3)
    if "." in value:
        layout = "2006-01-02T15:04:05.999999999" + ("" if in_location else "Z07:00")
    elif "T" in value:
        colons = value.count(":")
        if not in_location and not any(c in value for c in "zZ") and colons > 0:
            colons -= 1  # the zone's own colon
        layout = {0: "2006-01-02T15", 1: "2006-01-02T15:04"}.get(colons, "2006-01-02T15:04:05")
        layout += "" if in_location else "Z07:00"
    else:
        layout = "2006-01-02" + ("" if in_location else "Z07:00")
    try:
        secs, nanos = _GoTime(value, layout).parse(time.localtime(now).tm_gmtoff or 0)
    except ClientError:
        if "-" in value:  # it looked like a date: Go's own complaint
            raise
        if not re.fullmatch(r"[+-]?[0-9]+(\.[+-]?[0-9]+)?", value):
            raise _time_error(f'failed to parse value as time or duration: "{value}"') from None
        return value  # a Unix timestamp, passed through
    return f"{secs}.{nanos:09d}"


def cmd_events(ctx: Any, ns: Namespace) -> int:
    from dockerlab.format.events import EventMessage, event_line
    from dockerlab.format.gotemplate import Template, TemplateError, parse
    from dockerlab.terminal import verbs

    tmpl: Template | None = None
    if ns.format:
        try:
            tmpl = parse("{{json .}}" if ns.format == "json" else ns.format)
            tmpl.execute(EventMessage())  # as the CLI does: a bad field fails before any event
        except TemplateError as exc:
            err = ClientError(f"Error parsing format: {exc.detail}")
            err.exit_status = 64
            raise err from None
    now = time.time()
    since = get_timestamp(ns.since, now) if ns.since else None
    until = get_timestamp(ns.until, now) if ns.until else None
    filters: dict[str, list[str]] = {}
    for item in ns.filter:
        key, _, value = item.partition("=")
        filters.setdefault(key, []).append(value)

    def line(ev: dict[str, Any]) -> str:
        return tmpl.execute(EventMessage(ev)) if tmpl is not None else event_line(ev)

    return verbs.events(ctx.engine, ctx.terminal, line, since=since, until=until, filters=filters)
