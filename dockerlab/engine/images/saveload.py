"""``docker save`` and ``docker load``: image archives in, image archives out.

What :func:`save` writes (Docker 25's format: an OCI image layout plus Docker's files)::

    blobs/sha256/<hex>     image configs, uncompressed layer tars, OCI manifests; each once
    index.json             OCI index, one manifest descriptor per tag (annotated with the name)
    manifest.json          [{"Config": "blobs/sha256/…", "RepoTags": [...], "Layers": [...]}]
    oci-layout             {"imageLayoutVersion": "1.0.0"}
    repositories           {"busybox": {"latest": "<top layer hex>"}}   (legacy)

The output is deterministic: fixed entry order, mtimes, owners and JSON spacing, so saving
the same images twice gives the same bytes.

What :func:`load` reads: that format, Docker's older archives (``<v1 id>/layer.tar``,
``<id>.json``, ``manifest.json``, symlinked shared layers) and plain OCI image layouts
(``index.json`` → manifests → config and layers, gzip and zstd layers too). A load runs in
two steps:

1. **stage** — the outer tar is read once into a scratch folder under ``$ROOT/tmp``. Regular
   files land there under made-up flat names (``f0``, ``f1``…) and are hashed on the way
   (gzip and zstd layers are inflated on the way too, once); what the archive may expand to is
   bounded (:mod:`dockerlab.engine.images.inflate`: ratio, free disk, header sizes, entry count);
   symlinks and hardlinks of the archive are only *recorded* and resolved by name inside the
   archive, never created. So no entry (``../x``, ``/x``, a symlink to ``/etc``) can write or
   read outside the scratch folder. Every digest is then checked: blob names, the image ID
   (sha256 of the config bytes) and each layer's DiffID against ``rootfs.diff_ids``.
2. **commit** — under the image store's lock, blobs are renamed in, layers unpacked (each
   flagged incomplete while it is), then ``index.json`` and the tags are written. If anything
   fails the new layers and blobs are removed again: the store is left as it was.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

from dockerlab.engine.images import reference as refs
from dockerlab.engine.images.inflate import (
    BoundedTarInfo,
    Budget,
    CorruptData,
    GunzipStream,
    ZstdMissing,
    ZstdReader,
    compression,
    corrupt,
    decompressed,
)
from dockerlab.engine.images.layers import chain_ids
from dockerlab.engine.images.store import (
    MEDIA_CONFIG,
    MEDIA_INDEX,
    MEDIA_LAYER,
    MEDIA_MANIFEST,
    ImageStore,
)
from dockerlab.errors import InvalidParameter, NoSuchImage

__all__ = ["LoadError", "load", "save"]

ANN_IMAGE_NAME = "io.containerd.image.name"
ANN_REF_NAME = "org.opencontainers.image.ref.name"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
_INDEX_TYPES = (MEDIA_INDEX, MEDIA_DOCKER_LIST)
_CHUNK = 1 << 20
_PIP = "pip install zstandard"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_JSON = 32 << 20  # a config or manifest larger than this is not one
# `docker save` writes a few entries per image and layer; millions of tiny entries are an
# attack on the staging folder's inodes and on tarfile's member list, not an image archive.
_MAX_ENTRIES = 100_000


class LoadError(InvalidParameter):
    """The archive is truncated, corrupt, inconsistent or unsafe; nothing was changed."""


# ---- save ---------------------------------------------------------------------------------


def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def _save_plan(store: ImageStore, names: list[str]) -> list[tuple[str, list[refs.Reference]]]:
    """``[(image ID, [tags to save with it])]`` in the order first named (Docker's rules:
    a bare name saves every tag of that repository, an ID saves no tag)."""
    order: list[str] = []
    tags: dict[str, list[refs.Reference]] = {}

    def add(image_id: str, ref: refs.Reference | None) -> None:
        if image_id not in tags:
            order.append(image_id)
            tags[image_id] = []
        if ref is not None and ref not in tags[image_id]:
            tags[image_id].append(ref)

    repos = store._repos()
    for name in names:
        try:
            image_id = store.resolve(name)
        except NoSuchImage:
            raise NoSuchImage(name, f"No such image: {name}") from None
        if refs.is_full_id(name) or _hex(image_id).startswith(name.removeprefix("sha256:")):
            add(image_id, None)
            continue
        parsed = refs.parse(name)
        if parsed.tag is None and parsed.digest is None:
            for key, target in sorted(repos.get(parsed.familiar_name, {}).items()):
                if "@" not in key:
                    add(target, refs.parse(key))
        elif parsed.digest is None:
            add(image_id, parsed)
        else:
            add(image_id, None)
    return [(i, tags[i]) for i in order]


def save(store: ImageStore, names: list[str], out: BinaryIO) -> None:
    """Write the images ``names`` (names, name:tag, IDs) as one archive to ``out``.

    Raises :class:`NoSuchImage` before writing anything if one of them is unknown.
    """
    if not names:
        raise InvalidParameter("no images to save")
    plan = _save_plan(store, names)
    index_by_id = {e["id"]: e for e in store._index()}
    blobs: dict[str, str] = {}  # hex -> host path, written once each
    manifest_json: list[dict[str, Any]] = []
    index_entries: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for image_id, tags in plan:
        entry = index_by_id.get(image_id)
        if entry is None:
            raise NoSuchImage(image_id)
        diff_ids = (store.config(image_id).get("rootfs") or {}).get("diff_ids") or []
        for digest in (image_id, *diff_ids, entry["manifest"]):
            path = store.blob_path(digest)
            if not os.path.exists(path):
                raise NoSuchImage(
                    image_id,
                    f"image {refs.short_id(image_id)} is incomplete: blob {digest} is missing",
                )
            blobs[_hex(digest)] = path
        descriptor = {
            "mediaType": MEDIA_MANIFEST,
            "digest": entry["manifest"],
            "size": int(entry["size"]),
        }
        for t in tags:
            index_entries.append(
                {**descriptor, "annotations": {ANN_IMAGE_NAME: str(t), ANN_REF_NAME: t.tag or ""}}
            )
            if diff_ids:
                repositories.setdefault(t.familiar_name, {})[t.tag or "latest"] = _hex(diff_ids[-1])
        if not tags:
            index_entries.append(descriptor)
        manifest_json.append(
            {
                "Config": f"blobs/sha256/{_hex(image_id)}",
                "RepoTags": [t.familiar() for t in tags] or None,
                "Layers": [f"blobs/sha256/{_hex(d)}" for d in diff_ids],
            }
        )
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": index_entries}
    files = [
        ("index.json", _json_bytes(index)),
        ("manifest.json", _json_bytes(manifest_json)),
        ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
    ]
    if repositories:
        files.append(("repositories", _json_bytes(repositories)))
    with tarfile.open(
        fileobj=out, mode="w|", format=tarfile.USTAR_FORMAT, copybufsize=_CHUNK
    ) as tf:  # type: ignore[call-overload]
        for d in ("blobs", "blobs/sha256"):
            tf.addfile(_info(d + "/", tarfile.DIRTYPE, 0, 0o755))
        for hexd in sorted(blobs):
            path = blobs[hexd]
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                tf.addfile(_info(f"blobs/sha256/{hexd}", tarfile.REGTYPE, size, 0o644), f)
        for name, data in files:
            tf.addfile(_info(name, tarfile.REGTYPE, len(data), 0o644), io.BytesIO(data))


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _info(name: str, kind: bytes, size: int, mode: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.mode = mode
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


# ---- load: staging ------------------------------------------------------------------------


class _Pieces:
    """A file-like source of the chunks ``it`` yields (b"" at the end)."""

    def __init__(self, it: Iterator[bytes]) -> None:
        self.it = it

    def read(self, n: int = -1) -> bytes:
        return next(self.it, b"")


class _Staged:
    """The outer archive, unpacked flat: names are resolved here, never on the host."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        # name -> (path, sha256 hex, size); the path is "" for a compressed file (see inflated)
        self.files: dict[str, tuple[str, str, int]] = {}
        # compressed file name -> its content inflated (path, sha256 hex, size), or why it is bad
        self.inflated: dict[str, tuple[str, str, int] | str] = {}
        self.budget = Budget(folder, error=LoadError)
        self.entries = 0
        self.links: dict[str, str] = {}  # symlink name -> target (as written)
        self.hard: dict[str, str] = {}  # hardlink name -> target name
        self._n = 0

    def new_path(self) -> str:
        self._n += 1
        return os.path.join(self.folder, f"f{self._n}")

    @staticmethod
    def clean(name: str) -> str:
        """An entry name relative to the archive root; ``/x`` and ``../x`` are refused."""
        if name.startswith("/"):
            raise LoadError(f"invalid archive: entry {name!r} has an absolute path")
        cleaned = posixpath.normpath(name)
        if cleaned == ".." or cleaned.startswith("../"):
            raise LoadError(f"invalid archive: entry {name!r} is outside of the archive")
        return "" if cleaned == "." else cleaned

    def read(self, src: IO[bytes]) -> None:
        try:
            stream, _ = decompressed(self.budget.reader(src))
            with tarfile.open(fileobj=stream, mode="r|", tarinfo=BoundedTarInfo) as tf:
                for m in tf:
                    self._take(tf, m)
                    tf.members.clear()  # type: ignore[attr-defined]  # typeshed lacks TarFile.members; tarfile keeps every header; names are ours to keep
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            if isinstance(exc, OSError) and not corrupt(exc):
                raise
            text = str(exc)
            if "empty file" in text:
                raise LoadError("Error processing tar file: the archive is empty") from None
            if isinstance(exc, EOFError):
                text = "unexpected end of data"
            raise LoadError(f"Error processing tar file: {_tar_reason(text)}") from None

    def _take(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        self.entries += 1
        if self.entries > _MAX_ENTRIES:
            raise LoadError(
                f"Error processing tar file: more than {_MAX_ENTRIES} entries: not an image archive"
            )
        name = self.clean(m.name)
        if not name or m.isdir():
            return
        if m.issym():
            self.links[name] = m.linkname
        elif m.islnk():
            self.hard[name] = self.clean(m.linkname)
        elif m.isreg():
            data = tf.extractfile(m)
            assert data is not None
            first = data.read(_CHUNK)
            kind = compression(first[:6])
            if kind in ("gzip", "zstd"):
                self._take_compressed(name, m, data, first, kind)
                return
            path = self.new_path()
            sha = hashlib.sha256()
            size = 0
            with open(path, "wb") as out:
                chunk = first
                while chunk:
                    self.budget.wrote(len(chunk), name)
                    sha.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                    chunk = data.read(_CHUNK)
            if size != m.size:
                raise LoadError(f"Error processing tar file: unexpected EOF in {name!r}")
            self.files[name] = (path, sha.hexdigest(), size)
        # devices, fifos: an image archive holds none; ignore them as Docker does

    def _take_compressed(
        self, name: str, m: tarfile.TarInfo, data: IO[bytes], first: bytes, kind: str
    ) -> None:
        """A gzip or zstd file (a compressed layer): keep only its content, inflated on the
        way (one pass, one copy on disk, within the budget), and the digest and size of the
        compressed bytes."""
        path = self.new_path()
        raw_sha, sha = hashlib.sha256(), hashlib.sha256()
        raw_size = size = 0
        bad = ""

        def raw() -> Iterator[bytes]:
            nonlocal raw_size
            chunk = first
            while chunk:
                raw_sha.update(chunk)
                raw_size += len(chunk)
                yield chunk
                chunk = data.read(_CHUNK)

        chunks = raw()
        with open(path, "wb") as out:

            def keep(piece: bytes) -> None:
                nonlocal size
                self.budget.wrote(len(piece), name)
                sha.update(piece)
                out.write(piece)
                size += len(piece)

            try:
                if kind == "zstd":
                    reader = ZstdReader(_Pieces(chunks))
                    while piece := reader.read(_CHUNK):
                        keep(piece)
                else:
                    gz = GunzipStream()
                    for chunk in chunks:
                        for piece in gz.feed(chunk):
                            keep(piece)
                    gz.close()
            except ZstdMissing:  # said only if it is used as a layer
                bad = f"is zstd-compressed: reading it needs the zstandard module: {_PIP}"
            except (zlib.error, EOFError, CorruptData) as exc:  # kept for the error, likewise
                bad = f"is not valid {kind}: {exc}"
            for _ in chunks:  # the rest is only hashed
                pass
        if raw_size != m.size:
            raise LoadError(f"Error processing tar file: unexpected EOF in {name!r}")
        self.files[name] = ("", raw_sha.hexdigest(), raw_size)
        if bad:
            os.unlink(path)
            self.inflated[name] = bad
        else:
            self.inflated[name] = (path, sha.hexdigest(), size)

    def resolve(self, name: str) -> str:
        """The archive name ``name`` stands for, after its symlinks (inside the archive)."""
        parts = [p for p in name.split("/") if p not in ("", ".")]
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if not done:
                    raise LoadError(f"invalid archive: {name!r} points outside of the archive")
                done.pop()
                continue
            current = "/".join([*done, part])
            target = self.links.get(current)
            if target is None:
                done.append(part)
                continue
            hops += 1
            if hops > 40:
                raise LoadError(f"invalid archive: too many levels of symbolic links: {name!r}")
            if target.startswith("/"):
                done = []  # as if the archive's folder were the root
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
        final = "/".join(done)
        seen = 0
        while final in self.hard and seen < 40:
            final = self.resolve(self.hard[final]) if self.hard[final] != final else final
            seen += 1
        return final

    def get(self, name: str, what: str, need_file: bool = True) -> tuple[str, str, int]:
        """(host path, sha256 hex, size) of the file ``name`` names in the archive; the path
        is "" for a compressed file unless ``need_file`` (then it is an error)."""
        resolved = self.resolve(self.clean(name))
        found = self.files.get(resolved)
        if found is None:
            raise LoadError(f"invalid archive: {what} {name!r} is not in the archive")
        if need_file and not found[0]:
            raise LoadError(f"invalid archive: {what} {name!r} is compressed")
        return found

    def uncompressed(self, name: str, what: str) -> tuple[str, str, int]:
        """(host path, sha256 hex, size) of the content of ``name``, inflated if gzip or zstd."""
        raw = self.get(name, what, need_file=False)
        inflated = self.inflated.get(self.resolve(self.clean(name)))
        if inflated is None:
            return raw
        if isinstance(inflated, str):
            raise LoadError(f"invalid archive: {what} {name!r} {inflated}")
        return inflated

    def has(self, name: str) -> bool:
        try:
            return self.resolve(name) in self.files
        except LoadError:
            return False

    def read_json(self, name: str, what: str) -> tuple[Any, bytes, str]:
        path, sha, size = self.get(name, what)
        if size > _MAX_JSON:
            raise LoadError(f"invalid archive: {what} {name!r} is too large")
        with open(path, "rb") as f:
            data = f.read()
        try:
            return json.loads(data), data, sha
        except ValueError as exc:
            raise LoadError(f"invalid archive: {what} {name!r} is not valid JSON: {exc}") from None


def _tar_reason(text: str) -> str:
    if "unexpected end" in text or "truncated" in text or not text:
        return "unexpected EOF (the archive is truncated)"
    if "invalid header" in text or "bad checksum" in text or "not a" in text:
        return f"not a tar archive ({text})"
    return text


# ---- load: reading the formats ------------------------------------------------------------


class _Image:
    """One image to load: config bytes, staged layer tars, names."""

    def __init__(self, config_bytes: bytes, config: dict[str, Any]) -> None:
        self.config_bytes = config_bytes
        self.config = config
        self.id = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        self.layers: list[tuple[str, str, int]] = []  # (uncompressed tar path, diff ID, size)
        self.tags: list[refs.Reference] = []
        self.parent = ""
        # ChainID -> (a diff folder already unpacked from that layer's tar, its size): a
        # pull's layers, unpacked while they downloaded (the commit only moves them in)
        self.staged: dict[str, tuple[str, int]] = {}

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])


