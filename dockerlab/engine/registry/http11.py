"""The HTTP/1.1 the registry client speaks: what it used of ``http.client``, without that
module's import (it loads the ``email`` package: ~17 ms of every ``pull``'s start).

A :class:`Connection` sends one request at a time and is kept alive between them: a body of
bytes goes with ``Content-Length``, an iterable of bytes with chunked encoding. A
:class:`Response` body is framed by ``Content-Length``, chunked encoding, or the connection's
end; HEAD, 1xx, 204 and 304 answers have none. Limits are http.client's (a line of 64 KiB, 100
header lines), and header values or targets holding line breaks are refused, as it refuses
them. The exception classes keep http.client's names and bases, so ``RemoteDisconnected`` is a
``ConnectionResetError`` (a kept-alive connection the server closed).
"""

from __future__ import annotations

import socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import IO

MAX_LINE = 65536
MAX_HEADERS = 100
_STEP = 1 << 20


class HTTPException(Exception):
    pass


class BadStatusLine(HTTPException):
    pass


class RemoteDisconnected(ConnectionResetError, BadStatusLine):
    pass


class IncompleteRead(HTTPException):
    pass


class LineTooLong(HTTPException):
    pass


def _line(fp: IO[bytes], what: str) -> bytes:
    line = fp.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise LineTooLong(f"got more than {MAX_LINE} bytes when reading {what}")
    return line


def _checked(text: str, what: str) -> str:
    if any(c in text for c in "\r\n\0"):
        raise HTTPException(f"invalid {what} {text!r}: it holds a line break")
    return text


