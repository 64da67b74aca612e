"""``/_ping``, ``/version``, ``/info``, and dockerlab's trace feed."""

from __future__ import annotations

from typing import Any

from dockerlab.daemon.http import Request, Response
from dockerlab.daemon.router import Api, route


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
    return result
