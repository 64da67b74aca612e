"""``/containers/…``: create, list, inspect, the lifecycle verbs, wait, logs, stats, top,
changes, export, prune and the archive (``docker cp``), on :class:`dockerlab.engine.Engine`.

What is the daemon's own here is the wire: decoding a create body into the fields Docker's
Go types know (others are dropped, a value of the wrong JSON kind is refused in Go's words),
query parameters, and streams — log frames, stats lines, tar bodies fed from the engine
through a pipe, a wait whose headers go out at once and whose body when the wait ends.
Everything a stream waits on gives up when the client goes away (``req.conn.gone``).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from dockerlab.daemon.http import (
    ClientGone,
    HTTPError,
    Request,
    Response,
    Streamed,
    json_lines,
    json_response,
    mux_frame,
    stream_type,
)
from dockerlab.daemon.router import Api, route
from dockerlab.errors import InvalidParameter, NoSuchContainer

STATS_INTERVAL = 1.0  # seconds between stats samples, as Docker's collector
_CHUNK = 1 << 20


# ---- the create body: Docker's Go types, as its JSON decoder sees them ----------------------
# S string, B bool, I integer, F float, SL []string, SS strslice (a string or []string),
# M map[string]string, O an object, L a list (its items left to the engine).
_CONFIG = {
    "Hostname": "S",
    "Domainname": "S",
    "User": "S",
    "AttachStdin": "B",
    "AttachStdout": "B",
    "AttachStderr": "B",
    "ExposedPorts": "O",
    "Tty": "B",
    "OpenStdin": "B",
    "StdinOnce": "B",
    "Env": "SL",
    "Cmd": "SS",
    "Healthcheck": "O",
    "ArgsEscaped": "B",
    "Image": "S",
    "Volumes": "O",
    "WorkingDir": "S",
    "Entrypoint": "SS",
    "NetworkDisabled": "B",
    "MacAddress": "S",
    "OnBuild": "SL",
    "Labels": "M",
    "StopSignal": "S",
    "StopTimeout": "I",
    "Shell": "SS",
    "HostConfig": "O",
    "NetworkingConfig": "O",
}
_HOST_CONFIG = {
    "Binds": "SL",
    "ContainerIDFile": "S",
    "LogConfig": "O",
    "NetworkMode": "S",
    "PortBindings": "O",
    "RestartPolicy": "O",
    "AutoRemove": "B",
    "VolumeDriver": "S",
    "VolumesFrom": "SL",
    "ConsoleSize": "L",
    "Annotations": "M",
    "CapAdd": "SS",
    "CapDrop": "SS",
    "CgroupnsMode": "S",
    "Dns": "SL",
    "DnsOptions": "SL",
    "DnsSearch": "SL",
    "ExtraHosts": "SL",
    "GroupAdd": "SL",
    "IpcMode": "S",
    "Cgroup": "S",
    "Links": "SL",
    "OomScoreAdj": "I",
    "PidMode": "S",
    "Privileged": "B",
    "PublishAllPorts": "B",
    "ReadonlyRootfs": "B",
    "SecurityOpt": "SL",
    "StorageOpt": "M",
    "Tmpfs": "M",
    "UTSMode": "S",
    "UsernsMode": "S",
    "ShmSize": "I",
    "Sysctls": "M",
    "Runtime": "S",
    "Isolation": "S",
    "CpuShares": "I",
    "Memory": "I",
    "NanoCpus": "I",
    "CgroupParent": "S",
    "BlkioWeight": "I",
    "BlkioWeightDevice": "L",
    "BlkioDeviceReadBps": "L",
    "BlkioDeviceWriteBps": "L",
    "BlkioDeviceReadIOps": "L",
    "BlkioDeviceWriteIOps": "L",
    "CpuPeriod": "I",
    "CpuQuota": "I",
    "CpuRealtimePeriod": "I",
    "CpuRealtimeRuntime": "I",
    "CpusetCpus": "S",
    "CpusetMems": "S",
    "Devices": "L",
    "DeviceCgroupRules": "SL",
    "DeviceRequests": "L",
    "KernelMemory": "I",
    "KernelMemoryTCP": "I",
    "MemoryReservation": "I",
    "MemorySwap": "I",
    "MemorySwappiness": "I",
    "OomKillDisable": "B",
    "PidsLimit": "I",
    "Ulimits": "L",
    "CpuCount": "I",
    "CpuPercent": "I",
    "IOMaximumIOps": "I",
    "IOMaximumBandwidth": "I",
    "Mounts": "L",
    "MaskedPaths": "SL",
    "ReadonlyPaths": "SL",
    "Init": "B",
}
_NESTED = {
    "RestartPolicy": {"Name": "S", "MaximumRetryCount": "I"},
    "LogConfig": {"Type": "S", "Config": "M"},
}
_GO_TYPES = {
    "S": "string",
    "B": "bool",
    "I": "int64",
    "SL": "[]string",
    "SS": "strslice.StrSlice",
    "M": "map[string]string",
    "O": "struct",
    "L": "[]",
}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "value"


def _fits(kind: str, value: Any) -> bool:
    if value is None:
        return True  # Go leaves the zero value
    if kind == "S":
        return isinstance(value, str)
    if kind == "B":
        return isinstance(value, bool)
    if kind == "I":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("SL", "SS"):
        if kind == "SS" and isinstance(value, str):
            return True
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "M":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if kind == "O":
        return isinstance(value, dict)
    return isinstance(value, list)


def _refuse(struct: str, field: str, kind: str, value: Any) -> HTTPError:
    shown = _json_kind(value)
    if shown == "number" and isinstance(value, float) and kind == "I":
        shown = f"number {value:g}"
    if kind in ("SL", "SS", "M") and isinstance(value, (list, dict)):
        # the item that is not a string, as Go names the field's element type
        return HTTPError(
            400,
            f"json: cannot unmarshal {_json_kind(_bad_item(value))} into Go struct field "
            f"{struct}.{field} of type string",
        )
    return HTTPError(
        400,
        f"json: cannot unmarshal {shown} into Go struct field {struct}.{field} of type "
        f"{_GO_TYPES[kind]}",
    )


def _bad_item(value: list[Any] | dict[str, Any]) -> Any:
    items = value.values() if isinstance(value, dict) else value
    return next((v for v in items if not isinstance(v, str)), None)


def _decoded(fields: dict[str, str], value: dict[str, Any], struct: str) -> dict[str, Any]:
    """``value`` with the fields Docker's type knows, strslices as lists (a string is one
    item, as Go's ``StrSlice``); a value of the wrong kind is Go's decoding error."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        kind = fields.get(key)
        if kind is None:
            continue  # an unknown field: Go's decoder ignores it
        if not _fits(kind, item):
            raise _refuse(struct, key, kind, item)
        if kind == "SS" and isinstance(item, str):
            item = [item]
        out[key] = item
    return out