def _check_config(config: Any, where: str) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise LoadError(f"invalid archive: image config {where!r} is not a JSON object")
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids", []), list):
        raise LoadError(f"invalid archive: image config {where!r} has no rootfs.diff_ids")
    return config


def _check_blob_name(name: str, sha: str) -> None:
    """A file named by its digest (``blobs/sha256/<hex>``, ``<hex>.json``) must hash to it."""
    base = posixpath.basename(name)
    stem = base[:-5] if base.endswith(".json") else base
    if (
        _HEX64.fullmatch(stem)
        and stem != sha
        and (base.endswith(".json") or "/sha256/" in f"/{name}")
    ):
        raise LoadError(
            f"invalid archive: {name!r} is corrupt: its content has digest sha256:{sha}"
        )


def _layer(staged: _Staged, name: str, expected: str, what: str) -> tuple[str, str, int]:
    """The staged uncompressed tar of one layer, its DiffID checked against ``expected``.

    Compression is told by the content, as Docker does (gzip and zstd layers were inflated
    while staged), never by the media type."""
    path, sha, size = staged.uncompressed(name, what)
    diff_id = "sha256:" + sha
    if diff_id != expected:
        raise LoadError(
            f"invalid archive: layer {name!r} does not match the image config: "
            f"its diff ID is {diff_id}, the config expects {expected}"
        )
    return path, diff_id, size


