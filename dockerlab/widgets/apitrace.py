"""ApiTrace: the Docker Engine API made visible — each request a client sent to
``dockerlab daemon``, read from the daemon's trace feed (``GET /_dockerlab/trace``).

The feed is JSON lines over the daemon's socket; this module reads it with a plain socket
(no HTTP library) so the widget shows exactly what the daemon answered. The table and the
sequence picture are pure functions of the records (:func:`rows`, :func:`table_text`,
:func:`sequence_svg`), tested by value.
"""

from __future__ import annotations

import bisect
import html
import json
import os
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import ipywidgets as w
from traitlets import Bool, Int, Unicode

from dockerlab.widgets._base import error_html, note_html
from dockerlab.widgets.static import StaticPicture

DEFAULT_SOCKET = "/run/dockerlab/docker.sock"
FEED = "/_dockerlab/trace"
SHOWN = 40  # rows in the table and arrows in the picture (the latest ones)
MAX_LINE = 1 << 20

_VERSION = re.compile(r"^/v\d+\.\d+(?=/)")
_HEX = re.compile(r"/[0-9a-f]{64}(?=/|$)")

#: what an endpoint does, in a student's words (shown beside its arrow)
MEANINGS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(HEAD|GET) /_ping$"), "is there a daemon? which API version?"),
    (re.compile(r"^POST /containers/create$"), "create the container (not started)"),
    (re.compile(r"^POST /containers/[^/]+/attach$"), "attach: the raw stream of its output"),
    (re.compile(r"^POST /containers/[^/]+/wait$"), "wait for its exit code"),
    (re.compile(r"^POST /containers/[^/]+/start$"), "start its process"),
    (re.compile(r"^POST /containers/[^/]+/resize$"), "the terminal's size"),
    (re.compile(r"^DELETE /containers/[^/]+$"), "remove the container"),
    (re.compile(r"^GET /containers/json$"), "list containers (docker ps)"),
    (re.compile(r"^GET /containers/[^/]+/json$"), "inspect a container"),
    (re.compile(r"^GET /containers/[^/]+/logs$"), "its logs"),
    (re.compile(r"^POST /containers/[^/]+/exec$"), "create an exec instance"),
    (re.compile(r"^POST /exec/[^/]+/start$"), "run it, attached"),
    (re.compile(r"^GET /images/json$"), "list images"),
    (re.compile(r"^POST /images/create$"), "pull an image"),
    (re.compile(r"^POST /build$"), "build an image from a context"),
    (re.compile(r"^GET /events$"), "follow the engine's events"),
    (re.compile(r"^GET /version$"), "the daemon's version"),
    (re.compile(r"^GET /info$"), "system-wide information"),
    (re.compile(r"^GET /system/df$"), "disk usage"),
    (re.compile(r"^POST /volumes/create$"), "create a volume"),
    (re.compile(r"^POST /networks/create$"), "create a network"),
]


# ---- addresses and the feed ------------------------------------------------------------------
def resolve_host(host: str | None = None) -> str:
    """``host`` (a socket path, ``unix://PATH`` or ``tcp://HOST:PORT``), else
    ``DOCKER_HOST``, else dockerlab's default socket — as ``unix://…`` or ``tcp://…``."""
    host = host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
    if host.startswith(("unix://", "tcp://")):
        return host
    if host.startswith("/"):
        return "unix://" + host
    raise ValueError(f"{host!r}: give a socket path, unix://PATH or tcp://HOST:PORT")