def create_body(raw: Any) -> dict[str, Any]:
    """A ``POST /containers/create`` body as moby's ``ContainerConfigWrapper`` decodes it."""
    if not isinstance(raw, dict):
        raise HTTPError(
            400,
            f"json: cannot unmarshal {_json_kind(raw)} into Go value of type "
            "runconfig.ContainerConfigWrapper",
        )
    body = _decoded(_CONFIG, raw, "ContainerConfigWrapper")
    host = body.get("HostConfig")
    if host is not None:
        host = _decoded(_HOST_CONFIG, host, "HostConfig.HostConfig")
        for key, fields in _NESTED.items():
            if isinstance(host.get(key), dict):
                host[key] = _decoded(fields, host[key], f"{key}.HostConfig.{key}")
        body["HostConfig"] = host
    return body


def _check_json_type(req: Request) -> None:
    """moby's ``CheckForJSON``: a body, when typed, must be JSON."""
    ctype = req.headers.get("content-type", "")
    if ctype and ctype.split(";", 1)[0].strip().lower() != "application/json":
        raise HTTPError(400, f"Content-Type specified ({ctype}) must be 'application/json'")


# ---- create, list, inspect -----------------------------------------------------------------
@route("POST", "/containers/create")
def create(req: Request, api: Api) -> Response:
    _check_json_type(req)
    raw = req.json()
    if raw is None:
        raise HTTPError(400, "Config cannot be empty in order to create a container")
    body = create_body(raw)
    name = req.arg("name") or None
    engine = api.engine()
    platform = req.arg("platform")
    if platform:
        _check_platform(engine, str(body.get("Image") or ""), platform)
    result: dict[str, Any] = engine.create(body, name)
    return json_response({"Id": result["Id"], "Warnings": result.get("Warnings") or []}, 201)


