"""``docker pull``: a manifest (a list or index resolved for this platform), the image config,
then the layers the store lacks, three at a time, each verified and unpacked while it
streams (:mod:`~dockerlab.engine.registry.download`).

Every blob is hashed as it arrives and compared with its digest (and its size) before
anything is kept; gzip and zstd layers are inflated on the way (within :mod:`inflate`'s bounds),
their DiffIDs checked against the config, and unpacked in the same pass into the pull's work
folder. The image is committed all at once by the loader's commit (:func:`saveload._commit`),
which only moves the staged layers in, so an interrupted or refused pull leaves the store as
it was; the image ID is the config's digest, as Docker's. An image already present costs the
manifest's round trips and nothing else (no lock, no write unless a tag moves).

Yields Docker's progress messages (``{"status": …, "id": …, "progressDetail": …}``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from dockerlab.engine.images import reference as refs
from dockerlab.engine.registry.client import (
    DOCKER_HUB,
    HUB_HOST,
    MAX_MANIFEST,
    Client,
    NotFoundError,
    RegistryError,
    Settings,
    mirror_netloc,
    raise_for,
)
from dockerlab.errors import DockerlabError

TYPE_CHECKING = False  # typing and the download machinery stay off an up-to-date pull's path
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from dockerlab.engine.images.store import ImageStore

MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
)
ACCEPT = ", ".join((MEDIA_DOCKER_MANIFEST, MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST))
LISTS = (MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX)
MAX_LAYERS = 127  # overlay2's maxDepth is 128 (the container's layer on top)
MAX_CONFIG = 8 << 20
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def platform() -> tuple[str, str, str]:
    """(os, architecture, variant) of this machine, in Go's words."""
    machine = os.uname().machine
    arch, variant = {
        "x86_64": ("amd64", ""),
        "aarch64": ("arm64", "v8"),
        "armv7l": ("arm", "v7"),
        "armv6l": ("arm", "v6"),
        "i686": ("386", ""),
        "i386": ("386", ""),
    }.get(machine, (machine, ""))
    return "linux", arch, variant


def select(manifests: list[Any], want: tuple[str, str, str] | None = None) -> dict[str, Any]:
    """The entry of a manifest list / index for ``want`` (default: this machine): same os
    and architecture, the same variant preferred, then one without a variant."""
    os_, arch, variant = want or platform()
    fits = []
    for m in manifests:
        if not isinstance(m, dict):
            continue
        p = m.get("platform")
        if not isinstance(p, dict) or p.get("os") != os_ or p.get("architecture") != arch:
            continue
        v = p.get("variant") or ""
        rank = 0 if v == variant else 1 if not v else 2
        if rank < 2 or not variant:
            fits.append((rank, m))
    if not fits:
        shown = f"{os_}/{arch}" + (f"/{variant}" if variant else "")
        raise RegistryError(f"no matching manifest for {shown} in the manifest list entries")
    fits.sort(key=lambda f: f[0])
    return fits[0][1]


def endpoints(domain: str, settings: Settings) -> list[tuple[str, str, str]]:
    """(netloc, forced scheme, credentials key) to try in order: mirrors first for Hub."""
    if domain != DOCKER_HUB:
        return [(domain, "", domain)]
    out = []
    for m in settings.mirrors:
        scheme, netloc = mirror_netloc(m)
        if netloc:
            out.append((netloc, scheme, netloc))
    return [*out, (HUB_HOST, "https", DOCKER_HUB)]


def _check_digest(d: Any, what: str) -> str:
    if not isinstance(d, str) or not _DIGEST.fullmatch(d):
        raise RegistryError(f"invalid {what} digest {d!r}: only sha256 digests are supported")
    return d