class Connection:
    """A connection to ``host``:``port``; ``connect`` (of a subclass) sets :attr:`sock`."""

    default_port = 80

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sock: socket.socket | None = None
        self._fp: IO[bytes] | None = None
        self._method = ""

    def connect(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        fp, sock = self._fp, self.sock
        self._fp = self.sock = None
        if fp is not None:
            fp.close()
        if sock is not None:
            sock.close()

    def request(
        self,
        method: str,
        target: str,
        body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if any(ord(c) <= 32 or c == "\x7f" for c in target):
            raise HTTPException(f"URL can't contain control characters. {target!r}")
        hdrs = dict(headers or {})
        names = {k.lower() for k in hdrs}
        lines = [f"{method} {target} HTTP/1.1"]
        if "host" not in names:
            host = f"[{self.host}]" if ":" in self.host else self.host
            lines.append(
                f"Host: {host}" if self.port == self.default_port else f"Host: {host}:{self.port}"
            )
        if "accept-encoding" not in names:
            lines.append("Accept-Encoding: identity")
        chunked = body is not None and not isinstance(body, bytes)
        if isinstance(body, bytes) and "content-length" not in names:
            lines.append(f"Content-Length: {len(body)}")
        elif chunked and "transfer-encoding" not in names:
            lines.append("Transfer-Encoding: chunked")
        for k, v in hdrs.items():
            lines.append(f"{_checked(k, 'header name')}: {_checked(str(v), 'header value')}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if self.sock is None:
            self.connect()
            assert self.sock is not None
            self._fp = self.sock.makefile("rb")
        self._method = method
        if isinstance(body, bytes):
            if len(body) < 1 << 16:
                self.sock.sendall(head + body)
            else:
                self.sock.sendall(head)
                self.sock.sendall(body)
            return
        self.sock.sendall(head)
        if chunked:
            assert body is not None
            for piece in body:
                if piece:
                    self.sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            self.sock.sendall(b"0\r\n\r\n")

    def getresponse(self) -> Response:
        fp = self._fp
        assert fp is not None, "no request sent"
        while True:
            line = _line(fp, "the status line")
            if not line:
                raise RemoteDisconnected("Remote end closed connection without response")
            parts = line.decode("iso-8859-1").rstrip("\r\n").split(None, 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise BadStatusLine(repr(line))
            status = int(parts[1])
            if not 100 <= status <= 999:
                raise BadStatusLine(repr(line))
            headers = self._headers(fp)
            if status != 100:  # a "100 Continue" before the answer is skipped
                reason = parts[2] if len(parts) > 2 else ""
                return Response(self, fp, status, reason, headers, parts[0] == "HTTP/1.0")

    @staticmethod
    def _headers(fp: IO[bytes]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        while True:
            line = _line(fp, "a header line")
            if line in (b"\r\n", b"\n", b""):
                return out
            if len(out) >= MAX_HEADERS:
                raise HTTPException(f"got more than {MAX_HEADERS} headers")
            text = line.decode("iso-8859-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and out:  # an obsolete folded line continues the last
                out[-1] = (out[-1][0], out[-1][1] + " " + text.strip())
                continue
            name, sep, value = text.partition(":")
            if sep:
                out.append((name.strip(), value.strip()))


class Response:
    """One response; its body is read with :meth:`read`. :meth:`isclosed` is true once it
    was read whole (the connection may then serve the next request)."""

    def __init__(
        self,
        conn: Connection,
        fp: IO[bytes],
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        http10: bool = False,
    ) -> None:
        self.conn, self.status, self.reason, self._headers = conn, status, reason, headers
        h = {k.lower(): v for k, v in headers}
        self.chunked = h.get("transfer-encoding", "").lower() == "chunked"
        connection = h.get("connection", "").lower()
        # an HTTP/1.0 server closes after its answer unless it says it keeps the connection
        self.will_close = "close" in connection or (http10 and "keep-alive" not in connection)
        self.length: int | None = None
        self._chunk_left = 0
        self._chunk_crlf = False
        if not self.chunked:
            cl = h.get("content-length", "").strip()
            self.length = int(cl) if cl.isdigit() else None
        if conn._method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            self.length, self.chunked = 0, False
        if not self.chunked and self.length is None:
            self.will_close = True  # read to the connection's end
        self.fp: IO[bytes] | None = fp
        if self.length == 0:
            self._done()

    def getheaders(self) -> list[tuple[str, str]]:
        return list(self._headers)

    def isclosed(self) -> bool:
        return self.fp is None

    def close(self) -> None:
        if self.fp is not None:  # not read whole: the connection cannot serve another
            self.fp = None
            self.conn.close()

    def _done(self) -> None:
        self.fp = None
        if self.will_close:
            self.conn.close()

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of the body (short only at its end), or all of it."""
        if n >= 0:
            return self._read(n, False)
        parts = []  # in steps: a length the server claims is never allocated at once
        while self.fp is not None:
            parts.append(self._read(_STEP, True))
        return b"".join(parts)

    def _read(self, n: int, whole: bool) -> bytes:
        fp = self.fp
        if fp is None or n == 0:
            return b""
        if self.chunked:
            return self._read_chunked(fp, n)
        if self.length is None:
            data = fp.read(n)
            if not data:
                self._done()
            return data
        want = min(n, self.length)
        data = fp.read(want)
        self.length -= len(data)
        if len(data) < want:
            self.close()
            if whole:
                raise IncompleteRead(f"{len(data)} bytes read, {self.length} more expected")
        elif self.length == 0:
            self._done()
        return data

    def _read_chunked(self, fp: IO[bytes], n: int) -> bytes:
        parts = []
        want = n
        while want > 0:
            if not self._chunk_left:
                if self._chunk_crlf:
                    _line(fp, "a chunk's end")
                    self._chunk_crlf = False
                line = _line(fp, "a chunk size").split(b";", 1)[0].strip()
                try:
                    size = int(line, 16) if line.isalnum() else -1
                except ValueError:
                    size = -1
                if size < 0:
                    self.close()
                    raise IncompleteRead(f"bad chunk size {line!r}")
                if size == 0:
                    while _line(fp, "a trailer") not in (b"\r\n", b"\n", b""):
                        pass
                    self._done()
                    break
                self._chunk_left, self._chunk_crlf = size, True
            take = min(want, self._chunk_left)
            data = fp.read(take)
            if len(data) < take:
                self.close()
                raise IncompleteRead(f"{len(data)} bytes read, {take - len(data)} more expected")
            self._chunk_left -= take
            parts.append(data)
            want -= take
        return b"".join(parts)
