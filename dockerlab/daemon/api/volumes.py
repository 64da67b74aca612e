"""``/volumes``: list, create, inspect, remove, prune (moby's ``api/server/router/volume``)."""

from __future__ import annotations

from typing import Any

from dockerlab.daemon.http import HTTPError, Request, Response, json_response, version_at_least
from dockerlab.daemon.router import Api, route
from dockerlab.errors import NotFound

ANONYMOUS = "com.docker.volume.anonymous"  # the label anonymous volumes carry (moby ≥ 23)


@route("GET", "/volumes")
def volume_list(req: Request, api: Api) -> dict[str, Any]:
    """``{"Volumes": [...], "Warnings": null}``; filters: dangling, driver, label, name."""
    return {"Volumes": api.engine().volumes(req.filters()), "Warnings": None}


@route("POST", "/volumes/create")
def volume_create(req: Request, api: Api) -> Response:
    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise HTTPError(400, "invalid JSON: the body must be an object")
    driver = body.get("Driver") or "local"
    if driver != "local":
        raise HTTPError(404, f'plugin "{driver}" not found')  # moby's words for a driver
    volume = api.engine().volume_create(
        body.get("Name") or None, body.get("Labels") or None, body.get("DriverOpts") or None
    )
    return json_response(volume, 201)


@route("GET", "/volumes/{name}")
def volume_inspect(req: Request, api: Api) -> dict[str, Any]:
    result: dict[str, Any] = api.engine().volume_inspect(req.params["name"])
    return result


@route("DELETE", "/volumes/{name}")
def volume_remove(req: Request, api: Api) -> None:
    """``force``: a volume that does not exist is no error (moby's ``WithPurgeOnError``)."""
    force = req.flag("force")
    try:
        api.engine().volume_remove(req.params["name"], force=force)
    except NotFound:
        if not force:
            raise


_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True}
_GO_BOOLS.update({"0": False, "f": False, "F": False, "FALSE": False, "false": False})
_GO_BOOLS["False"] = False


@route("POST", "/volumes/prune")
def volume_prune(req: Request, api: Api) -> dict[str, Any]:
    """Unused volumes; from API 1.42 the anonymous ones only, unless ``all=true`` is among
    the filters (older clients get every unused volume, as Docker 20.10 pruned)."""
    filters = req.filters()
    everything = filters.pop("all", None)
    if not version_at_least(req, "1.42"):
        everything = ["true"]
    if everything is not None:
        if len(everything) > 1:
            raise HTTPError(
                400, f"invalid filter 'all=[{' '.join(everything)}]': only one value is expected"
            )
        if everything[0] not in _GO_BOOLS:
            raise HTTPError(
                400,
                f"invalid filter 'all': strconv.ParseBool: parsing \"{everything[0]}\": "
                "invalid syntax",
            )
    if not (everything and _GO_BOOLS[everything[0]]):
        filters["label"] = [*filters.get("label", []), ANONYMOUS]
    result: dict[str, Any] = api.engine().volume_prune(filters)
    result["VolumesDeleted"] = result.get("VolumesDeleted") or []  # dockerd's: [], not null
    return result