def fetch_manifest(client: Client, reference: str, shown: str) -> tuple[bytes, str, str]:
    """(bytes, digest, media type) of a manifest by tag or digest, its digest verified.

    A tag is asked with ``HEAD`` first, as Docker does, then the manifest is read by the
    digest the registry gave (a registry without the header is read by tag)."""
    if not reference.startswith("sha256:"):
        resp = client.request(
            "HEAD", f"/v2/{client.path}/manifests/{reference}", {"Accept": ACCEPT}
        )
        resp.read()
        resp.close()
        if resp.status == 404:
            raise NotFoundError(
                f"manifest for {shown} not found: manifest unknown: manifest unknown",
                "MANIFEST_UNKNOWN",
            )
        raise_for(resp, "", "HEAD")
        found = resp.headers.get("docker-content-digest", "")
        if _DIGEST.fullmatch(found):
            reference = found
    resp = client.request("GET", f"/v2/{client.path}/manifests/{reference}", {"Accept": ACCEPT})
    if resp.status == 404:
        try:
            raise_for(resp, f"manifest for {shown} not found")
        except NotFoundError as exc:
            if exc.code in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN", ""):
                raise
            raise NotFoundError(str(exc), exc.code) from None
    raise_for(resp, "")
    length = resp.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_MANIFEST:
        resp.close(reuse=False)
        raise RegistryError(f"manifest too large: {length} bytes (the limit is {MAX_MANIFEST})")
    try:
        data = resp.read_limited(MAX_MANIFEST)
    except RegistryError:
        raise RegistryError(f"manifest too large (the limit is {MAX_MANIFEST} bytes)") from None
    resp.close()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    expected = (
        reference
        if reference.startswith("sha256:")
        else resp.headers.get("docker-content-digest", digest)
    )
    if expected != digest:
        raise RegistryError(f"manifest verification failed for digest {expected}")
    try:
        doc = json.loads(data)
    except ValueError:
        raise RegistryError(f"{shown}: the manifest is not JSON") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"{shown}: the manifest is not a JSON object")
    media = str(doc.get("mediaType") or resp.headers.get("content-type", "").split(";")[0])
    if doc.get("schemaVersion") == 1 or media in MEDIA_SCHEMA1:
        raise RegistryError(
            f"{shown}: schema 1 manifests are not supported by dockerlab (push the image "
            "again with a recent Docker)"
        )
    if media not in (MEDIA_DOCKER_MANIFEST, MEDIA_OCI_MANIFEST, *LISTS):
        media = MEDIA_OCI_INDEX if "manifests" in doc else MEDIA_OCI_MANIFEST
    return data, digest, media


def fetch_blob_small(client: Client, digest: str, limit: int, what: str) -> bytes:
    resp = client.request("GET", f"/v2/{client.path}/blobs/{digest}")
    raise_for(resp, "")
    try:
        data = resp.read_limited(limit)
    except RegistryError:
        raise RegistryError(f"{what} {digest} is larger than {limit} bytes") from None
    resp.close()
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise RegistryError(f"{what} verification failed for digest {digest}")
    return data


def _record(
    store: ImageStore, diff_ids: list[str], layers: list[dict[str, Any]], source: str
) -> None:
    """Remember which compressed blob (in which repository) each DiffID came from, as
    Docker's v2metadata does: push then skips or mounts it instead of uploading again."""
    folder = os.path.join(store.root, "distribution")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for diff, desc in zip(diff_ids, layers):
        path = os.path.join(folder, diff.split(":", 1)[1])
        try:
            with open(path, encoding="utf-8") as f:
                known = json.load(f)
        except (OSError, ValueError):
            known = []
        entry = {"Digest": desc["digest"], "SourceRepository": source, "Size": desc["size"]}
        if "zstd" in str(desc.get("mediaType", "")):  # push names the blob as it is
            entry["MediaType"] = desc["mediaType"]
        if entry not in known:
            known = [entry, *known][:8]
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(known, f)
            os.replace(tmp, path)


def sources(store: ImageStore, diff_id: str) -> list[dict[str, Any]]:
    path = os.path.join(store.root, "distribution", diff_id.split(":", 1)[1])
    try:
        with open(path, encoding="utf-8") as f:
            known = json.load(f)
    except (OSError, ValueError):
        return []
    return [k for k in known if isinstance(k, dict)] if isinstance(known, list) else []


class Result:
    """What a pull did: the image ID, the reference printed last, whether it was new."""

    image_id = ""
    reference = ""
    new = False


