"""Reading a container's json-file log (``<id>-json.log``), as ``docker logs`` does.

The log is one JSON record per line. As Docker's json-file reader does, a read first takes
the file's size: the records already written end there. ``--tail N`` finds the start of the
last N records by reading backwards from that end in blocks, so its cost is the size of those
records, not of the log (a container that floods its log cannot keep ``logs --tail`` from
returning). ``--since`` and ``--until`` then filter what was picked, also as Docker does (the
tail counts records, not records that pass the filters); ``-f`` goes on from the end.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import IO

from dockerlab.engine.containers.store import Container
from dockerlab.errors import NoSuchContainer
from dockerlab.format.units import parse_rfc3339

_BLOCK = 64 << 10  # backwards-read block: many records, one read


class LogEntry:
    """One json-file log record: ``stream`` is "stdout" or "stderr", ``time`` RFC 3339 (ns)."""

    __slots__ = ("stream", "data", "time")

    def __init__(self, stream: str, data: bytes, time: str) -> None:
        self.stream, self.data, self.time = stream, data, time

    def __repr__(self) -> str:
        return f"LogEntry({self.stream!r}, {self.data!r}, {self.time!r})"


def _tail_start(f: IO[bytes], end: int, n: int) -> int:
    """Offset of the first of the last ``n`` records before ``end`` (which follows a newline)."""
    pos = end
    want = n + 1  # the newline ending the last record counts, and the one before the first
    while pos > 0:
        size = min(_BLOCK, pos)
        pos -= size
        f.seek(pos)
        block = f.read(size)
        i = len(block)
        while True:
            i = block.rfind(b"\n", 0, i)
            if i < 0:
                break
            want -= 1
            if want == 0:
                return pos + i + 1
    return 0


def _complete_end(f: IO[bytes], size: int) -> int:
    """``size`` cut back to the end of the last whole record (a half-written one waits)."""
    pos = size
    while pos > 0:
        step = min(_BLOCK, pos)
        f.seek(pos - step)
        i = f.read(step).rfind(b"\n")
        if i >= 0:
            return pos - step + i + 1
        pos -= step
    return 0


def _lines(f: IO[bytes], start: int, end: int) -> Iterator[bytes]:
    """The records between two record boundaries, read forwards."""
    f.seek(start)
    left = end - start
    while left > 0:
        line = f.readline(left)
        if not line:
            return
        left -= len(line)
        yield line


def _new_lines(f: IO[bytes]) -> Iterator[bytes]:
    """Whole lines from the current position; a half-written last line is left for later."""
    while True:
        pos = f.tell()
        line = f.readline()
        if not line:
            return
        if not line.endswith(b"\n"):
            f.seek(pos)
            return
        yield line


class _Filter:
    """Turns records into LogEntry values; ``done`` once a record passes ``until``."""

    def __init__(
        self, stdout: bool, stderr: bool, since: float | None, until: float | None
    ) -> None:
        self.stdout, self.stderr, self.since, self.until = stdout, stderr, since, until
        self.done = False

    def entries(self, lines: Iterator[bytes]) -> Iterator[LogEntry]:
        for raw in lines:
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if self.since is not None or self.until is not None:
                stamp = parse_rfc3339(rec["time"])
                if self.since is not None and stamp < self.since:
                    continue
                if self.until is not None and stamp > self.until:
                    self.done = True  # records are in time order: nothing later qualifies
                    return
            stream = rec.get("stream", "stdout")
            if (stream == "stdout" and not self.stdout) or (stream == "stderr" and not self.stderr):
                continue
            yield LogEntry(stream, rec["log"].encode(), rec["time"])


def read_logs(
    c: Container,
    follow: bool,
    tail: int | None,
    since: float | None,
    stdout: bool = True,
    stderr: bool = True,
    until: float | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Iterator[LogEntry]:
    """The container's log records: the last ``tail`` (None or < 0: all, 0: none) written
    before the call, filtered by stream and time, then with ``follow`` the new ones until
    the container stops (or ``until`` passes, or ``cancelled()`` turns true: its reader
    went away)."""
    keep = _Filter(stdout, stderr, since, until)
    with open(c.config["LogPath"], "ab+") as f:  # created if the container never ran
        end = _complete_end(f, os.fstat(f.fileno()).st_size)
        start = 0
        if tail is not None and tail >= 0:
            start = _tail_start(f, end, tail) if tail else end
        yield from keep.entries(_lines(f, start, end))
        f.seek(end)
        while follow and not keep.done:
            try:
                c.refresh()
            except NoSuchContainer:
                return
            running = c.running
            yield from keep.entries(_new_lines(f))
            if not running or (until is not None and time.time() > until):
                return
            if cancelled is not None and cancelled():
                return
            time.sleep(0.05)
