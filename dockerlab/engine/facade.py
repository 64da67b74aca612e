"""The engine's one public object: every face (CLI, magics, widgets, API) calls this.

Records are plain dicts shaped and named exactly as the Docker Engine API returns them
(``GET /containers/json``, ``/containers/{id}/json``, ``/images/json`` …), so faces can render
Docker's tables and ``--format`` paths without translation, and the API server can pass them
through. Verbs raise :mod:`dockerlab.errors` and never print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from dockerlab.engine.paths import Paths


@dataclass
class LogEntry:
    stream: str  # "stdout" | "stderr"
    data: bytes
    time: str  # RFC 3339 with nanoseconds, as Docker's json-file driver writes


@dataclass
class StreamSpec:
    """What an attached caller wants from a container's standard streams."""

    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    detach_keys: str = "ctrl-p,ctrl-q"
    extra: dict[str, Any] = field(default_factory=dict)


class Engine:
    """Images, containers and volumes under one state root (``DOCKERLAB_ROOT``)."""

    def __init__(self, root: str | None = None) -> None:
        self.paths = Paths.of(root)

    # ---- system -------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        """Docker ``GET /version`` shape."""
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        """Docker ``GET /info`` shape (Driver, CgroupVersion, KernelVersion, counts …)."""
        raise NotImplementedError

    # ---- images -------------------------------------------------------------------------
    def images(self, all: bool = False) -> list[dict[str, Any]]:
        """Docker ``GET /images/json`` shape (Id, RepoTags, Created, Size, ParentId …)."""
        raise NotImplementedError

    def image_inspect(self, ref: str) -> dict[str, Any]:
        raise NotImplementedError

    def image_history(self, ref: str) -> list[dict[str, Any]]:
        """Docker ``GET /images/{name}/history``: newest first, Id ``<missing>`` when unknown."""
        raise NotImplementedError

    def image_remove(self, ref: str, force: bool = False) -> list[dict[str, str]]:
        """Returns ``[{"Untagged": ...}, {"Deleted": ...}]`` as Docker does."""
        raise NotImplementedError

    def image_tag(self, ref: str, target: str) -> None:
        raise NotImplementedError

    def image_bootstrap(self, name: str = "busybox") -> str:
        """Make ``busybox:latest`` from the host's static busybox; returns the image ID."""
        raise NotImplementedError

    # ---- containers ---------------------------------------------------------------------
    def create(self, body: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        """Docker ``POST /containers/create``: body has Config fields plus ``HostConfig``.

        Returns ``{"Id": ..., "Warnings": [...]}``.
        """
        raise NotImplementedError

    def start(self, ref: str) -> None:
        raise NotImplementedError

    def containers(self, all: bool = False, filters: dict[str, list[str]] | None = None,
                   limit: int = -1) -> list[dict[str, Any]]:
        """Docker ``GET /containers/json`` shape, newest first."""
        raise NotImplementedError

    def inspect(self, ref: str) -> dict[str, Any]:
        raise NotImplementedError

    def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        raise NotImplementedError

    def kill(self, ref: str, signal: str = "KILL") -> None:
        raise NotImplementedError

    def pause(self, ref: str) -> None:
        raise NotImplementedError

    def unpause(self, ref: str) -> None:
        raise NotImplementedError

    def restart(self, ref: str, timeout: int | None = None) -> None:
        raise NotImplementedError

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        raise NotImplementedError

    def rename(self, ref: str, new_name: str) -> None:
        raise NotImplementedError

    def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        """Docker ``POST /containers/{id}/wait``: ``{"StatusCode": n, "Error": None}``."""
        raise NotImplementedError

    def logs(self, ref: str, follow: bool = False, timestamps: bool = False,
             tail: int | None = None, since: float | None = None,
             stdout: bool = True, stderr: bool = True) -> Iterator[LogEntry]:
        raise NotImplementedError

    def top(self, ref: str) -> dict[str, Any]:
        """Docker ``GET /containers/{id}/top``: ``{"Titles": [...], "Processes": [[...]]}``."""
        raise NotImplementedError

    def stats(self, ref: str) -> dict[str, Any]:
        """One Docker ``GET /containers/{id}/stats`` sample (with ``precpu_stats``)."""
        raise NotImplementedError

    def prune(self) -> dict[str, Any]:
        """``{"ContainersDeleted": [...], "SpaceReclaimed": n}``."""
        raise NotImplementedError
