"""Images: list, inspect, history, tag, remove, prune, search, save (``get``), load, commit.

Each handler calls :class:`dockerlab.engine.Engine` as the CLI's verbs do; the answers are
the engine's records, which are already Docker's API shapes. ``save`` streams: the engine
writes the archive from a thread into a bounded queue the response drains, so a client that
stops reading stops the writer (and its thread ends with the request).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from dockerlab.daemon.http import (
    HTTPError,
    Request,
    Response,
    Streamed,
    json_lines,
    json_response,
    version_at_least,
)
from dockerlab.daemon.router import Api, route

_CHUNK_QUEUE = 16  # chunks the archive writer may run ahead of the client
_DONE = object()


def error_message(message: str, code: int | None = None) -> dict[str, Any]:
    """An error inside a JSON message stream, as moby's ``streamformatter.FormatError``."""
    detail: dict[str, Any] = {"message": message}
    if code is not None:
        detail["code"] = code
    return {"errorDetail": detail, "error": message}


def repo_tag(repo: str, tag: str) -> str:
    """``repo`` and ``tag`` query values as one reference (a digest tag with ``@``)."""
    if not repo or not tag:
        return repo
    return f"{repo}@{tag}" if tag.startswith("sha256:") else f"{repo}:{tag}"


class _Pipe:
    """The file the engine writes an archive to: each write goes to the queue the response
    reads; once the response is closed (the client went away) writes fail, so the engine
    unwinds and the thread ends."""

    def __init__(self, q: queue.Queue[Any], stop: threading.Event) -> None:
        self._q = q
        self._stop = stop

    def put(self, item: Any) -> None:
        while True:
            if self._stop.is_set():
                raise BrokenPipeError("the client went away")
            try:
                self._q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def write(self, data: bytes) -> int:
        if data:
            self.put(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def pumped(write_to: Callable[[Any], None]) -> Iterator[bytes]:
    """The bytes ``write_to(fileobj)`` writes, as a response's chunks, from a thread that
    ends when they are sent or when the response is closed."""
    q: queue.Queue[Any] = queue.Queue(maxsize=_CHUNK_QUEUE)
    stop = threading.Event()
    pipe = _Pipe(q, stop)

    def run() -> None:
        try:
            write_to(pipe)
            pipe.put(_DONE)
        except BrokenPipeError:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the response's thread
            try:
                pipe.put(exc)
            except BrokenPipeError:
                pass

    t = threading.Thread(target=run, name="archive writer", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        t.join(timeout=30)


def _strip_for(req: Request, record: dict[str, Any]) -> dict[str, Any]:
    if version_at_least(req, "1.44"):  # removed from the API in 1.44, as moby
        record.pop("VirtualSize", None)
    return record


# ---- list, inspect, history ---------------------------------------------------------------


@route("GET", "/images/json")
def list_images(req: Request, api: Api) -> list[dict[str, Any]]:
    filters = req.filters()
    images = api.engine().images(
        all=req.flag("all"), filters=filters, shared_size=req.flag("shared-size")
    )
    return [_strip_for(req, i) for i in images]


@route("GET", "/images/search")
def search(req: Request, api: Api) -> list[dict[str, Any]]:
    term = req.arg("term")
    limit = req.int_arg("limit", 25) or 25
    if limit < 1 or limit > 100:
        raise HTTPError(400, f"Limit {limit} is outside the range of [1, 100]")
    result: list[dict[str, Any]] = api.engine().search(term, limit, req.filters())
    return result


@route("GET", "/images/{name:.*}/json")
def inspect(req: Request, api: Api) -> dict[str, Any]:
    return _strip_for(req, api.engine().image_inspect(req.params["name"]))


@route("GET", "/images/{name:.*}/history")
def history(req: Request, api: Api) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = api.engine().image_history(req.params["name"])
    return result


# ---- tag, remove, prune -------------------------------------------------------------------


@route("POST", "/images/{name:.*}/tag")
def tag(req: Request, api: Api) -> Response:
    repo = req.arg("repo")
    if not repo:
        raise HTTPError(400, "repository name must have at least one component")
    target = f"{repo}:{req.arg('tag')}" if req.arg("tag") else repo
    api.engine().image_tag(req.params["name"], target)
    return Response(201)


@route("DELETE", "/images/{name:.*}")
def remove(req: Request, api: Api) -> list[dict[str, str]]:
    # noprune: dockerlab removes no untagged parent with an image, so there is nothing to keep
    result: list[dict[str, str]] = api.engine().image_remove(
        req.params["name"], force=req.flag("force")
    )
    return result


@route("POST", "/images/prune")
def prune(req: Request, api: Api) -> dict[str, Any]:
    result: dict[str, Any] = api.engine().image_prune(filters=req.filters())
    return result


# ---- save, load ---------------------------------------------------------------------------


def _save(req: Request, api: Api, names: list[str]) -> Streamed:
    engine = api.engine()
    if not names:
        raise HTTPError(400, "no image names given")
    for name in names:  # a missing image is an error status, before the archive starts
        engine.image_inspect(name)
    return Streamed(pumped(lambda f: engine.save(names, f)), "application/x-tar")


@route("GET", "/images/get")
def save_many(req: Request, api: Api) -> Streamed:
    return _save(req, api, req.args("names"))


@route("GET", "/images/{name:.*}/get")
def save_one(req: Request, api: Api) -> Streamed:
    return _save(req, api, [req.params["name"]])


@route("POST", "/images/load")
def load(req: Request, api: Api) -> Response:
    subjects = api.engine().load(req.body)
    lines = [
        {"stream": f"Loaded image ID: {s}\n" if s.startswith("sha256:") else f"Loaded image: {s}\n"}
        for s in subjects
    ]
    return Response(200, b"".join(json_lines(lines)), "application/json")


# ---- commit -------------------------------------------------------------------------------


@route("POST", "/commit")
def commit(req: Request, api: Api) -> Response:
    container = req.arg("container")
    if not container:
        raise HTTPError(400, 'invalid name or ID supplied: ""')
    body = req.json()
    if body is not None and not isinstance(body, dict):
        raise HTTPError(400, "invalid JSON: the commit body must be a container Config")
    config = {k: v for k, v in (body or {}).items() if v not in (None, "", [], {})}
    repo = req.arg("repo")
    image_id = api.engine().commit(
        container,
        repo_tag(repo, req.arg("tag")) or None,
        message=req.arg("comment"),
        author=req.arg("author"),
        changes=split_changes(req.args("changes")),
        pause=req.flag("pause", True),
        config=config or None,
    )
    return json_response({"Id": image_id}, 201)


def split_changes(values: list[str]) -> list[str]:
    """``changes`` values as Dockerfile lines (moby joins them with newlines, then parses)."""
    return [line for v in values for line in v.splitlines() if line.strip()]
