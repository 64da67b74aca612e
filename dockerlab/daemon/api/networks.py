"""``/networks``: list, inspect, create, remove, connect, disconnect, prune (moby's
``api/server/router/network``). The engine's networks are bridge, host, none and
user-defined bridge networks."""

from __future__ import annotations

from typing import Any

from dockerlab.daemon.http import HTTPError, Request, Response, json_response
from dockerlab.daemon.router import Api, route
from dockerlab.errors import NotFound


def _body(req: Request) -> dict[str, Any]:
    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise HTTPError(400, "invalid JSON: the body must be an object")
    return body


@route("GET", "/networks")
def network_list(req: Request, api: Api) -> list[dict[str, Any]]:
    """Filters: driver, id, label, name, scope, type, dangling. As dockerd, the list gives
    each network's ``Containers`` empty (inspect one network to see them)."""
    out = []
    for doc in api.engine().networks(req.filters()):
        doc = dict(doc)
        doc["Containers"] = {}
        out.append(doc)
    return out


@route("GET", "/networks/{id}")
def network_inspect(req: Request, api: Api) -> dict[str, Any]:
    """``verbose`` (swarm's services: nothing to add here) and ``scope`` (only a network of
    that scope is found)."""
    verbose = req.arg("verbose")
    if verbose and verbose not in ("0", "1", "t", "f", "true", "false", "True", "False"):
        raise HTTPError(
            400,
            f'invalid value for verbose: {verbose}: strconv.ParseBool: parsing "{verbose}": '
            "invalid syntax",
        )
    ref = req.params["id"]
    doc: dict[str, Any] = api.engine().network_inspect(ref)
    scope = req.arg("scope")
    if scope and doc.get("Scope", "local") != scope:
        raise NotFound(f"network {ref} not found")
    return doc


@route("POST", "/networks/create")
def network_create(req: Request, api: Api) -> Response:
    body = _body(req)
    if not body.get("Name"):
        raise HTTPError(400, "network name is required")  # moby's check before the backend
    return json_response(api.engine().network_create(body), 201)


@route("DELETE", "/networks/{id}")
def network_remove(req: Request, api: Api) -> None:
    api.engine().network_remove(req.params["id"])


@route("POST", "/networks/{id}/connect")
def network_connect(req: Request, api: Api) -> Response:
    """``{"Container", "EndpointConfig": {"Aliases", "IPAMConfig": {"IPv4Address"}}}``."""
    body = _body(req)
    endpoint = body.get("EndpointConfig") or {}
    ipam = endpoint.get("IPAMConfig") or {}
    api.engine().network_connect(
        req.params["id"],
        str(body.get("Container") or ""),
        list(endpoint.get("Aliases") or []),
        str(ipam.get("IPv4Address") or ""),
    )
    return Response(200)


@route("POST", "/networks/{id}/disconnect")
def network_disconnect(req: Request, api: Api) -> Response:
    """``{"Container", "Force"}``."""
    body = _body(req)
    api.engine().network_disconnect(
        req.params["id"], str(body.get("Container") or ""), bool(body.get("Force"))
    )
    return Response(200)


@route("POST", "/networks/prune")
def network_prune(req: Request, api: Api) -> dict[str, Any]:
    """Filters: until, label, label!."""
    result: dict[str, Any] = api.engine().network_prune(req.filters())
    return result