def _connect(host: str, timeout: float) -> socket.socket:
    if host.startswith("unix://"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: Any = host[len("unix://") :]
    else:
        name, _, port = host[len("tcp://") :].rstrip("/").rpartition(":")
        s = socket.socket(socket.AF_INET6 if ":" in name else socket.AF_INET)
        target = (name.strip("[]"), int(port))
    s.settimeout(timeout)
    try:
        s.connect(target)
    except OSError:
        s.close()
        raise
    return s


class FeedError(Exception):
    """The daemon could not be reached, or did not answer as dockerlab's daemon."""


def read_feed(
    host: str, tail: int | None = None, follow: bool = False, timeout: float = 10.0
) -> tuple[socket.socket, Iterator[dict[str, Any]]]:
    """Open the trace feed: (the socket, to close it from another thread; the records as
    they come). Without ``follow`` the records end with the ones the daemon keeps."""
    try:
        s = _connect(host, timeout)
    except OSError as exc:
        raise FeedError(f"cannot connect to the daemon at {host}: {exc.strerror or exc}") from None
    query = f"follow={1 if follow else 0}" + (f"&tail={tail}" if tail is not None else "")
    request = f"GET {FEED}?{query} HTTP/1.1\r\nHost: dockerlab\r\nConnection: close\r\n\r\n"
    try:
        s.sendall(request.encode())
        f = s.makefile("rb")
        status = f.readline(MAX_LINE).split(b" ", 2)
        if len(status) < 2 or not status[0].startswith(b"HTTP/1."):
            raise FeedError(f"{host} does not speak HTTP")
        headers = {}
        while True:
            line = f.readline(MAX_LINE)
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        if status[1] != b"200":
            raise FeedError(
                f"the daemon at {host} has no trace feed ({status[1].decode()}): "
                "is it dockerlab's daemon?"
            )
    except (OSError, FeedError) as exc:
        s.close()
        if isinstance(exc, FeedError):
            raise
        raise FeedError(f"reading the trace feed of {host}: {exc}") from None
    if follow:
        s.settimeout(None)
    return s, _records(f, "chunked" in headers.get("transfer-encoding", ""))


def _records(f: Any, chunked: bool) -> Iterator[dict[str, Any]]:
    def body() -> Iterator[bytes]:
        if not chunked:
            yield from iter(lambda: f.read1(65536), b"")
            return
        while True:
            size_line = f.readline(MAX_LINE)
            if not size_line:
                return
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return
            data = f.read(size)
            f.readline(MAX_LINE)
            if len(data) < size:
                return
            yield data

    pending = b""
    try:
        for data in body():
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(rec, dict):
                        yield rec
    except (OSError, ValueError):
        return


# ---- the records as rows, text and a picture -------------------------------------------------
def _arrival(rec: dict[str, Any]) -> float:
    """When the daemon received the request (its records come when the answers end)."""
    return float(rec.get("time") or 0)


def short_path(path: str) -> str:
    """The path without its ``/vN.NN`` prefix, full IDs cut to 12 digits."""
    path = _VERSION.sub("", path)
    return _HEX.sub(lambda m: m.group(0)[:13], path)


def meaning(method: str, path: str) -> str:
    key = f"{method} {_VERSION.sub('', path)}"
    for pattern, text in MEANINGS:
        if pattern.match(key):
            return text
    return ""


def rows(records: list[dict[str, Any]]) -> list[tuple[str, str, str, str, int, float]]:
    """(method, path as sent, query, body summary, status, milliseconds) per record."""
    return [
        (
            str(r.get("method", "")),
            str(r.get("path", "")),
            str(r.get("query", "")),
            str(r.get("body", "")),
            int(r.get("status", 0)),
            float(r.get("ms", 0.0)),
        )
        for r in records
    ]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table_text(records: list[dict[str, Any]], times: bool = True) -> list[str]:
    """The table as text lines (``times=False`` leaves the durations out: stable output)."""
    out = []
    for method, path, query, body, status, ms in rows(records):
        line = f"{method:<6} {short_path(path)}"
        if query:
            line += "?" + _cut(query, 60)
        line += f" -> {status}"
        if times:
            line += f" ({ms:.1f} ms)"
        if body:
            line += "  " + _cut(body, 80)
        out.append(line)
    return out


def _status_colour(status: int) -> str:
    if status >= 400:
        return "#c62828"
    if status == 101:
        return "#6a1b9a"
    return "#2e7d32"


def sequence_svg(records: list[dict[str, Any]], width: int = 760) -> str:
    """A sequence diagram: the client on the left, the daemon on the right, one arrow per
    request (and its answer's status back), oldest on top — ``docker run`` is create →
    attach → wait → start."""
    from html import escape

    top, step = 34, 34
    left, right = 90, width - 250
    height = top + max(1, len(records)) * step + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="font-family: sans-serif; font-size: 11px">',
        '<defs><marker id="dl-arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
        f'<text x="{left}" y="14" text-anchor="middle" font-weight="bold">client</text>',
        f'<text x="{right}" y="14" text-anchor="middle" font-weight="bold">daemon</text>',
        f'<line x1="{left}" y1="20" x2="{left}" y2="{height - 4}" stroke="#999" '
        'stroke-dasharray="4 3"/>',
        f'<line x1="{right}" y1="20" x2="{right}" y2="{height - 4}" stroke="#999" '
        'stroke-dasharray="4 3"/>',
    ]
    for i, r in enumerate(records):
        y = top + i * step
        method, path = str(r.get("method", "")), str(r.get("path", ""))
        status = int(r.get("status", 0))
        label = _cut(f"{method} {short_path(path)}", 44)
        colour = _status_colour(status)
        parts.append(
            f"<g><title>{escape(method)} {escape(path)}"
            f"{'?' + escape(str(r.get('query'))) if r.get('query') else ''} → {status}</title>"
            f'<text x="{(left + right) // 2}" y="{y - 4}" text-anchor="middle">'
            f"{escape(label)}</text>"
            f'<line x1="{left}" y1="{y}" x2="{right - 2}" y2="{y}" stroke="#555" '
            'marker-end="url(#dl-arrow)"/>'
            f'<line x1="{right}" y1="{y + 9}" x2="{left + 2}" y2="{y + 9}" stroke="{colour}" '
            'stroke-dasharray="3 2" marker-end="url(#dl-arrow)"/>'
            f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" fill="{colour}">{status}</text>'
            f'<text x="{right + 8}" y="{y + 4}" fill="#555">'
            f"{escape(meaning(method, path))}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _table_html(records: list[dict[str, Any]]) -> str:
    head = "".join(
        f'<th style="text-align:left;padding:2px 8px">{h}</th>'
        for h in ("method", "path", "query", "body", "status", "time")
    )
    body = []
    for method, path, query, summary, status, ms in rows(records):
        cells = [
            html.escape(method),
            html.escape(short_path(path)),
            html.escape(_cut(query, 60)),
            html.escape(_cut(summary, 80)),
            f'<span style="color:{_status_colour(status)}">{status}</span>',
            f"{ms:.1f} ms",
        ]
        body.append(
            "<tr>" + "".join(f'<td style="padding:1px 8px">{c}</td>' for c in cells) + "</tr>"
        )
    return (
        '<table style="font-family: ui-monospace, Menlo, Consolas, monospace; font-size:12px">'
        f"<tr>{head}</tr>{''.join(body)}</table>"
    )


# ---- the widget --------------------------------------------------------------------------------
class ApiTrace(StaticPicture, w.VBox):
    """The requests a docker client (the docker CLI, docker-py, ``curl``) sent to
    ``dockerlab daemon``: a table (method, path, query, body summary, status, time) and a
    sequence picture of the latest ones, with what each endpoint does.

    ``host`` is the daemon's socket (a path, ``unix://PATH`` or ``tcp://HOST:PORT``; by
    default ``DOCKER_HOST``, else ``/run/dockerlab/docker.sock``). :meth:`refresh` reads the
    requests the daemon keeps; :meth:`follow` (the default) adds each new one as the daemon
    answers it, in a thread, until :meth:`unfollow` or :meth:`close`. :meth:`clear` forgets
    the rows shown. An unreachable daemon is shown inside the widget, never raised.
    """

    host = Unicode("", read_only=True)
    following = Bool(False, read_only=True)
    count = Int(0, read_only=True)  # requests seen (the table keeps the last ``limit``)
    error = Unicode("", read_only=True)

    def __init__(
        self,
        host: str | None = None,
        follow: bool = True,
        limit: int = 200,
        shown: int = SHOWN,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.set_trait("host", resolve_host(host))
        self.limit = max(1, limit)
        self.shown = max(1, shown)
        self.records: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._halt = threading.Event()
        self._status = w.HTML()
        self._message = w.HTML()
        self._table = w.HTML()
        self._picture = w.HTML()
        self._buttons = {
            name: w.Button(description=name.capitalize(), layout=w.Layout(width="auto"))
            for name in ("follow", "refresh", "clear")
        }
        self._buttons["follow"].on_click(lambda _b: self.toggle())
        self._buttons["refresh"].on_click(lambda _b: self.refresh())
        self._buttons["clear"].on_click(lambda _b: self.clear())
        tabs = w.Tab(children=[self._table, self._picture])
        tabs.set_title(0, "requests")
        tabs.set_title(1, "sequence")
        self.children = [
            w.HBox([self._status, *self._buttons.values()]),
            self._message,
            tabs,
        ]
        if follow:
            self.follow()
        else:
            self.refresh()

    def __repr__(self) -> str:
        mode = "live" if self.following else "stopped"
        n = len(self.records)
        return f"ApiTrace({n} request{'s' if n != 1 else ''} from {self.host}; {mode})"

    # ---- what is shown ----------------------------------------------------------------------
    def rows(self) -> list[tuple[str, str, str, str, int, float]]:
        """(method, path, query, body summary, status, ms) of the requests kept."""
        with self._lock:
            return rows(self.records)

    def text(self, times: bool = False) -> list[str]:
        """The table as text, one line per request (``times`` adds the durations)."""
        with self._lock:
            return table_text(self.records, times)

    def sequence(self) -> list[str]:
        """The latest requests as ``METHOD /path`` (no version prefix, IDs cut): the
        sequence the picture draws."""
        with self._lock:
            return [
                f"{r.get('method', '')} {short_path(str(r.get('path', '')))}"
                for r in self.records[-self.shown :]
            ]

    def svg(self) -> str:
        return str(self._picture.value)

    # ---- reading the daemon -------------------------------------------------------------------
    def refresh(self) -> bool:
        """Read the requests the daemon keeps now (replacing the rows); False, with the
        error shown in the widget, when the daemon cannot be read."""
        try:
            sock, records = read_feed(self.host, tail=self.limit, follow=False)
            try:
                got = list(records)
            finally:
                sock.close()
        except FeedError as exc:
            self._failed(str(exc))
            return False
        with self._lock:
            self.records = sorted(got, key=_arrival)[-self.limit :]
            self.set_trait("count", len(got))
        self._ok()
        self._render()
        return True

    def follow(self) -> None:
        """Show each new request as the daemon answers it (after the ones it keeps)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._halt.clear()
            try:
                sock, records = read_feed(self.host, tail=self.limit, follow=True)
            except FeedError as exc:
                self._failed(str(exc))
                return
            self.records = []
            self.set_trait("count", 0)
            self._sock = sock
            self._thread = threading.Thread(
                target=self._read, args=(sock, records), name="dockerlab-apitrace", daemon=True
            )
            self.set_trait("following", True)
            self._thread.start()
        self._ok()
        self._render()

    def unfollow(self, timeout: float | None = 5.0) -> None:
        self._halt.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the reader blocked in recv
            except OSError:
                pass
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def toggle(self) -> None:
        """The Follow/Stop button."""
        if self.following:
            self.unfollow()
        else:
            self.follow()

    def clear(self) -> None:
        """Forget the rows shown (the daemon keeps its own)."""
        with self._lock:
            self.records = []
            self.set_trait("count", 0)
        self._render()

    def close(self) -> None:
        self.unfollow()
        super().close()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait (bounded) until at least ``count`` requests are shown; for code and tests."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.records) >= count:
                    return True
            if not self.following:
                return False
            self._halt.wait(0.02)
        return False

    def _read(self, sock: socket.socket, records: Iterator[dict[str, Any]]) -> None:
        try:
            for rec in records:
                if self._halt.is_set():
                    break
                with self._lock:
                    # in the order the requests came: a hijacked attach or a wait is
                    # recorded when it ends, after the start that followed it
                    bisect.insort(self.records, rec, key=_arrival)
                    del self.records[: -self.limit]
                    self.set_trait("count", self.count + 1)
                try:
                    self._render()
                except Exception:  # noqa: BLE001 - keep following through a failed redraw
                    pass
        finally:
            sock.close()
            with self._lock:
                self._sock = None
            self.set_trait("following", False)
            if not self._halt.is_set():
                self._failed(f"the daemon at {self.host} closed the trace feed")
            self._render()

    # ---- rendering ------------------------------------------------------------------------------
    def _failed(self, text: str) -> None:
        self.set_trait("error", text)
        self._message.value = error_html(RuntimeError(text))
        self._render()

    def _ok(self) -> None:
        if self.error:
            self.set_trait("error", "")
            self._message.value = ""

    def _render(self) -> None:
        with self._lock:
            latest = list(self.records[-self.shown :])
            n = len(self.records)
        live = "live" if self.following else "stopped"
        self._buttons["follow"].description = "Stop" if self.following else "Follow"
        self._status.value = note_html(f"{n} request{'s' if n != 1 else ''} · {self.host} · {live}")
        self._table.value = _table_html(latest)
        self._picture.value = sequence_svg(latest)
