"""HTTP/1.1 as the Docker Engine API speaks it, on a blocking socket.

One :class:`Connection` per client socket reads :class:`Request` after request (keep-alive);
a handler answers with a :class:`Response` (a body), :class:`Streamed` (chunks as they come:
logs, events, build output) or :class:`Hijacked` (the raw socket after the headers: attach and
exec, as ``101 UPGRADED``). Request bodies come by ``Content-Length`` or chunked (the docker
CLI streams build contexts that way). Every size a client controls has a limit.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote

MAX_LINE = 64 * 1024  # a request line or a header line
MAX_HEADERS = 200
MAX_HEADER_BYTES = 1024 * 1024  # Go's http.DefaultMaxHeaderBytes
MAX_JSON_BODY = 32 * 1024 * 1024  # a create or update body; archives stream instead
HEAD = 4096  # bytes of a body kept for the trace
LINGER = 2.0  # seconds a closing connection reads what the client still sends
LINGER_BYTES = 1 << 20
IDLE_TIMEOUT = 300.0  # seconds a kept-alive connection may wait for its next request

REASONS = {
    101: "UPGRADED",
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Request Entity Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class HTTPError(Exception):
    """A request the server refuses before (or instead of) a handler: status and message.
    ``close`` says the connection cannot be read further (a broken framing)."""

    def __init__(self, status: int, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.close = close


class ClientGone(Exception):
    """The client closed its end while we were reading or writing."""


def boolean(value: str) -> bool:
    """moby's ``httputils.BoolValue``: empty, 0, no, false and none are false."""
    return value.strip().lower() not in ("", "0", "no", "false", "none")


class Body:
    """A request body as a file: ``read(n)`` up to ``n`` bytes (b"" at the end), decoding
    chunked transfer; reading past ``limit`` (if any) is a 413."""

    def __init__(
        self, rfile: BinaryIO, length: int | None, chunked: bool, limit: int | None
    ) -> None:
        self._rfile = rfile
        self._left = 0 if chunked else (length or 0)  # in this chunk, when chunked
        self._chunked = chunked
        self._done = not chunked and not length
        self._limit = limit
        self.count = 0  # bytes handed out so far
        self.head = b""  # the first bytes, for the trace's summary

    def _next_chunk(self) -> None:
        line = self._rfile.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            raise HTTPError(400, "malformed chunked encoding", close=True)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise HTTPError(400, "malformed chunked encoding", close=True) from None
        if size < 0:
            raise HTTPError(400, "malformed chunked encoding", close=True)
        if size == 0:
            while True:  # trailers, then the blank line
                t = self._rfile.readline(MAX_LINE)
                if t in (b"\r\n", b"\n", b""):
                    break
            self._done = True
        self._left = size

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while not self._done and (n < 0 or len(out) < n):
            if self._left == 0:
                if not self._chunked:
                    self._done = True
                    break
                if out:  # a chunk boundary: hand out what there is
                    break
                self._next_chunk()
                continue
            want = self._left if n < 0 else min(self._left, n - len(out))
            data = self._rfile.read1(want) if hasattr(self._rfile, "read1") else b""
            if not data:
                data = self._rfile.read(want)
            if not data:
                raise ClientGone("the client closed the connection mid-body")
            out += data
            self._left -= len(data)
            if (
                self._chunked
                and self._left == 0
                and self._rfile.readline(MAX_LINE) not in (b"\r\n", b"\n")
            ):
                raise HTTPError(400, "malformed chunked encoding", close=True)
        if len(self.head) < HEAD:
            self.head += bytes(out[: HEAD - len(self.head)])
        self.count += len(out)
        if self._limit is not None and self.count > self._limit:
            raise HTTPError(413, f"request body larger than {self._limit} bytes", close=True)
        return bytes(out)

    def drain(self, at_most: int) -> bool:
        """Read and drop the rest (so the connection can serve the next request); False when
        more than ``at_most`` bytes were left (the caller closes instead)."""
        dropped = 0
        while not self._done:
            got = self.read(64 * 1024)
            dropped += len(got)
            if dropped > at_most:
                return False
        return True

    @property
    def finished(self) -> bool:
        return self._done


