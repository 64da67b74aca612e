"""``/_ping``, ``/version``, ``/info``, ``/events``, ``/system/df``, and dockerlab's trace
feed (``/_dockerlab/trace``)."""

from __future__ import annotations

import itertools
import json
import queue
from collections.abc import Iterator
from typing import Any

from dockerlab.daemon.http import HTTPError, Request, Response, Streamed, version_at_least
from dockerlab.daemon.router import Api, route
from dockerlab.daemon.trace import Tracer


@route("GET", "/_ping")
@route("HEAD", "/_ping")
def ping(req: Request, api: Api) -> Response:
    headers = {
        "Builder-Version": "1",  # the classic builder: clients do not try BuildKit
        "Cache-Control": "no-cache, no-store, must-revalidate",
        "Pragma": "no-cache",
    }
    return Response(200, b"OK", "text/plain; charset=utf-8", headers)


@route("GET", "/version")
def version(req: Request, api: Api) -> dict[str, Any]:
    result: dict[str, Any] = api.engine().version()
    return result


@route("GET", "/info")
def info(req: Request, api: Api) -> dict[str, Any]:
    result: dict[str, Any] = api.engine().info()
    with api.lock:
        result["NEventsListener"] = api.shared.get("events_listeners", 0)
    return result


# ---- events ---------------------------------------------------------------------------------
def _listeners(api: Api, step: int) -> None:
    with api.lock:
        api.shared["events_listeners"] = api.shared.get("events_listeners", 0) + step


@route("GET", "/events")
def events(req: Request, api: Api) -> Streamed:
    """The engine's event journal as Docker's stream: the past events between ``since`` and
    ``until`` (when either is given), then new ones until ``until`` passes (forever without
    it). A client that goes away ends the stream within a second (the engine's ticks)."""
    stream = api.engine().events(
        req.arg("since") or None, req.arg("until") or None, req.filters(), ticks=True
    )  # a bad time or filter is refused here, before the 200
    # opened now, as dockerd subscribes before its 200: whatever happens after is sent
    first = next(stream, _END)
    gone = req.conn.gone

    def chunks() -> Iterator[bytes]:
        _listeners(api, 1)
        try:
            if first is _END:
                return
            for ev in itertools.chain((first,), stream):
                if gone.is_set():
                    return
                if ev is None:  # a tick: nothing new
                    yield b""
                else:
                    yield json.dumps(ev, separators=(",", ":")).encode() + b"\n"
        finally:
            stream.close()
            _listeners(api, -1)

    return Streamed(chunks(), "application/json")


_END: Any = object()


# ---- disk usage -----------------------------------------------------------------------------
_DF_TYPES = {"container": "Containers", "image": "Images", "volume": "Volumes"}
_DF_TYPES["build-cache"] = "BuildCache"


@route("GET", "/system/df")
def system_df(req: Request, api: Api) -> dict[str, Any]:
    """``docker system df``; ``type`` (API ≥ 1.42, repeatable) keeps only those parts."""
    wanted = set(_DF_TYPES.values())
    if "type" in req.query and version_at_least(req, "1.42"):
        wanted = set()
        for kind in req.args("type"):
            if kind not in _DF_TYPES:
                raise HTTPError(400, f"unknown object type: {kind}")
            wanted.add(_DF_TYPES[kind])
    result: dict[str, Any] = api.engine().system_df()
    for key in _DF_TYPES.values():
        if key not in wanted:
            result[key] = None
    if "Images" not in wanted:
        result["LayersSize"] = 0
    if not version_at_least(req, "1.42"):
        result["BuilderSize"] = 0  # (deprecated, gone in 1.42: the build cache's size)
    return result


# ---- dockerlab's own: the trace feed ------------------------------------------------------------
TRACE_PATH = "/_dockerlab/trace"


@route("GET", TRACE_PATH)
def trace_feed(req: Request, api: Api) -> Streamed:
    """The requests this daemon answers, one JSON object a line: the recent ones (up to
    ``tail``, all kept by default), then each new one as it is answered (``follow=0``:
    the recent ones alone). The feed's own requests are not in it. Read by ``ApiTrace``."""
    tracer: Tracer = api.shared["tracer"]
    tail = req.int_arg("tail")
    follow = req.flag("follow", True)
    req.trace["untraced"] = True
    q = tracer.follow() if follow else None
    recent = list(tracer.recent)  # after joining: a record may come twice, never be lost
    if tail is not None:
        recent = recent[-tail:] if tail > 0 else []
    gone = req.conn.gone

    def chunks() -> Iterator[bytes]:
        seen = set()
        try:
            for rec in recent:
                seen.add(id(rec))
                yield _trace_line(rec)
            while q is not None and not gone.is_set():
                try:
                    rec = q.get(timeout=1.0)
                except queue.Empty:
                    yield b""  # (lets the server notice a client that went away)
                    continue
                if id(rec) in seen:  # recorded while we joined: sent already
                    continue
                seen.clear()
                yield _trace_line(rec)
        finally:
            if q is not None:
                tracer.unfollow(q)

    return Streamed(chunks(), "application/json")


def _trace_line(rec: dict[str, Any]) -> bytes:
    return json.dumps(rec, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