def _tags(names: Any, where: str) -> list[refs.Reference]:
    out = []
    for name in names or []:
        if not isinstance(name, str):
            raise LoadError(f"invalid archive: bad tag {name!r} in {where}")
        try:
            parsed = refs.parse_tagged(name)
        except InvalidParameter as exc:
            raise LoadError(f"invalid archive: bad tag {name!r} in {where}: {exc}") from None
        if parsed.digest is None:
            out.append(parsed)
    return out


def _read_docker(staged: _Staged) -> list[_Image]:
    manifest, _, _ = staged.read_json("manifest.json", "file")
    if not isinstance(manifest, list):
        raise LoadError("invalid archive: manifest.json is not a list")
    images = []
    for n, item in enumerate(manifest):
        if not isinstance(item, dict) or not isinstance(item.get("Config"), str):
            raise LoadError(f"invalid archive: manifest.json entry {n} has no Config")
        config_name = item["Config"]
        config, data, sha = staged.read_json(config_name, "image config")
        _check_blob_name(config_name, sha)
        image = _Image(data, _check_config(config, config_name))
        layers = item.get("Layers") or []
        if not isinstance(layers, list) or len(layers) != len(image.diff_ids):
            raise LoadError(
                f"invalid manifest, layers length mismatch: expected "
                f"{len(image.diff_ids)}, got {len(layers)}"
            )
        for name, diff in zip(layers, image.diff_ids):
            if not isinstance(name, str):
                raise LoadError(f"invalid archive: bad layer entry {name!r} in manifest.json")
            lpath, lsha, _ = staged.get(name, "layer", need_file=False)
            _check_blob_name(name, lsha)
            image.layers.append(_layer(staged, name, diff, "layer"))
        image.tags = _tags(item.get("RepoTags"), "manifest.json")
        if isinstance(item.get("Parent"), str):
            image.parent = item["Parent"]
        images.append(image)
    return images