class Request:
    """One parsed request. ``path`` is decoded and without its ``/vN.NN`` prefix;
    ``version`` is the API version in force (the prefix's, or the server's)."""

    def __init__(
        self,
        conn: Connection,
        method: str,
        target: str,
        http_version: str,
        headers: dict[str, str],
    ) -> None:
        self.conn = conn
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers
        raw_path, _, raw_query = target.partition("?")
        self.raw_path = raw_path
        self.path = unquote(raw_path)
        self.query: dict[str, list[str]] = parse_qs(raw_query, keep_blank_values=True)
        self.params: dict[str, str] = {}  # from the route's {name} parts
        self.version = ""
        self.body = self._body()
        self.trace: dict[str, Any] = {}  # what a handler wants the trace to show

    def _body(self) -> Body:
        te = self.headers.get("transfer-encoding", "").lower()
        chunked = "chunked" in te
        length = None
        if not chunked:
            raw = self.headers.get("content-length", "")
            if raw:
                if not raw.isdigit():
                    raise HTTPError(400, f"invalid Content-Length {raw!r}", close=True)
                length = int(raw)
        return Body(self.conn.rfile, length, chunked, None)

    # ---- the query ------------------------------------------------------------------------
    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def flag(self, name: str, default: bool = False) -> bool:
        values = self.query.get(name)
        return boolean(values[-1]) if values else default

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        raw = self.arg(name)
        if raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise HTTPError(400, f"invalid value for {name}: {raw!r}") from None

    def json_arg(self, name: str) -> Any:
        """A query value holding JSON (``filters``, ``buildargs`` …); None when absent."""
        raw = self.arg(name)
        if raw == "":
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise HTTPError(400, f"invalid {name} value: {exc}") from None

    def filters(self) -> dict[str, list[str]]:
        """``filters`` as moby's ``filters.FromJSON``: ``{"k": ["v"]}`` or the old
        ``{"k": {"v": true}}`` map form."""
        value = self.json_arg("filters")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise HTTPError(400, "invalid filter: filters must be a JSON object")
        out: dict[str, list[str]] = {}
        for k, v in value.items():
            if isinstance(v, dict):
                out[str(k)] = [str(x) for x, on in v.items() if on]
            elif isinstance(v, list):
                out[str(k)] = [str(x) for x in v]
            else:
                raise HTTPError(400, f"invalid filter: {k!r} must be a list or a map")
        return out

    # ---- the body -------------------------------------------------------------------------
    def read_body(self, limit: int = MAX_JSON_BODY) -> bytes:
        """The whole body, at most ``limit`` bytes: a longer one is a 413, refused before
        reading when its Content-Length says so."""
        if self.body._left > limit and not self.body._chunked:
            raise HTTPError(413, f"request body larger than {limit} bytes", close=True)
        out = bytearray()
        # a body read whole must come in time: a client trickling it would hold a thread
        self.conn.deadline = time.monotonic() + self.conn.body_timeout
        try:
            while True:
                got = self.body.read(64 * 1024)
                if not got:
                    return bytes(out)
                out += got
                if len(out) > limit:
                    raise HTTPError(413, f"request body larger than {limit} bytes", close=True)
        finally:
            self.conn.deadline = None

    def json(self, default: Any = None, check_type: bool = False) -> Any:
        """The body as JSON; an empty body is ``default``. Malformed JSON is a 400 in moby's
        words (``invalid JSON: invalid character 'x' looking for beginning of value``).
        ``check_type``: a body must say ``Content-Type: application/json``, as moby's
        ``CheckForJSON`` (the docker CLI and docker-py always do)."""
        if check_type:
            self.check_json_type()
        raw = self.read_body()
        if not raw.strip():
            return default
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise HTTPError(400, go_json_error(raw, exc)) from None

    def check_json_type(self) -> None:
        """moby's ``CheckForJSON``: no Content-Type is fine only without a body."""
        ct = self.headers.get("content-type", "")
        if not ct and self.body.finished:
            return
        if ct.split(";", 1)[0].strip().lower() != "application/json":
            raise HTTPError(400, f"Content-Type specified ({ct}) must be 'application/json'")

    def header_json(self, name: str) -> Any:
        """A base64url JSON header (``X-Registry-Auth``, ``X-Registry-Config``); None when
        absent or unreadable (Docker ignores a bad one)."""
        import base64

        raw = self.headers.get(name.lower(), "")
        if not raw:
            return None
        try:
            return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except ValueError:
            return None

    @property
    def upgrade(self) -> bool:
        """The client asked to take over the connection (``Upgrade: tcp``)."""
        return "upgrade" in self.headers.get("connection", "").lower()


