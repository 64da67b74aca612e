"""Docker's ``--filter`` for listings: containers (``ps``), images (``images``), volumes
(``volume ls``). Filters arrive as the API's ``{key: [values]}``: OR within a key, AND
across keys; an unknown key is refused with the daemon's words. Faces only parse
``key=value`` flags into that shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from dockerlab.engine.containers.store import Container
from dockerlab.errors import InvalidParameter

# ---- containers (``docker ps -f``) ------------------------------------------------------

CONTAINER_FILTERS = frozenset(
    {
        "ancestor",
        "before",
        "exited",
        "expose",
        "health",
        "id",
        "is-task",
        "isolation",
        "label",
        "name",
        "network",
        "publish",
        "since",
        "status",
        "volume",
    }
)
STATES = frozenset({"created", "restarting", "running", "removing", "paused", "exited", "dead"})
HEALTH_STATES = frozenset({"starting", "healthy", "unhealthy", "none"})
ZERO_TIME = "0001-01-01T00:00:00Z"


def _invalid(key: str, value: str | None = None) -> InvalidParameter:
    """The daemon's invalidFilter: ``Invalid filter 'status=bogus'`` / ``'nope'``."""
    return InvalidParameter(
        f"Invalid filter '{key}'" if value is None else f"Invalid filter '{key}={value}'"
    )


def check_filters(
    filters: dict[str, list[str]], accepted: frozenset[str] = CONTAINER_FILTERS
) -> None:
    """filters.Validate: an unknown key is refused with the daemon's words."""
    for key in filters:
        if key not in accepted:
            raise _invalid(key)


def regex_search(pattern: str, text: str) -> bool:
    """filters.Match's regexp.MatchString: an unanchored search; a pattern Go (here:
    Python's re, close to RE2 for what a name filter uses) cannot compile matches nothing."""
    try:
        return re.search(pattern, text) is not None
    except (re.error, RecursionError, OverflowError):
        return False


def _match(values: list[str], text: str) -> bool:
    """filters.Match: an exact value or a regular expression found in ``text``."""
    return text in values or any(regex_search(v, text) for v in values)


def _labels_match(labels: dict[str, str], specs: list[str]) -> bool:
    """filters.MatchKVList: every ``key`` / ``key=value`` must hold (AND)."""
    return all(_label_match(labels, spec) for spec in specs)


def _ports(key: str, value: str) -> set[str]:
    """portOp: ``80``, ``80/udp`` or ``8000-8010[/proto]`` as a set of ``port/proto``."""
    if ":" in value:
        raise InvalidParameter(f"filter for '{key}' should not contain ':': {value}")
    parts = value.split("/")
    proto, port = ("tcp", value) if len(parts) == 1 else (parts[1] or "tcp", parts[0])
    if not value or not parts[0]:
        proto, port = "", ""

    def uint16(text: str) -> int:
        if not text.isdigit() or not text.isascii():
            raise InvalidParameter(
                f"error while looking up for {key} {value}: strconv.ParseUint: "
                f'parsing "{text}": invalid syntax'
            )
        if int(text) > 65535:
            raise InvalidParameter(
                f"error while looking up for {key} {value}: strconv.ParseUint: "
                f'parsing "{text}": value out of range'
            )
        return int(text)

    if not port:
        raise InvalidParameter(
            f"error while looking up for {key} {value}: Empty string specified for ports."
        )
    lo, dash, hi = port.partition("-")
    start = uint16(lo)
    end = uint16(hi) if dash else start
    if end < start:
        raise InvalidParameter(
            f"error while looking up for {key} {value}: "
            f"Invalid range specified for the Port: {port}"
        )
    return {f"{p}/{proto}" for p in range(start, end + 1)}


class ImageLineage(Protocol):
    """What ``ancestor=`` needs of the image store."""

    def resolve(self, ref: str) -> str: ...

    def children(self, image_id: str) -> list[str]: ...


