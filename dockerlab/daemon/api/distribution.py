"""Registries and imports: ``POST /images/create`` (pull, or import with ``fromSrc``),
``POST /images/{name}/push``, ``POST /auth``, ``GET /distribution/{name}/json``.

Pull and push answer with Docker's JSON progress stream (``status``/``id``/``progressDetail``
lines, the engine's own messages). As moby, an error before anything was sent is an error
status; after, it is the stream's last line, ``{"errorDetail": …, "error": …}``. The
credentials of ``X-Registry-Auth`` go with the one operation (the daemon keeps none).
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from typing import Any

from dockerlab.daemon.api.images import error_message, repo_tag, split_changes
from dockerlab.daemon.http import HTTPError, Request, Response, Streamed, json_lines
from dockerlab.daemon.router import Api, route
from dockerlab.errors import DockerlabError


def registry_auth(req: Request) -> tuple[str, str] | None:
    """(user, password) from ``X-Registry-Auth`` (``username``/``password``, or ``auth``:
    base64 ``user:password`` as in a config.json); None when it carries none."""
    return auth_pair(req.header_json("X-Registry-Auth"))


def auth_pair(value: Any) -> tuple[str, str] | None:
    """(user, password) of an AuthConfig object; None when it carries none."""
    if not isinstance(value, dict):
        return None
    user, password = str(value.get("username") or ""), str(value.get("password") or "")
    if not user and value.get("auth"):
        try:
            user, _, password = base64.b64decode(str(value["auth"])).decode().partition(":")
        except ValueError:
            return None
    return (user, password) if user else None


def _status_of(exc: DockerlabError) -> int:
    from dockerlab.engine.registry.client import NotFoundError, Unauthorized
    from dockerlab.errors import http_status

    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, Unauthorized):
        return 401
    return http_status(exc)


def _with_bar(msg: dict[str, Any]) -> dict[str, Any]:
    """moby's ``progress`` text beside ``progressDetail`` (``[==>   ]  1.2MB/3.4MB``), for
    clients that print it as it is."""
    detail = msg.get("progressDetail")
    if detail and "progress" not in msg:
        from dockerlab.terminal.verbs import _bar

        msg = {**msg, "progress": _bar(int(detail.get("current", 0)), int(detail.get("total", 0)))}
    return msg


def progress_stream(
    messages: Iterator[dict[str, Any]], first: list[dict[str, Any]] | None = None
) -> Streamed:
    """The messages as Docker's JSON stream. The first message is taken now, so a failure
    before it is the request's error status (moby: nothing flushed yet)."""
    head = list(first or [])
    if not head:
        try:
            head.append(next(messages))
        except StopIteration:
            pass
        except DockerlabError as exc:
            close = getattr(messages, "close", None)
            if close is not None:
                close()
            raise HTTPError(_status_of(exc), str(exc)) from None

    def rest() -> Iterator[dict[str, Any]]:
        try:
            for msg in itertools.chain(head, messages):
                yield _with_bar(msg)
        except DockerlabError as exc:
            yield error_message(str(exc))
        finally:  # the client went away, or it is done: the engine's workers stop now
            close = getattr(messages, "close", None)
            if close is not None:
                close()

    return Streamed(json_lines(rest()), "application/json")


# ---- pull and import ----------------------------------------------------------------------


@route("POST", "/images/create")
def create(req: Request, api: Api) -> Any:
    source = req.arg("fromSrc")
    if source:
        return _import(req, api, source)
    image = req.arg("fromImage")
    if not image:
        raise HTTPError(400, "either fromImage or fromSrc is required")
    from dockerlab.engine.images import reference as refs

    ref = refs.parse(image)
    tag = req.arg("tag")
    named = ref.tag is not None or ref.digest is not None
    name = image if named or not tag else repo_tag(image, tag)
    all_tags = not named and not tag
    messages = api.engine().pull(name, None, all_tags, req.arg("platform"), auth=registry_auth(req))
    return progress_stream(messages)


def _import(req: Request, api: Api, source: str) -> Response:
    if source != "-":
        raise HTTPError(
            400,
            f"importing from a URL ({source}) is not supported by dockerlab: download the "
            "file, then import it from the file or -",
        )
    target = repo_tag(req.arg("repo"), req.arg("tag")) or None
    image_id = api.engine().import_image(
        req.body, target, split_changes(req.args("changes")), req.arg("message")
    )
    return Response(200, b"".join(json_lines([{"status": image_id}])), "application/json")


# ---- push ---------------------------------------------------------------------------------


@route("POST", "/images/{name:.*}/push")
def push(req: Request, api: Api) -> Streamed:
    from dockerlab.engine.images import reference as refs
    from dockerlab.engine.registry.push import PushResult

    engine = api.engine()
    name, tag = req.params["name"], req.arg("tag")
    ref = refs.parse(name)
    if tag and ref.tag is None and ref.digest is None:
        name = repo_tag(name, tag)
    named = refs.parse(name).tag is not None
    auth = registry_auth(req)

    def messages() -> Iterator[dict[str, Any]]:
        yield {"status": f"The push refers to repository [{ref.name}]"}
        names = [name] if named else engine.push_tags(name)
        if not names:
            raise DockerlabError(
                f"An image does not exist locally with the tag: {ref.familiar_name}"
            )
        for n in names:
            result = PushResult()
            yield from engine.push(n, result, auth=auth)
            aux = {"Tag": refs.parse(n).tag, "Digest": result.digest, "Size": result.size}
            yield {"progressDetail": {}, "aux": aux}

    return progress_stream(messages())


# ---- login --------------------------------------------------------------------------------


@route("POST", "/auth")
def auth(req: Request, api: Api) -> dict[str, str]:
    from dockerlab.engine.registry.client import Unauthorized

    body = req.json(default={})
    if not isinstance(body, dict):
        raise HTTPError(400, "invalid JSON: the body must be an AuthConfig object")
    user, password = str(body.get("username") or ""), str(body.get("password") or "")
    server = str(body.get("serveraddress") or "")
    try:
        api.engine().login(server, user, password, store=False)
    except Unauthorized as exc:
        raise HTTPError(401, str(exc)) from None
    return {"Status": "Login Succeeded", "IdentityToken": ""}


@route("GET", "/distribution/{name:.*}/json")
def distribution(req: Request, api: Api) -> dict[str, Any]:
    from dockerlab.engine.registry.client import RegistryError

    try:
        result: dict[str, Any] = api.engine().distribution_inspect(
            req.params["name"], registry_auth(req)
        )
    except RegistryError as exc:
        raise HTTPError(_status_of(exc), str(exc)) from None
    return result