def _blob(staged: _Staged, descriptor: Any, what: str) -> tuple[str, str, int, str]:
    """Stage the blob a descriptor names; its digest (and size, if given) are checked."""
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str):
        raise LoadError(f"invalid archive: bad {what} descriptor")
    digest = descriptor["digest"]
    algo, _, hexd = digest.partition(":")
    if algo != "sha256" or not _HEX64.fullmatch(hexd):
        raise LoadError(f"invalid archive: unsupported {what} digest {digest!r}")
    name = f"blobs/sha256/{hexd}"
    path, sha, size = staged.get(name, what, need_file=what != "layer")
    if sha != hexd:
        raise LoadError(
            f"invalid archive: {what} {name!r} is corrupt: its content has digest sha256:{sha}"
        )
    if isinstance(descriptor.get("size"), int) and descriptor["size"] != size:
        raise LoadError(
            f"invalid archive: {what} {name!r} has {size} bytes, {descriptor['size']} expected"
        )
    return path, sha, size, name


def _platform_ok(descriptor: dict[str, Any]) -> bool | None:
    plat = descriptor.get("platform")
    if not isinstance(plat, dict):
        return None
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    return plat.get("os") == "linux" and plat.get("architecture") == arch


def _read_oci(staged: _Staged) -> list[_Image]:
    index, _, _ = staged.read_json("index.json", "file")
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise LoadError("invalid archive: index.json has no manifests")
    images: dict[str, _Image] = {}
    order: list[str] = []

    def manifests(idx: dict[str, Any], depth: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(descriptor, annotations to name it by) for each image manifest."""
        found = []
        for d in idx.get("manifests") or []:
            if not isinstance(d, dict):
                continue
            if d.get("mediaType") in _INDEX_TYPES:
                if depth > 4:
                    raise LoadError("invalid archive: image indexes nested too deeply")
                path, *_ = _blob(staged, d, "index")
                with open(path, "rb") as f:
                    try:
                        inner = json.loads(f.read(_MAX_JSON))
                    except ValueError as exc:
                        raise LoadError(f"invalid archive: bad image index: {exc}") from None
                subs = [s for s in inner.get("manifests") or [] if isinstance(s, dict)]
                pick = [s for s in subs if _platform_ok(s)] or [
                    s for s in subs if _platform_ok(s) is None
                ]
                if not pick:
                    raise LoadError(
                        "no matching manifest for this platform in the image index entries"
                    )
                for sub in manifests({"manifests": pick[:1]}, depth + 1):
                    found.append((sub[0], d.get("annotations") or {}))
            else:
                found.append((d, d.get("annotations") or {}))
        return found

    for desc, ann in manifests(index, 0):
        path, *_ = _blob(staged, desc, "manifest")
        with open(path, "rb") as f:
            try:
                manifest = json.loads(f.read(_MAX_JSON))
            except ValueError as exc:
                raise LoadError(f"invalid archive: bad manifest: {exc}") from None
        if not isinstance(manifest, dict) or "config" not in manifest:
            raise LoadError("invalid archive: a manifest has no config")
        cpath, _, _, cname = _blob(staged, manifest["config"], "image config")
        with open(cpath, "rb") as f:
            data = f.read(_MAX_JSON)
        try:
            config = _check_config(json.loads(data), cname)
        except ValueError as exc:
            raise LoadError(f"invalid archive: bad image config: {exc}") from None
        image = _Image(data, config)
        if image.id not in images:
            layers = manifest.get("layers") or []
            if len(layers) != len(image.diff_ids):
                raise LoadError(
                    f"invalid manifest, layers length mismatch: expected "
                    f"{len(image.diff_ids)}, got {len(layers)}"
                )
            for ldesc, diff in zip(layers, image.diff_ids):
                _, _, _, lname = _blob(staged, ldesc, "layer")
                image.layers.append(_layer(staged, lname, diff, "layer"))
            images[image.id] = image
            order.append(image.id)
        name = ann.get(ANN_IMAGE_NAME) or ""
        ref_name = ann.get(ANN_REF_NAME) or ""
        if not name and ref_name and any(c in ref_name for c in "/:"):
            name = ref_name  # some tools put the whole reference here
        if name:
            images[image.id].tags += [
                t for t in _tags([name], "index.json") if t not in images[image.id].tags
            ]
    return [images[i] for i in order]


# ---- load: commit -------------------------------------------------------------------------


def _manifest_bytes(image: _Image) -> bytes:
    """The OCI manifest the image store writes for an image (same bytes as ImageStore)."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": image.id, "size": len(image.config_bytes)},
        "layers": [{"mediaType": MEDIA_LAYER, "digest": d, "size": s} for _, d, s in image.layers],
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


