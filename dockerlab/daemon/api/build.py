"""``POST /build``: Docker's classic builder over the API.

The body is the context, a tar (maybe compressed; the docker CLI streams it chunked) read
whole before the build starts, within :data:`MAX_CONTEXT` bytes (``DOCKERLAB_BUILD_CONTEXT_LIMIT``
changes it). The answer is moby's JSON stream: ``{"stream": "Step 1/3 : FROM busybox\\n"}`` …
``{"aux": {"ID": "sha256:…"}}``, ``Successfully built``/``tagged`` lines, a failed step as
``{"errorDetail": {"message", "code"}, "error"}``; an error before the first line is the
request's status instead (moby: nothing flushed yet).

A client that goes away stops the build as a Ctrl-C stops ``dockerlab build``: the RUN
container in progress is killed, the engine's build generator is closed (its ``finally``
discards the build's scratch space), and the container goes, as moby's cancelled build.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Generator, Iterator
from typing import Any

from dockerlab.daemon.api.images import error_message
from dockerlab.daemon.http import HTTPError, Request, Streamed, json_lines
from dockerlab.daemon.router import Api, route
from dockerlab.errors import DockerlabError

MAX_CONTEXT = 512 * 1024 * 1024
_RUNNING = " ---> Running in "


def context_limit() -> int:
    raw = os.environ.get("DOCKERLAB_BUILD_CONTEXT_LIMIT", "")
    return int(raw) if raw.isdigit() else MAX_CONTEXT


def _read_context(req: Request) -> bytes:
    limit = context_limit()
    out = bytearray()
    while True:
        got = req.body.read(1024 * 1024)
        if not got:
            return bytes(out)
        out += got
        if len(out) > limit:
            raise HTTPError(
                413,
                f"the build context is larger than the daemon's limit of {limit} bytes "
                "(DOCKERLAB_BUILD_CONTEXT_LIMIT): leave files out with a .dockerignore",
                close=True,
            )


def registry_config(req: Request) -> dict[str, tuple[str, str]]:
    """``X-Registry-Config``: the client's credentials by registry, for the build's pulls."""
    from dockerlab.daemon.api.distribution import auth_pair
    from dockerlab.engine.registry.search import normalise_server

    value = req.header_json("X-Registry-Config")
    out: dict[str, tuple[str, str]] = {}
    if isinstance(value, dict):
        for server, entry in value.items():
            pair = auth_pair(entry)
            if pair is not None:
                out[normalise_server(str(server))] = pair
    return out


def _json_map(req: Request, name: str) -> dict[str, Any]:
    value = req.json_arg(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise HTTPError(400, f"invalid {name} value: a JSON object is expected")
    return value


# query option → the RUN containers' HostConfig field (moby's build options)
_RESOURCES = {
    "memory": "Memory",
    "memswap": "MemorySwap",
    "cpushares": "CpuShares",
    "cpuperiod": "CpuPeriod",
    "cpuquota": "CpuQuota",
    "shmsize": "ShmSize",
}


def _host_config(req: Request) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in _RESOURCES.items():
        value = req.int_arg(name, 0)
        if value:
            out[field] = value
    for name, field in (("cpusetcpus", "CpusetCpus"), ("cpusetmems", "CpusetMems")):
        if req.arg(name):
            out[field] = req.arg(name)
    network = req.arg("networkmode")
    if network and network != "default":
        out["NetworkMode"] = network
    ulimits = req.json_arg("ulimits")
    if ulimits:
        out["Ulimits"] = ulimits
    return out


@route("POST", "/build")
def build(req: Request, api: Api) -> Streamed:
    remote = req.arg("remote")
    if remote:
        raise HTTPError(
            400,
            f"building from a remote context ({remote}) is not supported by dockerlab: "
            "clone or download it, then send the folder as the context",
        )
    tags = [t for t in req.args("t") if t]
    build_args = {
        str(k): (None if v is None else str(v)) for k, v in _json_map(req, "buildargs").items()
    }
    labels = {str(k): str(v) for k, v in _json_map(req, "labels").items()}
    quiet = req.flag("q")
    host_config = _host_config(req)
    context = _read_context(req)
    engine = api.engine()
    engine.registry_auth = registry_config(req)  # for the FROM images a build pulls
    events = engine.build(
        context,
        dockerfile=req.arg("dockerfile") or "Dockerfile",
        tags=tags,
        build_args=build_args,
        no_cache=req.flag("nocache"),
        target=req.arg("target") or None,
        labels=labels,
        quiet=False,
        rm=req.flag("rm", True),
        force_rm=req.flag("forcerm"),
        pull=req.flag("pull"),
        host_config=host_config,
    )
    return _stream(req, engine, events, quiet)


def _stream(req: Request, engine: Any, events: Iterator[Any], quiet: bool) -> Streamed:
    from dockerlab.engine.build import BuildFailed

    running: list[str] = []  # the RUN container in progress (its short ID)
    done = threading.Event()
    kept: list[dict[str, Any]] = []  # with q: the output, sent only if the build fails
    image_id = [""]

    def messages() -> Generator[dict[str, Any], None, None]:
        for event in events:
            if event.kind == "context":  # the client prints its own "Sending build context"
                continue
            if event.kind == "aux":
                image_id[0] = event.image_id
                yield event.to_api()
                continue
            if event.kind == "stream" and event.text.startswith(_RUNNING):
                running[:] = [event.text[len(_RUNNING) :].strip()]
            elif event.kind == "stream" and event.text.startswith(" ---> "):
                running.clear()
            if quiet:
                kept.append(event.to_api())
            else:
                yield event.to_api()
        if quiet:
            yield {"stream": f"{image_id[0]}\n"}

    def failure(exc: DockerlabError) -> list[dict[str, Any]]:
        code = exc.exit_status if isinstance(exc, BuildFailed) else None
        return [*kept, error_message(str(exc), code)]

    def watch() -> None:  # the client hung up while a RUN is silent: stop it, as Ctrl-C
        while not done.wait(0.5):
            if req.conn.gone.is_set():
                if running:
                    try:
                        engine.kill(running[0])
                    except DockerlabError:
                        pass
                return

    req.conn.watch()
    watcher = threading.Thread(target=watch, name="build watch", daemon=True)
    watcher.start()
    gen = messages()

    def finish() -> None:
        done.set()
        gen.close()
        close = getattr(events, "close", None)
        if close is not None:
            close()
        watcher.join(timeout=5)
        if running and req.conn.gone.is_set():  # cancelled mid-RUN: its container goes
            try:
                engine.remove(running[0], force=True)
            except DockerlabError:
                pass

    head: list[dict[str, Any]] = []
    try:
        head.append(next(gen))
    except StopIteration:
        pass
    except DockerlabError as exc:
        if not kept:
            finish()
            raise
        head = failure(exc)
        finish()
        return Streamed(json_lines(iter(head)), "application/json")
    except BaseException:
        finish()
        raise

    def rest() -> Iterator[dict[str, Any]]:
        try:
            yield from head
            yield from gen
        except DockerlabError as exc:
            yield from failure(exc)
        finally:
            finish()

    return Streamed(json_lines(rest()), "application/json")