def select_containers(
    containers: list[Container],
    filters: dict[str, list[str]],
    all: bool = False,
    limit: int = -1,
    images: ImageLineage | None = None,
) -> list[Container]:
    """``GET /containers/json?filters=``, as the daemon's reduceContainers walks its list:
    ``containers`` newest first; ``before``/``since`` cut the list at a container (the
    walk skips up to and including ``before``, and stops at ``since``); ``status`` lists
    stopped ones too; ``limit`` (``-n``) counts what is kept. OR within a key, AND across
    keys (but ``label``: every one must hold). Values are checked first, with the
    daemon's messages."""
    f = {k: v for k, v in filters.items()}
    check_filters(f)
    exited: list[int] = []
    for value in f.get("exited", []):
        try:
            exited.append(int(value))
        except ValueError:
            raise InvalidParameter(f'strconv.Atoi: parsing "{value}": invalid syntax') from None
    for value in f.get("status", []):
        if value not in STATES:
            raise _invalid("status", value)
        all = True
    is_task: bool | None = None
    if "is-task" in f:
        tasks = set(f["is-task"])
        if "true" in tasks:
            is_task = True
        elif "false" in tasks:
            is_task = False
        else:
            raise _invalid("is-task", "[" + " ".join(f["is-task"]) + "]")
    for value in f.get("health", []):
        if value not in HEALTH_STATES:
            raise InvalidParameter(f"Unrecognised filter value for health: {value}")
    before = since = None
    for key in ("before", "since"):
        for value in f.get(key, []):
            found = _find(containers, value)
            if key == "before":
                before = found
            else:
                since = found
    publish = {p for v in f.get("publish", []) for p in _ports("publish", v)}
    expose = {p for v in f.get("expose", []) for p in _ports("expose", v)}
    ancestors: set[str] | None = None
    if "ancestor" in f:
        ancestors = set()
        for value in f["ancestor"]:
            if images is not None:
                _descendants(images, value, ancestors)
    ids: set[str] | None = None
    if "id" in f:  # the daemon looks IDs up in its prefix index: a unique prefix or nothing
        ids = set()
        for value in f["id"]:
            hits = [c.id for c in containers if value and c.id.startswith(value)]
            if len(hits) == 1:
                ids.add(hits[0])

    out: list[Container] = []
    for c in containers:
        if before is not None:
            if c.id == before:
                before = None
            continue
        if since is not None and c.id == since:
            break
        if not c.running and not all and limit <= 0:
            continue
        name = c.name.lstrip("/")
        if "name" in f and not (_match(f["name"], "/" + name) or _match(f["name"], name)):
            continue
        if ids is not None and c.id not in ids:
            continue
        if is_task is not None and is_task:  # no container here is a swarm task
            continue
        labels = c.config["Config"].get("Labels") or {}
        if "label" in f and not (labels and _labels_match(labels, f["label"])):
            continue
        isolation = (c.config["HostConfig"].get("Isolation") or "default").lower()
        if "isolation" in f and not _match(f["isolation"], isolation):
            continue
        if limit > 0 and len(out) == limit:
            break
        state = c.state
        if exited and not (
            not c.running
            and state.get("ExitCode") in exited
            and state.get("StartedAt", ZERO_TIME) != ZERO_TIME
        ):
            continue
        if "status" in f and not _match(f["status"], state["Status"]):
            continue
        if "health" in f and _health(state) not in f["health"]:
            continue
        if "volume" in f and not _mounts_any(c, f["volume"]):
            continue
        if ancestors is not None and c.config["Image"] not in ancestors:
            continue
        if "network" in f and not _on_network(c, f["network"]):
            continue
        if publish and not publish & _published(c):
            continue
        if expose and not expose & set(c.config["Config"].get("ExposedPorts") or {}):
            continue
        out.append(c)
    return out


def _find(containers: list[Container], ref: str) -> str:
    """daemon.GetContainer for ``before=``/``since=``: full ID, name, or unique ID prefix."""
    from dockerlab.errors import NotFound

    for c in containers:
        if c.id == ref or c.name.lstrip("/") == ref.lstrip("/"):
            return c.id
    hits = [c.id for c in containers if ref and c.id.startswith(ref)]
    if len(hits) == 1:
        return hits[0]
    raise NotFound(f"no such container {ref}")