def _put_blob(
    store: ImageStore, digest: str, src_path: str | None, data: bytes | None, added: list[str]
) -> None:
    path = store.blob_path(digest)
    if os.path.exists(path):
        return
    tmp = f"{path}.load-{os.getpid()}.tmp"
    if src_path is not None:
        try:
            os.link(src_path, tmp)
        except OSError:
            shutil.copyfile(src_path, tmp)
    else:
        with open(tmp, "wb") as f:
            f.write(data or b"")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)
    added.append(path)


def _put_layers(store: ImageStore, image: _Image, added: list[str]) -> None:
    """(locked) The image's layers the store lacks: a staged one is moved in, any other is
    unpacked from its blob (``load``)."""
    chain = chain_ids(image.diff_ids)
    for i, (c, d) in enumerate(zip(chain, image.diff_ids)):
        if store.layers.exists(c):
            continue
        added.append(c)
        parent = chain[i - 1] if i else None
        staged = image.staged.get(c)
        if staged is not None:
            try:
                store.layers.adopt(c, d, parent, *staged)
                continue
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                # tmp on another filesystem than overlay/: unpack the blob as load does
        try:
            store.layers.create(c, d, parent, store.blob_path(d))
        except InvalidParameter as exc:
            raise LoadError(f"invalid archive: layer {d} is unsafe or corrupt: {exc}") from None


