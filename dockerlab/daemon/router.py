"""The route table, the API version in the path, and the one error boundary of the API.

Handler modules declare their routes with :func:`route`; a handler takes the request and
the daemon's :class:`Api` (the engine for this request, the daemon's shared state) and
returns a :class:`~dockerlab.daemon.http.Response`, ``Streamed`` or ``Hijacked``, a dict or
list (``200`` JSON), or None (``204``). Engine errors become Docker's status codes through
:func:`dockerlab.errors.http_status` and ``{"message": …}`` bodies, as moby's.
"""

from __future__ import annotations

import re
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from dockerlab.daemon.http import (
    ClientGone,
    HTTPError,
    Request,
    Response,
    error_response,
    json_response,
    version_tuple,
)
from dockerlab.engine.system import API_VERSION, MIN_API_VERSION
from dockerlab.errors import DockerlabError, http_status

Handler = Callable[[Request, "Api"], Any]


class Route:
    __slots__ = ("handler", "method", "pattern", "regex")

    def __init__(self, method: str, pattern: str, handler: Handler) -> None:
        self.method = method
        self.pattern = pattern
        self.handler = handler
        parts = re.split(r"\{(\w+)(?::([^}]*))?\}", pattern)
        rx = ""
        for i in range(0, len(parts), 3):
            rx += re.escape(parts[i])
            if i + 1 < len(parts):
                name, body = parts[i + 1], parts[i + 2]
                rx += f"(?P<{name}>{'.+' if body == '.*' else '[^/]+'})"
        self.regex = re.compile(rx + r"\Z")


ROUTES: list[Route] = []
_loaded: list[bool] = []  # the handler modules were imported (a test may add routes first)


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Declare ``handler`` as the answer to ``method pattern``; ``{name}`` is one path
    segment, ``{name:.*}`` any rest (image references hold slashes)."""

    def add(handler: Handler) -> Handler:
        ROUTES.append(Route(method, pattern, handler))
        return handler

    return add


def load_routes() -> None:
    """Import the handler modules (each registers its routes); the daemon does it before
    serving, so no request pays for it."""
    if _loaded:
        return
    import importlib
    import pkgutil

    from dockerlab.daemon import api

    for info in pkgutil.iter_modules(api.__path__):
        importlib.import_module(f"dockerlab.daemon.api.{info.name}")
    _loaded.append(True)


class Api:
    """What handlers share: the state root, a fresh engine per request (engine objects keep
    no cross-request state; the files and their locks are the truth), and the daemon's own
    in-memory tables (exec instances, as Docker keeps them)."""

    def __init__(self, root: str | None) -> None:
        self.root = root
        self.lock = threading.Lock()
        self.execs: dict[str, Any] = {}
        self.shared: dict[str, Any] = {}  # other tables a handler module keeps

    def engine(self) -> Any:
        from dockerlab.engine import Engine

        return Engine(self.root)


_VERSIONED = re.compile(r"/v(\d+\.\d+)(/.*)\Z")


def negotiate(req: Request) -> None:
    """Strip ``/vN.NN`` from the path into ``req.version``; refuse what moby refuses."""
    m = _VERSIONED.match(req.path)
    if not m:
        req.version = API_VERSION
        return
    req.version, req.path = m.group(1), m.group(2)
    if version_tuple(req.version) < version_tuple(MIN_API_VERSION):
        raise HTTPError(
            400,
            f"client version {req.version} is too old. Minimum supported API version is "
            f"{MIN_API_VERSION}, please upgrade your client to a newer version",
        )
    if version_tuple(req.version) > version_tuple(API_VERSION):
        raise HTTPError(
            400,
            f"client version {req.version} is too new. Maximum supported API version is "
            f"{API_VERSION}",
        )


def find(req: Request) -> Handler:
    """The handler for the request's method and path. A path served under another method
    is a 404 "page not found" too, as moby's (its router answers both alike)."""
    method = "GET" if req.method == "HEAD" and req.path != "/_ping" else req.method
    for r in ROUTES:
        if r.method != method:
            continue
        m = r.regex.match(req.path)
        if m is None:
            continue
        req.params = m.groupdict()
        return r.handler
    raise HTTPError(404, "page not found")


def dispatch(req: Request, api: Api) -> Any:
    """Run the request's handler; every failure becomes an error response (the daemon
    never dies of a request). ``ClientGone`` passes: there is nobody to answer."""
    if not _loaded:
        load_routes()
    try:
        negotiate(req)
        result = find(req)(req, api)
    except ClientGone:
        raise
    except HTTPError as exc:
        req.trace["error"] = str(exc)
        response = error_response(exc.status, str(exc))
        response.headers["Connection"] = "close" if exc.close else ""
        return response
    except DockerlabError as exc:
        req.trace["error"] = str(exc)
        return error_response(http_status(exc), str(exc))
    except Exception as exc:  # a bug: answer 500, log the traceback, keep serving
        traceback.print_exc(file=sys.stderr)
        req.trace["error"] = repr(exc)
        return error_response(500, f"{type(exc).__name__}: {exc}")
    if result is None:
        return Response(204)
    if isinstance(result, (dict, list)):
        return json_response(result)
    return result
