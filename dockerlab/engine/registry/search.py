"""``docker search`` and ``docker login`` against a registry.

Distribution has no search API (Docker's daemon asks ``/v1/search``, a Docker Hub API, and
gets 404): dockerlab lists the registry's ``/v2/_catalog`` and keeps the repositories whose
name holds the term — dockerlab's extension, so the course's ``search`` works on a lab
registry. A term without a registry searches the first mirror (``DOCKERLAB_MIRROR``), else
Docker Hub's ``/v1/search``.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from dockerlab.engine.registry.client import (
    DOCKER_HUB,
    MAX_JSON_BODY,
    Client,
    RegistryError,
    Settings,
    Unauthorized,
    mirror_netloc,
    raise_for,
)

MAX_PAGES = 50


def split_term(term: str, settings: Settings) -> tuple[str, str, str]:
    """(netloc, scheme, query) of a search term: ``localhost:5000/bus`` → the registry."""
    head, sep, rest = term.partition("/")
    if sep and ("." in head or ":" in head or head == "localhost"):
        return head, "", rest
    if settings.mirrors:
        scheme, netloc = mirror_netloc(settings.mirrors[0])
        return netloc, scheme, term
    return "index.docker.io", "https", term


def search(term: str, settings: Settings, limit: int = 25) -> list[dict[str, Any]]:
    """Docker's search results (``name``, ``description``, ``star_count``, ``is_official``,
    ``is_automated``), at most ``limit``."""
    netloc, scheme, query = split_term(term, settings)
    client = Client(netloc, "", "pull", settings, scheme)
    if netloc == "index.docker.io":
        client._pinged = True  # Docker Hub's v1 search is asked directly, as Docker does
        q = urllib.parse.urlencode({"q": query, "n": limit})
        resp = client.request("GET", f"/v1/search?{q}", scope="registry:catalog:*")
        raise_for(resp, "")
        data = json.loads(resp.read_limited(MAX_JSON_BODY))
        resp.close()
        return list(data.get("results") or [])[:limit]
    names: list[str] = []
    path = "/v2/_catalog?n=1000"
    for _ in range(MAX_PAGES):
        resp = client.request("GET", path, scope="registry:catalog:*")
        if resp.status in (401, 403):
            resp.read_limited(MAX_JSON_BODY)
            resp.close()
            raise Unauthorized("unauthorized: authentication required")
        raise_for(resp, "")
        try:
            data = json.loads(resp.read_limited(16 * MAX_JSON_BODY))
        except ValueError:
            raise RegistryError(f"{netloc}: the catalog is not JSON") from None
        resp.close()
        names += [str(n) for n in data.get("repositories") or []]
        link = resp.headers.get("link", "")
        if not link.startswith("<"):
            break
        path = link[1 : link.index(">")]
    q = query.lower()
    found = [n for n in names if q in n.lower()]
    return [
        {
            "name": f"{netloc}/{n}",
            "description": "",
            "star_count": 0,
            "is_official": False,
            "is_automated": False,
        }
        for n in found[:limit]
    ]


def login(server: str, user: str, password: str, settings: Settings) -> str:
    """Check the credentials against the registry (``GET /v2/``); returns the key they are
    stored under. Raises with Docker's text on refusal."""
    domain = normalise_server(server)
    netloc = "registry-1.docker.io" if domain == DOCKER_HUB else domain
    scheme = "https" if domain == DOCKER_HUB else ""
    client = Client(netloc, "", "pull", settings, scheme, domain, (user, password))
    client.ping()
    if client.challenge is None:
        return domain
    kind, params = client.challenge
    if kind == "bearer":
        try:
            client.fetch_token(params, "", login=True)
        except Unauthorized as exc:
            raise Unauthorized(f'Get "{client.base()}/v2/": {exc}') from None
        return domain
    resp = client.request("GET", "/v2/")
    resp.read_limited(MAX_JSON_BODY)
    resp.close()
    if resp.status != 200:
        reason = f"{resp.status} {resp.resp.reason}"
        raise Unauthorized(f"login attempt to {client.base()}/v2/ failed with status: {reason}")
    return domain


def normalise_server(server: str) -> str:
    """Docker's server argument: ``http://host:port/`` → ``host:port``; none/Hub → docker.io."""
    s = server.strip()
    for prefix in ("https://", "http://"):
        if s.startswith(prefix):
            s = s[len(prefix) :]
    s = s.split("/", 1)[0]
    if not s or s in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return DOCKER_HUB
    return s