def _commit(store: ImageStore, images: list[_Image]) -> list[str]:
    """(locked) Put the checked images into the store; all or nothing."""
    from dockerlab.engine.atomic import fsync_dir

    store._ensure()
    added_blobs: list[str] = []
    added_layers: list[str] = []
    subjects: list[str] = []
    with store._locked():
        try:
            index = store._index()
            known = {e["id"] for e in index}
            for image in images:
                for path, diff, _ in image.layers:
                    _put_blob(store, diff, path, None, added_blobs)
                _put_blob(store, image.id, None, image.config_bytes, added_blobs)
                manifest = _manifest_bytes(image)
                mdigest = "sha256:" + hashlib.sha256(manifest).hexdigest()
                _put_blob(store, mdigest, None, manifest, added_blobs)
                _put_layers(store, image, added_layers)
                if image.id not in known:
                    parent = image.parent if image.parent in known else ""
                    index.append(
                        {
                            "id": image.id,
                            "manifest": mdigest,
                            "size": len(manifest),
                            "parent": parent,
                            "tagtime": "",
                        }
                    )
                    known.add(image.id)
            fsync_dir(store.blobs)
            store._write_index(index)
        except BaseException:
            for c in reversed(added_layers):
                store.layers.remove(c)
            for path in added_blobs:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            raise
        for image in images:
            if image.tags:
                store._set_tags(image.id, image.tags)
                subjects += [t.familiar() for t in image.tags]
            else:
                subjects.append(image.id)
    return subjects


def load(store: ImageStore, src: IO[bytes]) -> list[str]:
    """Load every image of the archive ``src``; returns what Docker's "Loaded image" lines
    name: ``busybox:latest`` for each tag, ``sha256:…`` for an untagged image.

    Raises :class:`LoadError` (nothing changed) for a truncated, corrupt, mismatching or
    unsafe archive.
    """
    import tempfile

    from dockerlab.engine.work import prefix as work_prefix

    os.makedirs(store.paths.tmp, mode=0o700, exist_ok=True)
    folder = tempfile.mkdtemp(prefix=work_prefix("load"), dir=store.paths.tmp)
    try:
        staged = _Staged(folder)
        staged.read(src)
        if staged.has("manifest.json"):
            images = _read_docker(staged)
        elif staged.has("index.json"):
            images = _read_oci(staged)
        else:
            raise LoadError(
                "invalid archive: it has neither manifest.json nor index.json "
                "(not an image archive from docker save or an OCI image layout)"
            )
        if not images:
            raise LoadError("invalid archive: it holds no image")
        return _commit(store, images)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
