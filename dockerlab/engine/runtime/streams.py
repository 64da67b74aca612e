"""The monitor's attach protocol: framed messages over a unix stream socket.

Each frame is ``[kind: u8][length: u32 BE][payload]``. The client first sends HELLO (the
letters of the streams it wants: ``i`` stdin, ``o`` stdout, ``e`` stderr); the monitor then
sends output frames and, when the container has exited and been cleaned up, one EXIT frame
(JSON: ExitCode, OOMKilled, FinishedAt). RESIZE carries rows and columns as two u16 BE.
The monitor's side needs no ``json`` import (it costs ~7 ms of start-up).
"""

from __future__ import annotations

import struct
from _socket import MSG_DONTWAIT  # C: socket.py with its enums costs the start path

from dockerlab.errors import boundary

TYPE_CHECKING = False  # typing itself costs ~5 ms on the monitor's start path
if TYPE_CHECKING:
    from _socket import socket
    from typing import Any

STDIN, STDOUT, STDERR, EXIT, HELLO, CLOSE_STDIN, RESIZE = 0, 1, 2, 3, 4, 5, 6
_HEADER = struct.Struct(">BI")
WINSIZE = struct.Struct(">HH")


def frame(kind: int, payload: bytes) -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


class FrameReader:
    """Incremental decoder: feed bytes, take whole frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self._buf)
            end = _HEADER.size + size
            if len(self._buf) < end:
                break
            out.append((kind, bytes(self._buf[_HEADER.size : end])))
            del self._buf[:end]
        return out


def _loads(payload: bytes) -> dict[str, Any]:
    import json

    message: dict[str, Any] = json.loads(payload)
    return message


LOST_MONITOR = "lost the container's monitor"  # the exit record of a connection cut short


@boundary("attach")
class Attachment:
    """The caller's side of an attached container: read output, write input, get the exit.
    A monitor gone away reads as the end; other failures are :mod:`dockerlab.errors`."""

    def __init__(self, sock: socket) -> None:
        self.sock = sock
        self._reader = FrameReader()
        self._pending: list[tuple[int, bytes]] = []
        self.exit: dict[str, Any] | None = None

    def fileno(self) -> int:
        return self.sock.fileno()

    def hello(self, stdin: bool, stdout: bool = True, stderr: bool = True) -> None:
        flags = b"i" * stdin + b"o" * stdout + b"e" * stderr
        self.sock.sendall(frame(HELLO, flags))

    def write(self, data: bytes) -> None:
        self.sock.sendall(frame(STDIN, data))

    def send_nowait(self, data: bytes) -> int:
        """Send what the socket takes now of ``data`` (whole frames, queued by the caller):
        how many bytes went, 0 when it is full, -1 when the monitor is gone."""
        try:
            return self.sock.send(data, MSG_DONTWAIT)
        except BlockingIOError:
            return 0
        except OSError:
            return -1

    def close_stdin(self) -> None:
        try:
            self.sock.sendall(frame(CLOSE_STDIN, b""))
        except OSError:
            pass

    def resize(self, rows: int, cols: int) -> None:
        try:
            self.sock.sendall(frame(RESIZE, WINSIZE.pack(rows, cols)))
        except OSError:
            pass

    def pump(self) -> list[tuple[int, bytes]] | None:
        """One receive's worth of output frames (for select loops); None at the end."""
        if self.exit is not None and not self._pending:
            return None
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            if self.exit is None:
                self.exit = {"ExitCode": -1, "Error": LOST_MONITOR}
            out, self._pending = self._pending, []
            return out or None
        for kind, payload in self._reader.feed(data):
            if kind == EXIT:
                self.exit = _loads(payload)
            else:
                self._pending.append((kind, payload))
        out, self._pending = self._pending, []
        return out

    def read(self) -> tuple[int, bytes] | None:
        """The next (STDOUT|STDERR, data) frame; None once the container has exited."""
        while not self._pending:
            if self.exit is not None:
                return None
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                if self.exit is None:
                    self.exit = {"ExitCode": -1, "Error": LOST_MONITOR}
                return None
            for kind, payload in self._reader.feed(data):
                if kind == EXIT:
                    self.exit = _loads(payload)
                else:
                    self._pending.append((kind, payload))
        return self._pending.pop(0)

    def wait(self) -> dict[str, Any]:
        """Drain output until the exit frame; returns it."""
        while self.read() is not None:
            pass
        assert self.exit is not None
        return self.exit

    def collect(self) -> tuple[int, bytes, bytes]:
        """Everything the container writes, until it exits: (exit code, stdout, stderr)."""
        out, err = bytearray(), bytearray()
        while (item := self.read()) is not None:
            (out if item[0] == STDOUT else err).extend(item[1])
        return int(self.exit["ExitCode"]), bytes(out), bytes(err)  # type: ignore[index]

    def close(self) -> None:
        self.sock.close()