def _descendants(images: ImageLineage, ref: str, into: set[str]) -> None:
    """The image ``ref`` names and every image built on it (an unknown one adds none)."""
    from dockerlab.errors import DockerlabError

    try:
        todo = [images.resolve(ref)]
    except DockerlabError:
        return
    while todo:
        image_id = todo.pop()
        if image_id not in into:
            into.add(image_id)
            todo += images.children(image_id)


def _health(state: dict[str, Any]) -> str:
    """The container's health for ``health=``: ``none`` without a healthcheck."""
    return str((state.get("Health") or {}).get("Status") or "none")


def _mounts_any(c: Container, values: list[str]) -> bool:
    """``volume=``: a volume's name (a bind's source) or any mount's destination."""
    mounts = c.config.get("MountPoints", [])
    names = {m.get("Name") or m.get("Source") for m in mounts}
    dests = {m.get("Destination") for m in mounts if m.get("Destination")}
    return any(v in dests or v in names for v in values)


def _on_network(c: Container, values: list[str]) -> bool:
    """``network=``: a network the container is on, by name or network ID prefix."""
    from dockerlab.engine.containers.records import network_settings

    nets = network_settings(c).get("Networks") or {}
    return any(
        v in nets or any((n or {}).get("NetworkID", "").startswith(v) for n in nets.values() if v)
        for v in values
    )


def _published(c: Container) -> set[str]:
    bindings = c.config["HostConfig"].get("PortBindings") or {}
    return {port for port, binds in bindings.items() if binds}


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


def go_glob(pattern: str) -> re.Pattern[str]:
    """Go's ``path.Match`` pattern as a regular expression: ``*`` and ``?`` stop at "/",
    ``[a-z]``/``[^…]`` classes, ``\\`` escapes; a malformed pattern is refused with Go's
    words (``syntax error in pattern``)."""
    bad = InvalidParameter("syntax error in pattern")
    out: list[str] = []
    i, n = 0, len(pattern)

    def esc(i: int) -> tuple[str, int]:  # Go's getEsc
        if i >= n or pattern[i] in "-]":
            raise bad
        if pattern[i] == "\\":
            i += 1
            if i >= n:
                raise bad
        return pattern[i], i + 1

    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            if i + 1 >= n:
                raise bad
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            i += 1
            negated = i < n and pattern[i] == "^"
            i += negated
            ranges: list[str] = []
            while not (i < n and pattern[i] == "]" and ranges):
                lo, i = esc(i)
                hi = lo
                if i < n and pattern[i] == "-":
                    hi, i = esc(i + 1)
                    if hi < lo:
                        raise bad
                ranges.append(re.escape(lo) + ("-" + re.escape(hi) if hi != lo else ""))
            out.append("[" + ("^" if negated else "") + "".join(ranges) + "]")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def _reference_match(ref: str, patterns: list[re.Pattern[str]]) -> bool:
    """reference.FamiliarMatch: the pattern against ``repo:tag`` (or ``repo@digest``), then
    against the repository name alone; no ``docker.io/library/`` spelling is tried."""
    name = ref.split("@", 1)[0]
    repo = _split_tag(name)[0] if "@" not in ref else name
    full, repo = _familiar(ref), _familiar(repo)
    return any(p.fullmatch(full) or p.fullmatch(repo) for p in patterns)


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
    patterns = [go_glob(p) for p in filters.get("reference") or []]
    dangling = filters.get("dangling")
    if dangling and "true" not in dangling and "false" not in dangling:
        raise _invalid("dangling", "[" + " ".join(dangling) + "]")
    if created_of is None:
        listed: dict[str, float] = {img["Id"]: img.get("Created", 0) for img in images}

        def created_of(ref: str) -> float:
            return listed[ref]

    before = [created_of(ref) for ref in filters.get("before") or []]
    since = [created_of(ref) for ref in filters.get("since") or []]
    out = []
    for img in images:
        tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"]
        if dangling and ("true" in dangling) != (not tags):
            continue
        labels = img.get("Labels") or {}
        if not all(_label_match(labels, spec) for spec in filters.get("label") or []):
            continue
        if any(img.get("Created", 0) >= t for t in before) or any(
            img.get("Created", 0) <= t for t in since
        ):
            continue
        if patterns:  # the image with only the references that match
            kept = [t for t in tags if _reference_match(t, patterns)]
            digests = [d for d in img.get("RepoDigests") or [] if _reference_match(d, patterns)]
            if not kept and not digests:
                continue
            img = {**img, "RepoTags": kept, "RepoDigests": digests}
        out.append(img)
    return out


