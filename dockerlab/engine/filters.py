"""Docker's ``--filter`` for listings: containers (``ps``), images (``images``), volumes
(``volume ls``). Filters arrive as the API's ``{key: [values]}``: OR within a key, AND
across keys; an unknown key is refused with the daemon's words. Faces only parse
``key=value`` flags into that shape.
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from dockerlab.engine.containers.store import Container
from dockerlab.errors import InvalidParameter

# ---- containers (``docker ps -f``) ------------------------------------------------------

CONTAINER_FILTERS = frozenset(
    {"status", "name", "id", "exited", "label", "ancestor", "volume", "health"}
)
HEALTH_VALUES = ("starting", "healthy", "unhealthy", "none")


def check_filters(filters: dict[str, list[str]]) -> None:
    """``ps --filter`` keys (the daemon's own words for an unknown one)."""
    for key in filters:
        if key not in CONTAINER_FILTERS:
            raise InvalidParameter(f"invalid filter '{key}'")
    for value in filters.get("health") or []:
        if value not in HEALTH_VALUES:
            raise InvalidParameter(f"Unrecognised filter value for health: {value}")


def matches(c: Container, filters: dict[str, list[str]]) -> bool:
    """Docker's ``ps --filter``: OR within a key, AND across keys."""
    for key, values in filters.items():
        if not values:
            continue
        if key == "status":
            ok = c.state["Status"] in values
        elif key == "name":
            ok = any(v.lstrip("/") in c.name for v in values)
        elif key == "id":
            ok = any(c.id.startswith(v) for v in values)
        elif key == "exited":
            ok = c.state["Status"] == "exited" and str(c.state["ExitCode"]) in values
        elif key == "label":
            labels = c.config["Config"].get("Labels") or {}
            ok = all(_label_match(labels, v) for v in values)
        elif key == "ancestor":
            ok = any(
                v in (c.config["Config"].get("Image"), c.config["Image"])
                or c.config["Image"].startswith("sha256:" + v)
                for v in values
            )
        elif key == "health":
            ok = ((c.state.get("Health") or {}).get("Status") or "none") in values
        elif key == "volume":
            ok = any(
                m.get("Name") == v or m.get("Destination") == v
                for m in c.config.get("MountPoints", [])
                for v in values
            )
        else:
            check_filters({key: values})
        if not ok:
            return False
    return True


def _label_match(labels: dict[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    return key in labels and (not eq or labels[key] == value)


# ---- images (``docker images -f``, and ``docker images REPOSITORY[:TAG]``) ---------------

IMAGE_FILTERS = frozenset({"reference", "dangling", "label", "before", "since"})


def _split_tag(ref: str) -> tuple[str, str]:
    """``repo:tag`` -> (repo, tag); a colon before the last "/" is a registry port."""
    slash, colon = ref.rfind("/"), ref.rfind(":")
    return (ref[:colon], ref[colon + 1 :]) if colon > slash else (ref, "<none>")


def _familiar(name: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _reference_match(tag: str, pattern: str) -> bool:
    repo, version = _split_tag(tag)
    prepo, ptag = _split_tag(pattern)
    return fnmatchcase(_familiar(repo), _familiar(prepo)) and (
        ptag == "<none>" or fnmatchcase(version, ptag)
    )


def filter_images(
    images: list[dict[str, Any]],
    filters: dict[str, list[str]],
    created_of: Callable[[str], float] | None = None,
) -> list[dict[str, Any]]:
    """``GET /images/json?filters=``: ``dangling`` (untagged or not), ``reference`` (glob
    on ``repo[:tag]``; an image is listed with only the tags that match), ``label``
    (``key`` or ``key=value``), ``before`` and ``since`` (created before or after the image
    of the given reference, whose creation time ``created_of`` tells)."""
    for key in filters:
        if key not in IMAGE_FILTERS:
            raise InvalidParameter(f"Invalid filter '{key}'")
    patterns = filters.get("reference") or []
    dangling = filters.get("dangling")
    if created_of is None:
        listed: dict[str, float] = {img["Id"]: img.get("Created", 0) for img in images}

        def created_of(ref: str) -> float:
            return listed[ref]

    before = [created_of(ref) for ref in filters.get("before") or []]
    since = [created_of(ref) for ref in filters.get("since") or []]
    out = []
    for img in images:
        tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"]
        if dangling and (dangling[-1].lower() in ("true", "1")) != (not tags):
            continue
        labels = img.get("Labels") or {}
        if not all(_label_match(labels, spec) for spec in filters.get("label") or []):
            continue
        if any(img.get("Created", 0) >= t for t in before) or any(
            img.get("Created", 0) <= t for t in since
        ):
            continue
        if patterns:
            kept = [t for t in tags if any(_reference_match(t, p) for p in patterns)]
            if not kept:
                continue
            img = {**img, "RepoTags": kept}
        out.append(img)
    return out


# ---- volumes (``docker volume ls -f``) ----------------------------------------------------

VOLUME_FILTERS = frozenset({"dangling", "name", "driver", "label"})


def filter_volumes(
    volumes: list[dict[str, Any]], filters: dict[str, list[str]], used: set[str]
) -> list[dict[str, Any]]:
    """``GET /volumes?filters=``: ``dangling`` (no container mounts it; ``used`` names
    those that one does), ``name`` (substring), ``driver``, ``label`` (``key`` or
    ``key=value``)."""
    for key in filters:
        if key not in VOLUME_FILTERS:
            raise InvalidParameter(f"Invalid filter '{key}'")
    out = list(volumes)
    if filters.get("dangling"):
        want = filters["dangling"][-1].lower() in ("true", "1")
        out = [v for v in out if (v["Name"] not in used) == want]
    for name in filters.get("name") or []:
        out = [v for v in out if name in v["Name"]]
    for driver in filters.get("driver") or []:
        out = [v for v in out if v.get("Driver", "local") == driver]
    for label in filters.get("label") or []:
        out = [v for v in out if _label_match(v.get("Labels") or {}, label)]
    return out