def _go_char(c: str) -> str:
    """A character as Go's encoding/json quotes it in errors (``'x'``, ``'\\n'``)."""
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    return "'" + json.dumps(c)[1:-1] + "'"


def go_json_error(raw: bytes, exc: ValueError) -> str:
    """Python's JSON error in the words of Go's decoder, as moby's ``invalid JSON: …``
    (clients and courses match on them)."""
    text = raw.decode("utf-8", "replace")
    msg = getattr(exc, "msg", "")
    pos = getattr(exc, "pos", None)
    if pos is None:
        return f"invalid JSON: {exc}"
    if msg == "Extra data":
        return "unexpected content after JSON"
    while pos < len(text) and msg.startswith("Expecting") and text[pos] in " \t\r\n":
        pos += 1
    if pos >= len(text) or msg.startswith("Unterminated string"):
        return "invalid JSON: unexpected EOF"
    c = _go_char(text[pos])
    if msg == "Expecting property name enclosed in double quotes":
        return f"invalid JSON: invalid character {c} looking for beginning of object key string"
    if msg == "Expecting ':' delimiter":
        return f"invalid JSON: invalid character {c} after object key"
    if msg == "Expecting ',' delimiter":
        where = "object key:value pair" if _innermost(text, pos) == "{" else "array element"
        return f"invalid JSON: invalid character {c} after {where}"
    if msg.startswith("Invalid control character"):
        return f"invalid JSON: invalid character {c} in string literal"
    if msg.startswith("Invalid \\escape"):
        c = _go_char(text[pos + 1]) if pos + 1 < len(text) else c
        return f"invalid JSON: invalid character {c} in string escape code"
    return f"invalid JSON: invalid character {c} looking for beginning of value"


def _innermost(text: str, pos: int) -> str:
    """The bracket (``{`` or ``[``) open at ``pos``, strings skipped."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


# ---- responses ------------------------------------------------------------------------------
class Response:
    """A whole body at once."""

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        content_type: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def json_response(value: Any, status: int = 200) -> Response:
    body = json.dumps(value, separators=(",", ":")).encode() + b"\n"
    return Response(status, body, "application/json")


def error_response(status: int, message: str) -> Response:
    return json_response({"message": message}, status)


class Streamed:
    """A body sent as its chunks come (chunked transfer encoding). Closing the iterator is
    how a handler learns the client went away (its ``finally`` runs)."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        content_type: str = "application/json",
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.chunks = chunks
        self.content_type = content_type
        self.status = status
        self.headers = headers or {}