# ---- volumes (``docker volume ls -f``) ----------------------------------------------------

VOLUME_FILTERS = frozenset({"dangling", "name", "driver", "label"})


def filter_volumes(
    volumes: list[dict[str, Any]], filters: dict[str, list[str]], used: set[str]
) -> list[dict[str, Any]]:
    """``GET /volumes?filters=``: ``dangling`` (no container mounts it; ``used`` names
    those that one does), ``name`` (a regular expression, as ``ps``), ``driver`` (exact),
    ``label`` (``key`` or ``key=value``)."""
    for key in filters:
        if key not in VOLUME_FILTERS:
            raise InvalidParameter(f"Invalid filter '{key}'")
    out = list(volumes)
    if filters.get("dangling"):
        values = filters["dangling"]
        if not {"true", "1", "false", "0"} & set(values):
            raise _invalid("dangling", "[" + " ".join(values) + "]")
        want = "true" in values or "1" in values
        out = [v for v in out if (v["Name"] not in used) == want]
    if filters.get("name"):  # filters.Match: exact, or a regular expression found in it
        out = [v for v in out if _match(filters["name"], v["Name"])]
    for driver in filters.get("driver") or []:
        out = [v for v in out if v.get("Driver", "local") == driver]
    for label in filters.get("label") or []:
        out = [v for v in out if _label_match(v.get("Labels") or {}, label)]
    return out


# ---- prunes (``container|image|volume|system prune --filter``) -----------------------------

CONTAINER_PRUNE_FILTERS = frozenset({"label", "label!", "until"})
IMAGE_PRUNE_FILTERS = frozenset({"dangling", "label", "label!", "until"})
VOLUME_PRUNE_FILTERS = frozenset({"label", "label!"})

_DURATION = re.compile(r"(?:[0-9]*\.?[0-9]+(?:ns|us|µs|ms|s|m|h))+")
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def timestamp(value: str, now: float | None = None) -> float:
    """timetypes.GetTimestamp: a Go duration before now (``10m``, ``1h30m``), a Unix
    timestamp (``1700000000.5``), or an RFC 3339 time or date (local time when the zone
    is left out)."""
    import time
    from datetime import datetime

    now = time.time() if now is None else now
    if _DURATION.fullmatch(value):
        return now - sum(float(n) * _SECONDS[u] for n, u in _DURATION_PART.findall(value))
    if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
        return float(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(f'failed to parse value as time or duration: "{value}"') from None
    return parsed.timestamp()  # a naive time is local, as Docker's


def prune_matcher(
    filters: dict[str, list[str]], accepted: frozenset[str]
) -> Callable[[dict[str, str] | None, float], bool]:
    """The daemon's prune filters as a test of (labels, creation time): ``until`` (created
    before), ``label`` (every ``key``/``key=value`` holds), ``label!`` (not all of them
    hold). Keys and the ``until`` value are checked now, with the daemon's words."""
    check_filters(filters, accepted)
    untils = filters.get("until") or []
    if len(untils) > 1:
        raise InvalidParameter("more than one until filter specified")
    until = timestamp(untils[0]) if untils else None
    want, unwanted = filters.get("label") or [], filters.get("label!") or []

    def match(labels: dict[str, str] | None, created: float) -> bool:
        labels = labels or {}
        if until is not None and created > until:
            return False
        if want and not (labels and _labels_match(labels, want)):
            return False
        return not (unwanted and labels and _labels_match(labels, unwanted))

    return match


def dangling_only(filters: dict[str, list[str]]) -> bool:
    """Image prune's ``dangling`` (the CLI sends ``true`` unless ``--all``): any ``false``
    widens the prune to every unused image."""
    values = filters.get("dangling")
    if not values:
        return True
    if "false" in values or "0" in values:
        return False
    if "true" in values or "1" in values:
        return True
    raise _invalid("dangling", "[" + " ".join(values) + "]")
