"""``docker push``: layers (skipped when the registry has them, mounted from another
repository of the same registry when one is known to hold them, else gzip-compressed and
uploaded as Docker does: ``POST`` then a chunked ``PATCH`` then ``PUT ?digest=``), the config,
then a Docker v2 manifest under the tag.

The image ID a registry's clients see is the config's digest: the same bytes as in the store,
so an image pushed from dockerlab pulls into Docker with the same ID. Which compressed blob
stands for which DiffID in which repository is remembered (``image/distribution/``, as
Docker's v2metadata), so pushing again, or to another repository, sends nothing twice; a
pulled zstd blob is named in the manifest by its own media type (it is never re-made).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
import urllib.parse
import zlib
from collections.abc import Iterator
from typing import Any

from dockerlab.engine.images import reference as refs
from dockerlab.engine.images.store import ImageStore
from dockerlab.engine.registry import pull as pulling
from dockerlab.engine.registry.client import (
    Client,
    RegistryError,
    Settings,
    drain,
    progress,
    raise_for,
)
from dockerlab.errors import DockerlabError

MEDIA_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
PARALLEL = 3
GZIP_LEVEL = 1  # moby uses gzip's default; level 1 is three times faster and the link is local
_CHUNK = 1 << 20


class PushResult:
    digest = ""
    size = 0


def _endpoint(ref: refs.Reference, settings: Settings) -> Client:
    netloc, scheme, key = pulling.endpoints(ref.domain, settings)[-1]  # never a mirror
    return Client(netloc, ref.path, "push,pull", settings, scheme, key)


def _location(client: Client, resp: Any) -> str:
    loc = resp.headers.get("location", "")
    if not loc:
        raise RegistryError("the registry sent no upload location")
    return urllib.parse.urljoin(client.base() + "/", str(loc))


def _with_digest(url: str, digest: str) -> str:
    return url + ("&" if "?" in url else "?") + "digest=" + urllib.parse.quote(digest)


def blob_exists(client: Client, digest: str) -> bool:
    resp = client.request("HEAD", f"/v2/{client.path}/blobs/{digest}")
    resp.read()
    resp.close()
    if resp.status == 404:
        return False
    raise_for(resp, "", "HEAD")
    return True


def _mount(client: Client, digest: str, source: str) -> str | None:
    """Try a cross-repository mount; returns None when mounted, else an upload URL."""
    query = urllib.parse.urlencode({"mount": digest, "from": source})
    scope = f"{client.scope()} repository:{source}:pull"
    resp = client.request("POST", f"/v2/{client.path}/blobs/uploads/?{query}", scope=scope)
    resp.read()
    resp.close()
    if resp.status == 201:
        return None
    raise_for(resp, "")
    return _location(client, resp)


def _start_upload(client: Client) -> str:
    resp = client.request("POST", f"/v2/{client.path}/blobs/uploads/")
    raise_for(resp, "")
    resp.read()
    resp.close()
    return _location(client, resp)


def upload_bytes(client: Client, data: bytes, digest: str, url: str | None = None) -> None:
    url = url or _start_upload(client)
    resp = client.request(
        "PUT", _with_digest(url, digest), {"Content-Type": "application/octet-stream"}, data
    )
    raise_for(resp, "")
    resp.read()
    resp.close()


def _upload_layer(client: Client, tar_path: str, url: str | None, tick: Any) -> tuple[str, int]:
    """Gzip ``tar_path`` into a chunked PATCH, then close the upload with its digest."""
    url = url or _start_upload(client)
    sha = hashlib.sha256()
    sent = [0]
    total = os.path.getsize(tar_path)

    def body() -> Iterator[bytes]:
        comp = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        done = 0
        with open(tar_path, "rb") as f:
            while chunk := f.read(_CHUNK):
                done += len(chunk)
                out = comp.compress(chunk)
                if out:
                    sha.update(out)
                    sent[0] += len(out)
                    yield out
                tick(done, total)
        out = comp.flush()
        sha.update(out)
        sent[0] += len(out)
        yield out

    client.ping()
    # no length: the iterable is sent with chunked encoding, as Docker's PATCH
    hdrs = {"Content-Type": "application/octet-stream"}
    auth = client._auth_header(client.scope(), "PATCH", url)
    if auth:
        hdrs["Authorization"] = auth
    resp = client._request_url("PATCH", url, hdrs, _Chunked(body()))
    raise_for(resp, "")
    resp.read()
    resp.close()
    digest = "sha256:" + sha.hexdigest()
    resp = client.request("PUT", _with_digest(_location(client, resp), digest))
    raise_for(resp, "")
    resp.read()
    resp.close()
    return digest, sent[0]


class _Chunked:
    """An iterable body, sent with chunked encoding (it has no length)."""

    def __init__(self, it: Iterator[bytes]) -> None:
        self.it = it

    def __iter__(self) -> Iterator[bytes]:
        return self.it


def _record(
    store: ImageStore, diff: str, digest: str, size: int, source: str, media: str = MEDIA_LAYER
) -> None:
    pulling._record(store, [diff], [{"digest": digest, "size": size, "mediaType": media}], source)


def push(
    store: ImageStore,
    ref: refs.Reference,
    settings: Settings,
    result: PushResult | None = None,
) -> Iterator[dict[str, Any]]:
    """Push the image tagged ``ref`` (it has a tag), yielding Docker's messages."""
    result = result or PushResult()
    try:
        image_id = store.resolve(str(ref))
    except DockerlabError:
        if tags_of(store, ref):  # the repository is here, not this tag: moby's v2 pusher
            raise RegistryError(f"tag does not exist: {ref.familiar()}") from None
        raise RegistryError(
            f"An image does not exist locally with the tag: {ref.familiar_name}"
        ) from None
    config_bytes = open(store.blob_path(image_id), "rb").read()
    config = json.loads(config_bytes)
    diff_ids: list[str] = list((config.get("rootfs") or {}).get("diff_ids") or [])
    client = _endpoint(ref, settings)
    here = f"{client.netloc}/{client.path}"
    for diff in reversed(diff_ids):
        yield {"status": "Preparing", "id": diff.split(":", 1)[1][:12]}
    client.ping()
    descs: dict[str, dict[str, Any]] = {}
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    pending: queue.Queue[str] = queue.Queue()
    for diff in dict.fromkeys(reversed(diff_ids)):
        pending.put(diff)
    cancel = threading.Event()

    def one(diff: str) -> None:
        short = diff.split(":", 1)[1][:12]
        known = [
            k
            for k in pulling.sources(store, diff)
            if str(k.get("SourceRepository", "")).startswith(client.netloc + "/")
        ]
        upload_url = None
        for k in known:  # what this registry already holds, here or in a sibling repository
            digest, size = str(k.get("Digest")), int(k.get("Size") or 0)
            media = str(k.get("MediaType") or MEDIA_LAYER)  # a pulled zstd blob stays zstd
            source = str(k["SourceRepository"]).split("/", 1)[1]
            if blob_exists(client, digest):
                descs[diff] = {"mediaType": media, "size": size, "digest": digest}
                events.put(("msg", {"status": "Layer already exists", "id": short}))
                return
            if source != client.path and size:
                upload_url = _mount(client, digest, source)
                if upload_url is None:
                    descs[diff] = {"mediaType": media, "size": size, "digest": digest}
                    _record(store, diff, digest, size, here, media)
                    events.put(("msg", {"status": f"Mounted from {source}", "id": short}))
                    return
        tick = progress(events, "Pushing", short, 1 << 20)

        digest, size = _upload_layer(client, store.blob_path(diff), upload_url, tick)
        descs[diff] = {"mediaType": MEDIA_LAYER, "size": size, "digest": digest}
        _record(store, diff, digest, size, here)
        events.put(("msg", {"status": "Pushed", "id": short}))

    def worker() -> None:
        while not cancel.is_set():
            try:
                diff = pending.get_nowait()
            except queue.Empty:
                return
            try:
                one(diff)
            except BaseException as exc:
                events.put(("error", exc))
                return
            events.put(("done", diff))

    count = pending.qsize()
    threads = [
        threading.Thread(target=worker, daemon=True, name="push")
        for _ in range(min(PARALLEL, count))
    ]
    yield from drain(threads, events, count, cancel, "upload")
    if not blob_exists(client, image_id):
        upload_bytes(client, config_bytes, image_id)
    manifest = {
        "schemaVersion": 2,
        "mediaType": pulling.MEDIA_DOCKER_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "size": len(config_bytes), "digest": image_id},
        "layers": [descs[d] for d in diff_ids],
    }
    data = json.dumps(manifest, indent=3).encode()
    resp = client.request(
        "PUT",
        f"/v2/{client.path}/manifests/{ref.tag}",
        {"Content-Type": pulling.MEDIA_DOCKER_MANIFEST},
        data,
    )
    raise_for(resp, "")
    resp.read()
    resp.close()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with store._locked():
        store._set_tags(image_id, [refs.Reference(ref.domain, ref.path, None, digest)])
    result.digest, result.size = digest, len(data)
    yield {"status": f"{ref.tag}: digest: {digest} size: {len(data)}"}


def tags_of(store: ImageStore, ref: refs.Reference) -> list[refs.Reference]:
    """Every tag of ``ref``'s repository in the store (``push --all-tags``), sorted."""
    repos = store._repos()
    out = []
    for name in sorted(repos.get(ref.familiar_name, {})):
        r = refs.parse(name)
        if r.tag is not None and r.digest is None:
            out.append(r)
    return out