def _check_platform(engine: Any, image: str, platform: str) -> None:
    """``?platform=``: the image found must be for it (the daemon's words)."""
    from dockerlab.cli.options import check_platform, host_platform, parse_platform

    try:
        wanted = parse_platform(platform, host_platform()["architecture"])
    except InvalidParameter:
        raise HTTPError(
            400, f'"{platform}": unknown operating system or architecture: invalid argument'
        ) from None
    check_platform(image, wanted, engine.image_inspect(image))


@route("GET", "/containers/json")
def list_containers(req: Request, api: Api) -> list[dict[str, Any]]:
    limit = req.int_arg("limit", -1)
    result: list[dict[str, Any]] = api.engine().containers(
        all=req.flag("all"),
        filters=req.filters(),
        limit=limit if limit is not None and limit > 0 else -1,
        size=req.flag("size"),
    )
    return result


@route("GET", "/containers/{id}/json")
def inspect(req: Request, api: Api) -> dict[str, Any]:
    result: dict[str, Any] = api.engine().inspect(req.params["id"], size=req.flag("size"))
    return result


# ---- lifecycle ------------------------------------------------------------------------------
@route("POST", "/containers/{id}/start")
def start(req: Request, api: Api) -> None:
    raw = req.read_body().strip()
    if raw and raw not in (b"{}", b"null"):  # moby: API ≥ 1.24 takes no HostConfig here
        raise HTTPError(
            400,
            "starting container with non-empty request body was deprecated since API v1.22 "
            "and removed in v1.24",
        )
    from dockerlab.daemon.api.attach import start_container

    engine = api.engine()
    cid = engine.inspect(req.params["id"])["Id"]  # the waiters are kept by full ID
    # clients attached before the start (the docker CLI's `run`) see the first byte
    start_container(api, engine, cid, not_modified=True)  # detachKeys: for attach


def _timeout(req: Request) -> int | None:
    return req.int_arg("t")


@route("POST", "/containers/{id}/stop")
def stop(req: Request, api: Api) -> None:
    api.engine().stop(req.params["id"], _timeout(req), req.arg("signal") or None, not_modified=True)


@route("POST", "/containers/{id}/restart")
def restart(req: Request, api: Api) -> None:
    api.engine().restart(req.params["id"], _timeout(req), req.arg("signal") or None)


@route("POST", "/containers/{id}/kill")
def kill(req: Request, api: Api) -> None:
    api.engine().kill(req.params["id"], req.arg("signal") or "KILL")


@route("POST", "/containers/{id}/pause")
def pause(req: Request, api: Api) -> None:
    api.engine().pause(req.params["id"])


@route("POST", "/containers/{id}/unpause")
def unpause(req: Request, api: Api) -> None:
    api.engine().unpause(req.params["id"])


@route("DELETE", "/containers/{id}")
def remove(req: Request, api: Api) -> None:
    if req.flag("link"):
        raise HTTPError(400, "dockerlab does not remove links: remove the container instead")
    api.engine().remove(req.params["id"], force=req.flag("force"), volumes=req.flag("v"))


@route("POST", "/containers/{id}/rename")
def rename(req: Request, api: Api) -> None:
    name = req.arg("name")
    if not name:
        raise HTTPError(400, "Neither old nor new names may be empty")
    api.engine().rename(req.params["id"], name)


@route("POST", "/containers/{id}/update")
def update(req: Request, api: Api) -> dict[str, Any]:
    _check_json_type(req)
    body = req.json({})
    if not isinstance(body, dict):
        raise HTTPError(
            400,
            f"json: cannot unmarshal {_json_kind(body)} into Go value of type "
            "container.UpdateConfig",
        )
    body = _decoded({**_HOST_CONFIG, "RestartPolicy": "O"}, body, "UpdateConfig")
    result = api.engine().update(req.params["id"], body)
    return {"Warnings": result.get("Warnings") or []}


@route("POST", "/containers/prune")
def prune(req: Request, api: Api) -> dict[str, Any]:
    result: dict[str, Any] = api.engine().prune(req.filters())
    return result


