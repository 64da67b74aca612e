"""Reading a container's json-file log (``<id>-json.log``), as ``docker logs`` does."""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator
from typing import IO

from dockerlab.engine.containers import Container
from dockerlab.errors import NoSuchContainer
from dockerlab.format.units import parse_rfc3339


def _complete_lines(f: IO[bytes]) -> Iterator[bytes]:
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


def _entries(f: IO[bytes], stdout: bool, stderr: bool, since: float | None) -> Iterator:
    from dockerlab.engine.facade import LogEntry

    for raw in _complete_lines(f):
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        stream = rec.get("stream", "stdout")
        if (stream == "stdout" and not stdout) or (stream == "stderr" and not stderr):
            continue
        if since is not None and parse_rfc3339(rec["time"]) < since:
            continue
        yield LogEntry(stream, rec["log"].encode(), rec["time"])


def read_logs(c: Container, follow: bool, tail: int | None, since: float | None,
              stdout: bool = True, stderr: bool = True) -> Iterator:
    with open(c.config["LogPath"], "ab+") as f:  # created if the container never ran
        f.seek(0)
        if tail is not None and tail >= 0:
            yield from (deque(_entries(f, stdout, stderr, since), maxlen=tail) if tail else ())
        else:
            yield from _entries(f, stdout, stderr, since)
        while follow:
            try:
                c.refresh()
            except NoSuchContainer:
                return
            running = c.running
            yield from _entries(f, stdout, stderr, since)
            if not running:
                return
            time.sleep(0.05)