def json_lines(items: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Docker's JSON message stream: one object per line."""
    for item in items:
        yield json.dumps(item, separators=(",", ":")).encode() + b"\r\n"


class Hijacked:
    """The raw connection after the headers: ``run(conn)`` owns it until it returns, then
    the connection is closed. Sent as ``101 UPGRADED`` when the client asked to upgrade,
    else ``200 OK`` (old clients)."""

    def __init__(self, run: Callable[[Connection], None], content_type: str) -> None:
        self.run = run
        self.content_type = content_type


# ---- the connection ----------------------------------------------------------------------------
class Connection:
    """A client's socket: its buffered reader, a lock-free writer, and ``gone`` (set when
    the client has closed its end, as a watcher sees it during long streams)."""

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock = sock
        self.peer = peer
        self.rfile: Any = sock.makefile("rb", buffering=64 * 1024)
        self.gone = threading.Event()
        self.write_lock = threading.Lock()
        # when the server gives up waiting for the client's next bytes (monotonic; None
        # while a request is being answered): see Daemon._reap
        self.deadline: float | None = None
        self.body_timeout = 30.0  # for a whole JSON body (the server sets its own)

    def send(self, data: bytes) -> None:
        try:
            with self.write_lock:
                self.sock.sendall(data)
        except OSError as exc:  # EPIPE, ECONNRESET, a closed socket
            self.gone.set()
            raise ClientGone(str(exc)) from None

    def read_request(self) -> Request | None:
        """The next request, or None when the client closed between requests."""
        line = self.rfile.readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):  # RFC 9112: ignore blank lines before a request
            line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return None
        if len(line) > MAX_LINE or not line.endswith(b"\n"):
            raise HTTPError(414 if len(line) > MAX_LINE else 400, "request line too long", True)
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            raise HTTPError(400, "malformed request line", close=True) from None
        if not version.startswith("HTTP/1."):
            raise HTTPError(400, f"unsupported protocol {version}", close=True)
        headers: dict[str, str] = {}
        total = len(line)
        for _ in range(MAX_HEADERS + 1):
            h = self.rfile.readline(MAX_LINE + 1)
            total += len(h)
            if total > MAX_HEADER_BYTES or len(h) > MAX_LINE:
                raise HTTPError(431, "request headers too large", close=True)
            if h in (b"\r\n", b"\n"):
                break
            if not h:
                return None
            name, sep, value = h.decode("latin-1").partition(":")
            if not sep or not name.strip() or name != name.strip():
                raise HTTPError(400, "malformed header line", close=True)
            key = name.lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        else:
            raise HTTPError(431, f"more than {MAX_HEADERS} header lines", close=True)
        if not target.startswith("/"):
            raise HTTPError(400, "malformed request target", close=True)
        return Request(self, method, target, version, headers)

    def write_head(self, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        """The status line and headers, and ``body`` with them when given (one write for a
        small answer: one system call, and no wait for the peer's ACK of the head on TCP)."""
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if body and len(body) <= 256 * 1024:
            self.send(head + body)
            return
        self.send(head)
        if body:
            self.send(body)

    def close(self) -> None:
        self.gone.set()  # a watcher of this connection stops
        try:
            self.rfile.close()
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_WR)  # the answer is whole: a FIN after it
            self._linger()
        except (OSError, ValueError):
            pass
        self.sock.close()

    def _linger(self) -> None:
        """Read and drop what the client still sends, for a moment (as Apache's lingering
        close): a close with unread input makes the kernel answer with a reset, which can
        destroy our answer before the client has read it (the end padding of a tar after
        ``PUT …/archive``, a body we refused unread)."""
        import time

        self.sock.settimeout(LINGER)
        deadline, left = time.monotonic() + LINGER, LINGER_BYTES
        while left > 0 and time.monotonic() < deadline:
            got = self.sock.recv(min(65536, left))
            if not got:
                return
            left -= len(got)

    def watch(self) -> threading.Thread:
        """Start a watcher that sets ``gone`` when the client closes its end (used while a
        stream waits on the engine, so a vanished client is noticed without a write)."""
        import select

        def run() -> None:
            fd = self.sock.fileno()
            while not self.gone.is_set():
                try:
                    r, _, x = select.select([fd], [], [fd], 1.0)
                    if not r and not x:
                        continue
                    if not self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                        break
                    return  # the client sent something: not ours to read
                except BlockingIOError:
                    continue
                except (OSError, ValueError):
                    break
            self.gone.set()

        t = threading.Thread(target=run, name="watch " + self.peer, daemon=True)
        t.start()
        return t


# ---- Docker's multiplexed stream (attach, exec and logs without a TTY) ---------------------------
RAW_STREAM = "application/vnd.docker.raw-stream"  # with a TTY: the bytes as they are
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"  # API ≥ 1.42 without a TTY


def mux_frame(stream: int, data: bytes) -> bytes:
    """One frame: ``[stream: u8 (0 stdin, 1 stdout, 2 stderr)][0 0 0][size: u32 BE][data]``."""
    return bytes((stream, 0, 0, 0)) + len(data).to_bytes(4, "big") + data


def stream_type(req: Request, tty: bool) -> str:
    """The Content-Type of an attach/exec/logs body: raw with a TTY; multiplexed without
    (named so from API 1.42, raw-stream before, as moby)."""
    if tty:
        return RAW_STREAM
    return MULTIPLEXED if version_at_least(req, "1.42") else RAW_STREAM


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def version_at_least(req: Request, v: str) -> bool:
    """The request's API version is ``v`` or newer (behaviour that moved with versions)."""
    return version_tuple(req.version) >= version_tuple(v)