# ---- wait -----------------------------------------------------------------------------------
@route("POST", "/containers/{id}/wait")
def wait(req: Request, api: Api) -> Streamed:
    condition = req.arg("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        condition = "not-running"  # Docker 20.10 waits as for not-running
    # made now: it watches from before the client, which has the headers, starts it
    waiter = api.engine().waiter(req.params["id"], condition)
    gone = req.conn.gone

    def body() -> Iterator[bytes]:
        try:
            result = waiter.wait(cancelled=gone.is_set)
        finally:
            waiter.close()
        if result is not None:
            yield json.dumps(result, separators=(",", ":")).encode() + b"\n"

    return Streamed(_Closing(body(), waiter.close), "application/json")


class _Closing:
    """An iterator of chunks whose ``close`` (or loss) also runs ``cleanup``: a generator
    never started does not run its ``finally`` (the client may leave before the body)."""

    def __init__(self, chunks: Iterator[bytes], cleanup: Callable[[], None]) -> None:
        self._chunks, self._cleanup = chunks, cleanup

    def __iter__(self) -> _Closing:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        self._cleanup()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at collection, nothing is left to tell
            pass


# ---- logs, stats, top, changes -----------------------------------------------------------------
def _timestamp(req: Request, name: str) -> float | None:
    """``since``/``until`` as the API sends them: Unix seconds, with a fraction (0: none)."""
    raw = req.arg(name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise HTTPError(400, f'failed to parse value {raw} as a time stamp for "{name}"') from None
    return value if value > 0 else None


@route("GET", "/containers/{id}/logs")
def logs(req: Request, api: Api) -> Streamed:
    from dockerlab.terminal.verbs import fixed_nano

    stdout, stderr = req.flag("stdout"), req.flag("stderr")
    if not (stdout or stderr):
        raise HTTPError(400, "Bad parameters: you must choose at least one stream")
    tail_arg = req.arg("tail", "all")
    try:
        tail: int | None = int(tail_arg)
    except ValueError:
        tail = None  # "all", or what the daemon cannot read: everything
    if tail is not None and tail < 0:
        tail = None
    follow, timestamps = req.flag("follow"), req.flag("timestamps")
    engine = api.engine()
    ref = req.params["id"]
    tty = bool(engine.inspect(ref)["Config"].get("Tty"))
    entries = engine.logs(
        ref,
        follow=follow,
        tail=tail,
        since=_timestamp(req, "since"),
        until=_timestamp(req, "until"),
        stdout=stdout,
        stderr=stderr,
        cancelled=req.conn.gone.is_set,
    )

    def frames() -> Iterator[bytes]:
        batch = bytearray()
        for e in entries:
            data = e.data
            if timestamps:
                data = fixed_nano(e.time).encode() + b" " + data
            frame = data if tty else mux_frame(2 if e.stream == "stderr" else 1, data)
            if follow:
                yield frame  # as it comes
                continue
            batch += frame
            if len(batch) >= _CHUNK:
                yield bytes(batch)
                batch.clear()
        if batch:
            yield bytes(batch)

    return Streamed(_Closing(frames(), getattr(entries, "close", _nothing)), stream_type(req, tty))


def _nothing() -> None:
    pass


def _public(sample: dict[str, Any]) -> dict[str, Any]:
    """A stats sample without the engine's own bookkeeping (``_monotonic``)."""
    return {k: v for k, v in sample.items() if not k.startswith("_")}


@route("GET", "/containers/{id}/stats")
def stats(req: Request, api: Api) -> Response | Streamed:
    engine = api.engine()
    ref = req.params["id"]
    first: dict[str, Any] = engine.stats(ref)
    gone = req.conn.gone
    if not req.flag("stream", True):
        if req.flag("one-shot") or not first.get("memory_stats"):
            return json_response(_public(first))
        # Docker's answer has a CPU delta: a second sample, an interval later
        if gone.wait(STATS_INTERVAL):
            raise ClientGone("the client went away")
        return json_response(_public(engine.stats(ref, first)))

    def samples() -> Iterator[dict[str, Any]]:
        previous = first
        yield _public(previous)
        while not gone.wait(STATS_INTERVAL):
            try:
                previous = engine.stats(ref, previous)
            except NoSuchContainer:  # removed: the stream ends
                return
            yield _public(previous)

    return Streamed(json_lines(samples()), "application/json")


@route("GET", "/containers/{id}/top")
def top(req: Request, api: Api) -> dict[str, Any]:
    result: dict[str, Any] = api.engine().top(req.params["id"], req.arg("ps_args") or "-ef")
    return result


@route("GET", "/containers/{id}/changes")
def changes(req: Request, api: Api) -> Response:
    found = api.engine().diff(req.params["id"])
    return json_response(found or None)  # Docker's null when nothing changed


# ---- tar streams: export, archive ------------------------------------------------------------
class _Piped:
    """What ``produce(file)`` writes, as chunks: it runs in a thread writing into a pipe
    (so memory stays flat whatever the size), read here. Its first bytes are awaited before
    the handler answers: a failure before any byte is an ordinary error response. Closing
    (the client went away) closes the pipe, so the writer ends on EPIPE."""

    def __init__(self, produce: Callable[[Any], Any], what: str) -> None:
        self.what = what
        self._r, w = os.pipe2(os.O_CLOEXEC)
        try:
            import fcntl

            fcntl.fcntl(w, 1031, _CHUNK)  # F_SETPIPE_SZ: fewer, larger chunks
        except OSError:
            pass
        self.failure: BaseException | None = None
        self.result: Any = None

        def run() -> None:
            try:
                with open(w, "wb", buffering=256 * 1024) as f:
                    self.result = produce(f)
            except BrokenPipeError:
                pass  # the reader left
            except BaseException as exc:  # noqa: BLE001 - handed to the reader
                self.failure = exc

        self._thread = threading.Thread(target=run, name=f"{what} writer", daemon=True)
        self._thread.start()
        self._first = self._read()
        if not self._first:  # nothing came: done or failed before the first byte
            self.close()
            if self.failure is not None:
                raise self.failure

    def _read(self) -> bytes:
        try:
            return os.read(self._r, _CHUNK)
        except OSError:
            return b""

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        chunk = self._first
        while chunk:
            yield chunk
            chunk = self._read()
        self.close()
        if self.failure is not None:  # after the headers: all a server can do is cut it
            print(f"{self.what}: {self.failure}", file=sys.stderr, flush=True)
            raise ClientGone(f"{self.what} failed: {self.failure}")

    def close(self) -> None:
        if self._r >= 0:
            os.close(self._r)
            self._r = -1
        self._thread.join()

    def __del__(self) -> None:
        try:
            if self._r >= 0:
                self.close()
        except Exception:  # noqa: BLE001 - at collection, nothing is left to tell
            pass


class _PipedBody:
    """A :class:`_Piped` as a Streamed's chunks (``close`` ends the writer)."""

    def __init__(self, piped: _Piped) -> None:
        self.piped = piped
        self._it = iter(piped)

    def __iter__(self) -> _PipedBody:
        return self

    def __next__(self) -> bytes:
        return next(self._it)

    def close(self) -> None:
        self.piped.close()


@route("GET", "/containers/{id}/export")
def export(req: Request, api: Api) -> Streamed:
    engine, ref = api.engine(), req.params["id"]
    piped = _Piped(lambda f: engine.export(ref, f), "export")
    return Streamed(_PipedBody(piped), "application/octet-stream")


def _archive_path(req: Request) -> str:
    path = req.arg("path")
    if not path:
        raise HTTPError(400, "bad parameter: pathcannot be empty")  # (Docker's words)
    return path


def _stat_header(stat: dict[str, Any]) -> dict[str, str]:
    doc = {k: stat[k] for k in ("name", "size", "mode", "mtime", "linkTarget")}
    return {
        "X-Docker-Container-Path-Stat": base64.b64encode(
            json.dumps(doc, separators=(",", ":")).encode()
        ).decode()
    }


@route("GET", "/containers/{id}/archive")
def archive_get(req: Request, api: Api) -> Response | Streamed:
    """``GET`` a tar of the path (``HEAD``: its stat alone, in the header)."""
    path = _archive_path(req)
    engine, ref = api.engine(), req.params["id"]
    stat = engine.path_stat(ref, path)
    headers = _stat_header(stat)
    if req.method == "HEAD":
        return Response(200, b"", "", headers)
    piped = _Piped(lambda f: engine.copy_from(ref, path, f), "archive")
    return Streamed(_PipedBody(piped), "application/x-tar", headers=headers)


@route("PUT", "/containers/{id}/archive")
def archive_put(req: Request, api: Api) -> Response:
    """Extract the tar body (streamed from the socket, never held whole) into ``path``."""
    path = _archive_path(req)
    api.engine().copy_to(
        req.params["id"],
        path,
        req.body,
        copy_uid_gid=req.flag("copyUIDGID"),
        no_overwrite_dir_non_dir=req.flag("noOverwriteDirNonDir"),
    )
    return Response(200)