def pull(
    store: ImageStore,
    ref: refs.Reference,
    settings: Settings,
    result: Result | None = None,
    want: tuple[str, str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Pull ``ref`` (tagged or by digest) into ``store``, yielding Docker's messages;
    ``want``: the platform of ``--platform`` (default: this machine's)."""
    result = result or Result()
    shown = ref.familiar()
    tried: list[tuple[Client, RegistryError]] = []
    client = None
    for netloc, scheme, creds_key in endpoints(ref.domain, settings):
        c = Client(netloc, ref.path, "pull", settings, scheme, creds_key)
        try:
            data, digest, media = fetch_manifest(c, ref.digest or ref.tag or "latest", shown)
        except RegistryError as exc:
            tried.append((c, exc))
            continue
        client = c
        break
    if client is None:
        raise tried[-1][1]
    top_digest = digest
    if media in LISTS:
        entry = select(json.loads(data).get("manifests") or [], want)
        sub = _check_digest(entry.get("digest"), "manifest")
        data, digest, media = fetch_manifest(client, sub, shown)
        if media in LISTS:
            raise RegistryError(f"{shown}: a manifest list inside a manifest list")
    manifest = json.loads(data)
    tag_or_digest = ref.digest or ref.tag or "latest"
    yield {"status": f"Pulling from {ref.path}", "id": tag_or_digest}
    config_desc = manifest.get("config")
    layers = manifest.get("layers")
    if not isinstance(config_desc, dict) or not isinstance(layers, list):
        raise RegistryError(f"{shown}: the manifest has no config or no layers list")
    if len(layers) > MAX_LAYERS:
        raise RegistryError(
            f"{shown}: the image has {len(layers)} layers, more than {MAX_LAYERS} "
            "(max depth exceeded)"
        )
    for d in layers:
        if not isinstance(d, dict) or not isinstance(d.get("size"), int) or d["size"] < 0:
            raise RegistryError(f"{shown}: a layer descriptor without a size")
        _check_digest(d.get("digest"), "layer")
        if "foreign" in str(d.get("mediaType", "")) or d.get("urls"):
            raise RegistryError(f"{shown}: foreign (non-distributable) layers are not supported")
    image_id = _check_digest(config_desc.get("digest"), "config")
    if want is not None and media not in LISTS and top_digest == digest:
        cfg = json.loads(fetch_blob_small(client, image_id, MAX_CONFIG, "image config"))
        actual = (str(cfg.get("os", "")), str(cfg.get("architecture", "")))
        if actual != want[:2]:
            raise RegistryError(
                f"image with reference {shown} was found but does not match the specified "
                f"platform: wanted {want[0]}/{want[1]}, actual: {actual[0]}/{actual[1]}"
            )
    repo_digest = refs.Reference(ref.domain, ref.path, None, top_digest)
    named = (
        [repo_digest]
        if ref.digest
        else [refs.Reference(ref.domain, ref.path, ref.tag), repo_digest]
    )
    before = ""
    try:
        before = store.resolve(str(ref))
    except DockerlabError:
        pass
    result.image_id, result.reference = image_id, str(ref)
    have = False
    try:
        store.config(image_id)
        have = all(store.layers.exists(c) for c in store.layer_ids(image_id))
    except DockerlabError:
        have = False
    if not have:
        yield from _fetch_image(store, client, image_id, layers, named, shown)
    elif any(store._repos().get(n.familiar_name, {}).get(n.familiar()) != image_id for n in named):
        with store._locked():
            store._set_tags(image_id, named)
    result.new = before != image_id
    yield {"status": f"Digest: {top_digest}"}
    word = "Downloaded newer image for" if result.new else "Image is up to date for"
    yield {"status": f"Status: {word} {shown}"}


def _fetch_image(
    store: ImageStore,
    client: Client,
    image_id: str,
    layers: list[dict[str, Any]],
    named: list[refs.Reference],
    shown: str,
) -> Iterator[dict[str, Any]]:
    import shutil

    from dockerlab.engine import work
    from dockerlab.engine.images import saveload
    from dockerlab.engine.images.layers import chain_ids
    from dockerlab.engine.registry.download import PARALLEL, download_all

    config_bytes = fetch_blob_small(client, image_id, MAX_CONFIG, "image config")
    try:
        config = json.loads(config_bytes)
    except ValueError:
        raise RegistryError(f"{shown}: the image config is not JSON") from None
    diff_ids = ((config.get("rootfs") or {}) if isinstance(config, dict) else {}).get("diff_ids")
    if not isinstance(diff_ids, list) or len(diff_ids) != len(layers):
        raise RegistryError("layers from manifest don't match image configuration")
    for d in diff_ids:  # they name files of the store: digests, nothing else
        _check_digest(d, "diff ID")
    chain = chain_ids(diff_ids)
    image = saveload._Image(config_bytes, config)
    present = [
        store.layers.exists(c) and os.path.exists(store.blob_path(d))
        for c, d in zip(chain, diff_ids)
    ]
    # a layer above a missing one is downloaded too: its ChainID needs the ones below
    todo = []
    for i, d in enumerate(layers):
        short = d["digest"].split(":", 1)[1][:12]
        if present[i]:
            yield {"status": "Already exists", "id": short}
        else:
            todo.append(i)
            yield {"status": "Pulling fs layer", "id": short}
    for i in todo[PARALLEL:]:  # queued behind Docker's three concurrent downloads
        yield {"status": "Waiting", "id": layers[i]["digest"].split(":", 1)[1][:12]}
    work.sweep(store.paths)  # what a killed pull left (its staged layers): freed now
    folder = work.begin(store.paths, "pull")
    try:
        staged: dict[int, tuple[str, int, int]] = {}
        if todo:
            yield from download_all(client, layers, diff_ids, todo, folder, staged)
        for i, expected in enumerate(diff_ids):
            if i in staged:
                path, size, unpacked = staged[i]
                image.staged[chain[i]] = (os.path.join(os.path.dirname(path), "diff"), unpacked)
            else:
                path = store.blob_path(expected)
                size = os.path.getsize(path)
            image.layers.append((path, expected, size))
        image.tags = named
        for i in todo:
            short = layers[i]["digest"].split(":", 1)[1][:12]
            size = layers[i]["size"]
            yield {
                "status": "Extracting",
                "id": short,
                "progressDetail": {"current": size, "total": size},
            }
        saveload._commit(store, [image])
        try:
            _record(store, diff_ids, layers, f"{client.netloc}/{client.path}")
        except OSError:
            pass  # only an optimisation of later pushes
        for i in todo:
            yield {"status": "Pull complete", "id": layers[i]["digest"].split(":", 1)[1][:12]}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if os.path.lexists(folder):  # rootless: staged files of the subordinate range
            from dockerlab.engine import rootless

            rootless.rmtree(folder)


def describe(ref: refs.Reference, settings: Settings) -> dict[str, Any]:
    """``GET /distribution/{name}/json``: the manifest's descriptor and its platforms (of a
    list's entries, or of the image's config), from the first endpoint that has it."""
    shown = ref.familiar()
    tried: list[RegistryError] = []
    for netloc, scheme, creds_key in endpoints(ref.domain, settings):
        client = Client(netloc, ref.path, "pull", settings, scheme, creds_key)
        try:
            data, digest, media = fetch_manifest(client, ref.digest or ref.tag or "latest", shown)
        except RegistryError as exc:
            tried.append(exc)
            continue
        doc = json.loads(data)
        platforms: list[dict[str, Any]] = []
        if media in LISTS:
            for m in doc.get("manifests") or []:
                p = m.get("platform") if isinstance(m, dict) else None
                if isinstance(p, dict):
                    platforms.append({k: v for k, v in p.items() if v})
        else:
            config_digest = _check_digest((doc.get("config") or {}).get("digest"), "config")
            cfg = json.loads(fetch_blob_small(client, config_digest, MAX_CONFIG, "image config"))
            keys = (("architecture", "architecture"), ("os", "os"), ("variant", "variant"))
            platforms.append({k: cfg[f] for k, f in keys if cfg.get(f)})
        descriptor = {"mediaType": media, "digest": digest, "size": len(data)}
        return {"Descriptor": descriptor, "Platforms": platforms}
    raise tried[-1]


def parse_platform(text: str) -> tuple[str, str, str]:
    """``linux/arm64/v8`` → (os, architecture, variant); Docker's words when it is not one."""
    parts = text.lower().split("/")
    if not text or len(parts) > 3 or not all(parts):
        raise RegistryError(f'"{text}": unknown operating system or architecture: invalid argument')
    if len(parts) == 1:
        return "linux", parts[0], ""
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def list_tags(ref: refs.Reference, settings: Settings) -> list[str]:
    """The repository's tags (``GET /v2/<name>/tags/list``), from the first endpoint that
    answers."""
    last: RegistryError | None = None
    for netloc, scheme, creds_key in endpoints(ref.domain, settings):
        client = Client(netloc, ref.path, "pull", settings, scheme, creds_key)
        try:
            resp = client.request("GET", f"/v2/{ref.path}/tags/list")
            if resp.status == 404:
                raise_for(resp, f"repository {ref.familiar_name} not found")
            raise_for(resp, "")
            data = json.loads(resp.read_limited(MAX_MANIFEST))
            resp.close()
        except RegistryError as exc:
            last = exc
            continue
        tags = data.get("tags") if isinstance(data, dict) else None
        return sorted(str(t) for t in tags or [])
    assert last is not None
    raise last


def pull_all_tags(
    store: ImageStore, ref: refs.Reference, settings: Settings, result: Result | None = None
) -> Iterator[dict[str, Any]]:
    """``pull --all-tags``: every tag of the repository, one status line at the end."""
    result = result or Result()
    new = False
    for tag in list_tags(ref, settings):
        one = Result()
        for msg in pull(store, refs.Reference(ref.domain, ref.path, tag), settings, one):
            if not str(msg.get("status", "")).startswith("Status: "):
                yield msg
        new = new or one.new
        result.image_id = one.image_id
    result.new = new
    result.reference = ref.name
    word = "Downloaded newer image for" if new else "Image is up to date for"
    yield {"status": f"Status: {word} {ref.familiar_name}"}
