"""The image store: an OCI image layout plus Docker's tag file.

    $DOCKERLAB_ROOT/image/
    ├── oci-layout              {"imageLayoutVersion": "1.0.0"}
    ├── index.json              OCI index: one manifest descriptor per image; annotations
    │                           dev.dockerlab.image.id / .parent / .lastTagTime
    ├── repositories.json       {"Repositories": {"busybox": {"busybox:latest": "sha256:…"}}}
    ├── blobs/sha256/<hex>      configs, manifests and *uncompressed* layer tars
    └── lock                    flock held by every writer

An image ID is ``sha256`` of its config's bytes; its layers are unpacked once each into the
:class:`~dockerlab.engine.images.layers.LayerStore` (keyed by ChainID) and shared between images.
Readers take no lock: ``index.json`` and ``repositories.json`` are replaced atomically.
Records returned are shaped as the Docker Engine API returns them.

An image whose config blob cannot be read (cut by a crash or a full disk) is skipped by
``images`` and ``system df``, as Docker's image store skips an invalid image when it loads
("invalid image …, …" in moby ``image/store.go`` ``restore``); any verb that needs its config
says it is corrupt (:class:`ImageCorrupt`), and ``rmi -f`` removes it: its layers are known
from its manifest.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable

from dockerlab.engine import atomic
from dockerlab.engine.images import reference as refs
from dockerlab.engine.images.layers import LayerStore, chain_ids
from dockerlab.engine.paths import Paths
from dockerlab.errors import Conflict, DockerlabError, InvalidParameter, NoSuchImage, NotFound

TYPE_CHECKING = False  # typing costs the CLI's start milliseconds
if TYPE_CHECKING:
    import builtins
    from typing import Any, TypedDict

    class IndexEntry(TypedDict):
        """One image in index.json, as :meth:`ImageStore._index` reads it."""

        id: str
        manifest: str  # the manifest's digest
        size: int  # the manifest's size
        parent: str
        tagtime: str


MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
ANN_ID = "dev.dockerlab.image.id"
ANN_PARENT = "dev.dockerlab.image.parent"
ANN_TAGTIME = "dev.dockerlab.image.lastTagTime"
ZERO_TIME = "0001-01-01T00:00:00Z"

# used_by: image ID -> [(container ID, running)], for every container on the host.
UsedBy = dict[str, list[tuple[str, bool]]]


def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


class ImageCorrupt(DockerlabError):
    """The image's config blob cannot be read: only ``rmi -f`` applies to it."""

    def __init__(self, image_id: str, reason: str) -> None:
        super().__init__(
            f"image {refs.short_id(image_id)} is corrupt: its config cannot be "
            f"read ({reason}); remove it with rmi -f"
        )
        self.image_id = image_id


def canonical_json(obj: Any) -> bytes:
    """The bytes an image ID is computed from: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def parse_time(value: str | None) -> float:
    """RFC 3339 (nanoseconds allowed) → Unix seconds; 0 when missing or unreadable."""
    from dockerlab.format.units import parse_rfc3339

    try:
        return parse_rfc3339(value or "")
    except ValueError:
        return 0.0


def now_rfc3339() -> str:
    """Now as Go's RFC3339Nano in UTC (trailing zeros of the fraction trimmed)."""
    import time

    from dockerlab.format.units import rfc3339nano_ns

    return rfc3339nano_ns(time.time_ns())


class ImageStore:
    """Images under ``paths.image``, their layers under ``paths.overlay``."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.root = paths.image
        self.blobs = os.path.join(self.root, "blobs", "sha256")
        self.layers = LayerStore(paths)
        self._lock_path = os.path.join(self.root, "lock")
        if self.layers.incomplete():
            self._cleanup_incomplete()

    # ---- files ------------------------------------------------------------------------------
    def _ensure(self) -> None:
        os.makedirs(self.blobs, mode=0o700, exist_ok=True)
        os.makedirs(self.paths.overlay, mode=0o700, exist_ok=True)
        os.makedirs(self.paths.tmp, mode=0o700, exist_ok=True)
        layout = os.path.join(self.root, "oci-layout")
        if not os.path.exists(layout):
            atomic.write_json(layout, {"imageLayoutVersion": "1.0.0"})

    def _locked(self) -> Any:
        """``with self._locked():`` the writers' lock; taking it first collects what a
        writer killed under it left (blobs, layers, temp files nothing references)."""
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        return _ImageLock(self)

    def _dead_writers(self) -> list[str]:
        """Markers of writers that died holding the lock (see :mod:`~dockerlab.engine.work`)."""
        from dockerlab.engine import work

        try:
            names = os.listdir(self.paths.tmp)
        except FileNotFoundError:
            return []
        return [
            os.path.join(self.paths.tmp, n)
            for n in names
            if n.startswith("imagewrite-") and work.abandoned(n)
        ]

    def recover(self, blocking: bool = True) -> bool:
        """Collect what a killed writer left, if one did; False if the lock was busy."""
        import fcntl

        if not self._dead_writers():
            return True
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                return False
            self._recover_locked()
            return True
        finally:
            os.close(fd)

    def _recover_locked(self) -> None:
        dead = self._dead_writers()
        if dead:
            self.collect_garbage()
            for path in dead:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    def collect_garbage(self, dry_run: bool = False) -> list[dict[str, Any]]:
        """(locked unless ``dry_run``) Remove the blobs and image layers that no image and
        no container references (a killed ``load``, ``commit``, ``build`` or ``rmi`` leaves
        them), and temp files in the blob folder. Returns ``[{"Kind", "Path", "Size"}]``."""
        from dockerlab.engine.basics import tree_size
        from dockerlab.engine.containers.store import ContainerStore

        keep_blobs: set[str] = set()
        keep_layers: set[str] = set()
        for e in self._index():
            keep_blobs.update(self._blobs_of(e["id"], e["manifest"]))
            keep_layers.update(self._known_chain(e["id"], e["manifest"]))
        for c in ContainerStore(self.paths).all():  # rmi -f keeps what containers use
            image_id = c.config.get("Image") or ""
            if image_id and os.path.exists(self.blob_path(image_id)):
                keep_blobs.update(self._blobs_of(image_id, ""))
                keep_layers.update(self._known_chain(image_id))
            for link in c.config.get("Runtime", {}).get("LowerLinks", []):
                # l/<short> -> ../<chain hex>/diff: the layers it is mounted from, whatever
                # became of its image's records
                with contextlib.suppress(OSError):
                    target = os.readlink(os.path.join(self.paths.overlay, link))
                    keep_layers.add("sha256:" + os.path.basename(os.path.dirname(target)))
        found: list[dict[str, Any]] = []
        try:
            blobs = os.listdir(self.blobs)
        except FileNotFoundError:
            blobs = []
        for name in blobs:
            if name not in keep_blobs:
                path = os.path.join(self.blobs, name)
                found.append({"Kind": "blob", "Path": path, "Size": tree_size(path)})
                if not dry_run:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
        flagged = {_hex(c) for c in self.layers.incomplete()}
        try:
            folders = os.listdir(self.paths.overlay)
        except FileNotFoundError:
            folders = []
        for name in folders:
            folder = os.path.join(self.paths.overlay, name)
            if len(name) != 64 or "sha256:" + name in keep_layers:
                continue
            # image layers have these; a container's layer folder never does
            if name in flagged or any(
                os.path.exists(os.path.join(folder, f)) for f in ("layer.json", "link", "pending")
            ):
                found.append({"Kind": "layer", "Path": folder, "Size": tree_size(folder)})
                if not dry_run:
                    self.layers.remove("sha256:" + name)
        if not dry_run:
            for name in flagged:  # flags whose folder is already gone
                if "sha256:" + name not in keep_layers:
                    self.layers.remove("sha256:" + name)
            links = os.path.join(self.paths.overlay, "l")
            for name in os.listdir(links) if os.path.isdir(links) else []:
                link = os.path.join(links, name)
                if os.path.islink(link) and not os.path.exists(link):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(link)
        return found

    def _cleanup_incomplete(self) -> None:
        import fcntl

        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = None
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return  # a writer is at work: its flag is not stale; clean up next time
            in_use: set[str] = set()
            for entry in self._index():
                in_use.update(self._known_chain(entry["id"], entry["manifest"]))
            self.layers.cleanup_incomplete(in_use)
        finally:
            if fd is not None:
                os.close(fd)

    def blob_path(self, digest: str) -> str:
        return os.path.join(self.blobs, _hex(digest))

    def _read_blob_json(self, digest: str) -> Any:
        return atomic.read_json(self.blob_path(digest))

    def _write_blob(self, data: bytes) -> str:
        import hashlib

        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if not os.path.exists(path):
            atomic.write_bytes(path, data, 0o644)
        return digest

    def _import_tar(self, tar_path: str) -> tuple[str, int]:
        """Copy a layer tar into the blobs while hashing it; returns (diff ID, size)."""
        import hashlib

        sha = hashlib.sha256()
        tmp = os.path.join(self.blobs, f".import.{os.getpid()}.tmp")
        size = 0
        with open(tar_path, "rb") as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                sha.update(chunk)
                dst.write(chunk)
                size += len(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        digest = "sha256:" + sha.hexdigest()
        path = self.blob_path(digest)
        if os.path.exists(path):
            os.unlink(tmp)
        else:
            os.rename(tmp, path)
        return digest, size

    def _index(self) -> list[IndexEntry]:
        """``[{"id", "manifest", "size", "parent", "tagtime"}]`` from index.json."""
        try:
            index = atomic.read_json(os.path.join(self.root, "index.json"))
        except FileNotFoundError:
            return []
        except ValueError as exc:
            raise _store_corrupt("index.json", exc) from None
        out: list[IndexEntry] = []
        for m in index.get("manifests", []):
            ann = m.get("annotations") or {}
            out.append(
                {
                    "id": ann.get(ANN_ID, ""),
                    "manifest": m["digest"],
                    "size": m.get("size", 0),
                    "parent": ann.get(ANN_PARENT, ""),
                    "tagtime": ann.get(ANN_TAGTIME, ""),
                }
            )
        return out

    def _write_index(self, entries: list[IndexEntry]) -> None:
        manifests = []
        for e in entries:
            ann = {ANN_ID: e["id"]}
            if e.get("parent"):
                ann[ANN_PARENT] = e["parent"]
            if e.get("tagtime"):
                ann[ANN_TAGTIME] = e["tagtime"]
            manifests.append(
                {
                    "mediaType": MEDIA_MANIFEST,
                    "digest": e["manifest"],
                    "size": e["size"],
                    "annotations": ann,
                }
            )
        atomic.write_json(
            os.path.join(self.root, "index.json"),
            {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests},
        )

    def _repos(self) -> dict[str, dict[str, str]]:
        try:
            data = atomic.read_json(os.path.join(self.root, "repositories.json"))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise _store_corrupt("repositories.json", exc) from None
        repos: dict[str, dict[str, str]] = data.get("Repositories", {})
        return repos

    def _write_repos(self, repos: dict[str, dict[str, str]]) -> None:
        repos = {k: v for k, v in sorted(repos.items()) if v}
        atomic.write_json(os.path.join(self.root, "repositories.json"), {"Repositories": repos})

    def _refs_of(self, image_id: str, repos: dict[str, dict[str, str]] | None = None) -> list[str]:
        """Familiar references (``busybox:latest``, ``busybox@sha256:…``) to ``image_id``."""
        repos = self._repos() if repos is None else repos
        return sorted(r for tags in repos.values() for r, i in tags.items() if i == image_id)

    def _chain(self, image_id: str) -> list[str]:
        return chain_ids(self.config(image_id).get("rootfs", {}).get("diff_ids", []))

    def _known_chain(self, image_id: str, manifest: str = "") -> list[str]:
        """The image's ChainIDs even when its config is corrupt (then from its manifest,
        whose layer digests are the DiffIDs); [] when neither can be read."""
        try:
            return self._chain(image_id)
        except (ImageCorrupt, NoSuchImage):
            pass
        if not manifest:
            manifest = next((e["manifest"] for e in self._index() if e["id"] == image_id), "")
        try:
            layers = atomic.read_json(self.blob_path(manifest)).get("layers") or []
            return chain_ids([str(d["digest"]) for d in layers])
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            return []

    # ---- lookups ----------------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """``sha256:<hex>`` of the image ``ref`` names: name[:tag], name@digest, full or short ID.

        Raises :class:`NoSuchImage` (``No such image: busybox:latest``) or
        :class:`InvalidParameter` for a malformed reference.
        """
        ids = None
        if refs.is_full_id(ref):
            image_id = "sha256:" + _hex(ref)
            if any(e["id"] == image_id for e in self._index()):
                return image_id
            raise NoSuchImage(image_id)
        named = refs.parse_tagged(ref)
        found = self._repos().get(named.familiar_name, {}).get(named.familiar())
        if found:
            return found
        # a short ID (Docker searches ID prefixes after the name lookup fails)
        prefix = ref.removeprefix("sha256:")
        if re.fullmatch(r"[0-9a-f]{1,64}", prefix):
            ids = [e["id"] for e in self._index() if _hex(e["id"]).startswith(prefix)]
            if len(ids) == 1:
                return ids[0]
        raise NoSuchImage(ref, f"No such image: {named.familiar()}")

    def exists(self, ref: str) -> bool:
        try:
            self.resolve(ref)
        except (NoSuchImage, InvalidParameter):
            return False
        return True

    def config(self, image_id: str) -> dict[str, Any]:
        """The image's config JSON (OCI / Docker image config)."""
        if not image_id:
            raise NoSuchImage(image_id)
        try:
            config = self._read_blob_json(image_id)
        except FileNotFoundError:
            raise NoSuchImage(image_id) from None
        except ValueError as exc:
            from dockerlab.engine.containers.store import json_reason

            raise ImageCorrupt(image_id, json_reason(exc)) from None
        if not isinstance(config, dict):
            raise ImageCorrupt(image_id, "not a JSON object")
        return config

    def layer_ids(self, image_id: str) -> list[str]:
        """ChainIDs of the image's layers, bottom first."""
        return self._chain(image_id)

    def lowerdirs(self, image_id: str, relative: bool = False) -> list[str]:
        """Overlay ``lowerdir`` entries for the image, top layer first.

        Absolute short links ``<root>/overlay/l/<short>``; with ``relative`` they are
        ``l/<short>`` relative to ``paths.overlay`` (mount from there to keep options short).
        """
        chain = self._chain(image_id)
        for c in chain:
            if not os.path.lexists(self.layers.link_path(c)):
                raise NoSuchImage(
                    image_id, f"layer of image {refs.short_id(image_id)} is missing: {c}"
                )
        return self.layers.lowerdirs(chain, relative)

    def layer_dirs(self, image_id: str) -> list[str]:
        """The ``diff/`` folders of the image's layers, bottom first (as RootFS.Layers)."""
        return [self.layers.diff_dir(c) for c in self._chain(image_id)]

    def parent(self, image_id: str) -> str:
        for e in self._index():
            if e["id"] == image_id:
                return e["parent"]
        return ""

    def children(self, image_id: str) -> list[str]:
        return [e["id"] for e in self._index() if e["parent"] == image_id]

    def size(self, image_id: str) -> int:
        total = 0
        for c in self._chain(image_id):
            with contextlib.suppress(NotFound):
                total += self.layers.size(c)
        return total

    # ---- Docker API shapes ------------------------------------------------------------------
    def list(self, all: bool = False) -> list[dict[str, Any]]:
        """Docker ``GET /images/json``: newest first; without ``all`` untagged parents hidden."""
        index = self._index()
        repos = self._repos()
        parents = {e["parent"] for e in index if e["parent"]}
        out = []
        for e in index:
            image_id = e["id"]
            image_refs = self._refs_of(image_id, repos)
            tags = [r for r in image_refs if "@" not in r]
            digests = [r for r in image_refs if "@" in r]
            if not all and not image_refs and image_id in parents:
                continue
            try:
                cfg = self.config(image_id)
            except (ImageCorrupt, NoSuchImage):
                continue  # as Docker's store skips an invalid image
            size = self.size(image_id)
            out.append(
                {
                    "Id": image_id,
                    "ParentId": e["parent"],
                    "RepoTags": tags,
                    "RepoDigests": digests,
                    "Created": int(parse_time(cfg.get("created"))),
                    "Size": size,
                    "SharedSize": -1,
                    "VirtualSize": size,
                    "Labels": (cfg.get("config") or {}).get("Labels") or {},
                    "Containers": -1,
                }
            )
        out.sort(key=lambda r: (r["Created"], r["Id"]), reverse=True)
        return out

    def inspect(self, ref: str) -> dict[str, Any]:
        """Docker ``GET /images/{name}/json``."""
        image_id = self.resolve(ref)
        entry = next((e for e in self._index() if e["id"] == image_id), None)
        cfg = self.config(image_id)
        image_refs = self._refs_of(image_id)
        chain = self._chain(image_id)
        graph: dict[str, str] = {}
        if chain:
            top = self.layers.dir(chain[-1])
            graph = {
                "MergedDir": os.path.join(top, "merged"),
                "UpperDir": os.path.join(top, "diff"),
                "WorkDir": os.path.join(top, "work"),
            }
            if len(chain) > 1:
                graph["LowerDir"] = ":".join(  # paths only: inspect never unpacks a layer
                    os.path.join(self.layers.dir(c), "diff") for c in reversed(chain[:-1])
                )
        history = cfg.get("history") or []
        size = self.size(image_id)
        out: dict[str, Any] = {
            "Id": image_id,
            "RepoTags": [r for r in image_refs if "@" not in r],
            "RepoDigests": [r for r in image_refs if "@" in r],
            "Parent": entry["parent"] if entry else "",
            "Comment": cfg.get("comment") or (history[-1].get("comment", "") if history else ""),
            "Created": cfg.get("created", ZERO_TIME),
            # Docker 20.10 (later versions drop both): the container a commit or build step
            # ran, and its config; a zero config when there was none, as its Go struct
            "Container": cfg.get("container", ""),
            "ContainerConfig": cfg.get("container_config") or dict(_ZERO_CONTAINER_CONFIG),
            "DockerVersion": cfg.get("docker_version", ""),
            "Author": cfg.get("author", ""),
            "Config": cfg.get("config") or {},
            "Architecture": cfg.get("architecture", ""),
            "Os": cfg.get("os", ""),
            "Size": size,
            "VirtualSize": size,  # Docker 20.10: the same number as Size
            "GraphDriver": _graph_driver(self.paths, graph),
            "RootFS": {
                "Type": (cfg.get("rootfs") or {}).get("type", "layers"),
                "Layers": list((cfg.get("rootfs") or {}).get("diff_ids", [])),
            },
            "Metadata": {"LastTagTime": (entry["tagtime"] if entry else "") or ZERO_TIME},
        }
        if cfg.get("variant"):
            out["Variant"] = cfg["variant"]
        return out

    def history(self, ref: str) -> builtins.list[dict[str, Any]]:
        """Docker ``GET /images/{name}/history``: newest first, ``<missing>`` for unknown IDs."""
        image_id = self.resolve(ref)
        cfg = self.config(image_id)
        diff_ids = (cfg.get("rootfs") or {}).get("diff_ids", [])
        chain = chain_ids(diff_ids)
        items: builtins.list[dict[str, Any]] = []
        n = 0
        for h in cfg.get("history") or []:
            size = 0
            if not h.get("empty_layer"):
                if n < len(chain):
                    try:
                        size = self.layers.size(chain[n])
                    except NotFound:
                        size = 0
                n += 1
            items.insert(
                0,
                {
                    "Id": "<missing>",
                    "Created": int(parse_time(h.get("created"))),
                    "CreatedBy": h.get("created_by", ""),
                    "Tags": [],
                    "Size": size,
                    "Comment": h.get("comment", ""),
                },
            )
        repos = self._repos()
        current = image_id
        for item in items:
            item["Id"] = current
            item["Tags"] = [r for r in self._refs_of(current, repos) if "@" not in r]
            current = self.parent(current)
            if not current:
                break
        return items

    # ---- changes ----------------------------------------------------------------------------
    def tag(self, ref: str, target: str) -> None:
        """``docker tag``: point ``target`` (name[:tag]) at the image ``ref`` names."""
        image_id = self.resolve(ref)
        named = refs.parse_tagged(target)
        if named.digest is not None:
            raise InvalidParameter("refusing to create a tag with a digest reference")
        with self._locked():
            self._set_tags(image_id, [named])
            self.event(image_id, "tag", named.familiar())

    def event(self, image_id: str, action: str, name: str = "") -> None:
        """Journal an image event with the image's labels, as Docker's (``name``: the
        reference for ``tag``, else the image ID)."""
        from dockerlab.engine import events

        try:
            labels = (self.config(image_id).get("config") or {}).get("Labels")
        except DockerlabError:  # gone (delete) or unreadable: no labels, as Docker's
            labels = None
        events.image(self.paths, image_id, action, name, labels)

    def _set_tags(self, image_id: str, named: builtins.list[refs.Reference]) -> None:
        repos = self._repos()
        for n in named:
            repos.setdefault(n.familiar_name, {})[n.familiar()] = image_id
        self._write_repos(repos)
        index = self._index()
        for e in index:
            if e["id"] == image_id:
                e["tagtime"] = now_rfc3339()
        self._write_index(index)

    def create(
        self,
        layer_tars: Iterable[str],
        config: dict[str, Any],
        tags: Iterable[str] = (),
        parent: str | None = None,
        lazy: bool = False,
    ) -> str:
        """Register an image from uncompressed layer tars (bottom first) and a config.
        With ``lazy``, new layers are unpacked on first use rather than now.

        ``config["rootfs"]`` is set from the tars' digests. Layers already on disk are
        shared, not unpacked again. Returns the image ID ``sha256:<hex>``.
        """
        named = [refs.parse_tagged(t) for t in tags]
        self._ensure()
        with self._locked():
            diff_ids, sizes = [], []
            for tar in layer_tars:
                digest, size = self._import_tar(tar)
                diff_ids.append(digest)
                sizes.append(size)
            config = dict(config)
            config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
            config_bytes = canonical_json(config)
            image_id = self._write_blob(config_bytes)
            chain = chain_ids(diff_ids)
            for i, (c, d) in enumerate(zip(chain, diff_ids)):
                self.layers.create(c, d, chain[i - 1] if i else None, self.blob_path(d), lazy=lazy)
            manifest = {
                "schemaVersion": 2,
                "mediaType": MEDIA_MANIFEST,
                "config": {
                    "mediaType": MEDIA_CONFIG,
                    "digest": image_id,
                    "size": len(config_bytes),
                },
                "layers": [
                    {"mediaType": MEDIA_LAYER, "digest": d, "size": s}
                    for d, s in zip(diff_ids, sizes)
                ],
            }
            manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
            manifest_digest = self._write_blob(manifest_bytes)
            index = self._index()
            if not any(e["id"] == image_id for e in index):
                index.append(
                    {
                        "id": image_id,
                        "manifest": manifest_digest,
                        "size": len(manifest_bytes),
                        "parent": parent or "",
                        "tagtime": "",
                    }
                )
                self._write_index(index)
            if named:
                self._set_tags(image_id, named)
                for n in named:
                    self.event(image_id, "tag", n.familiar())
        return image_id

    def remove(
        self, ref: str, force: bool = False, used_by: UsedBy | None = None
    ) -> builtins.list[dict[str, str]]:
        """``docker rmi``: ``[{"Untagged": …}, {"Deleted": …}]`` with Docker's refusals.

        ``used_by`` maps image IDs to the containers created from them, ``(id, running)``,
        for every container on the host (images removed by force while a container still
        uses them keep their config and layers, so that container can still start).
        """
        used_by = used_by or {}
        image_id = self.resolve(ref)
        records: builtins.list[dict[str, str]] = []
        with self._locked():
            repos = self._repos()
            image_refs = self._refs_of(image_id, repos)
            users = used_by.get(image_id, [])
            quiet = False
            if not _is_id_prefix(image_id, ref):
                # as Docker: another name keeps the image, so untagging one is always fine
                if users and not force and _is_single_reference(image_refs):
                    raise Conflict(
                        "conflict: unable to remove repository reference "
                        f'"{refs.parse(ref).familiar()}" (must force) - container '
                        f"{users[0][0][:12]} is using its referenced image "
                        f"{refs.short_id(image_id)}"
                    )
                named = refs.parse_tagged(ref)
                self._untag(repos, named.familiar_name, named.familiar(), records)
                remaining = self._refs_of(image_id, repos)
                same_repo = [r for r in remaining if _repo_of(r) == named.familiar_name]
                if same_repo and all("@" in r for r in same_repo) and named.digest is None:
                    for r in same_repo:
                        self._untag(repos, named.familiar_name, r, records)
                    remaining = self._refs_of(image_id, repos)
                self._write_repos(repos)
                if remaining:
                    return records
                quiet = True
            elif _is_single_reference(image_refs):
                conflict = self._conflict(
                    image_id, used_by, hard=True, soft=not force, active_reference=False
                )
                if conflict:
                    raise conflict
                for r in image_refs:
                    self._untag(repos, _repo_of(r), r, records)
                self._write_repos(repos)
            self._delete(image_id, records, force, quiet, used_by)
        return records

    def _untag(
        self,
        repos: dict[str, dict[str, str]],
        repo: str,
        key: str,
        records: builtins.list[dict[str, str]],
    ) -> None:
        tags = repos.get(repo, {})
        if key in tags:
            del tags[key]
            records.append({"Untagged": key})
            if not tags:
                repos.pop(repo, None)

    def _conflict(
        self, image_id: str, used_by: UsedBy, hard: bool, soft: bool, active_reference: bool = True
    ) -> Conflict | None:
        """Docker's ``checkImageDeleteConflict`` (children, running, tags, stopped)."""
        short = refs.short_id(image_id)
        users = used_by.get(image_id, [])
        if hard and self.children(image_id):
            return _DeleteConflict(short, True, "image has dependent child images")
        if hard:
            for cid, running in users:
                if running:
                    return _DeleteConflict(
                        short,
                        True,
                        f"image is being used by running container {cid[:12]}",
                        used=True,
                    )
        if soft and active_reference and self._refs_of(image_id):
            return _DeleteConflict(short, False, "image is referenced in multiple repositories")
        if soft:
            for cid, running in users:
                if not running:
                    return _DeleteConflict(
                        short,
                        False,
                        f"image is being used by stopped container {cid[:12]}",
                        used=True,
                    )
        return None

    def _delete(
        self,
        image_id: str,
        records: builtins.list[dict[str, str]],
        force: bool,
        quiet: bool,
        used_by: UsedBy,
        prune: bool = True,
    ) -> None:
        """Docker's ``imageDeleteHelper``: delete the image, its unused layers, then
        quietly its untagged parent."""
        conflict = self._conflict(image_id, used_by, hard=True, soft=not force)
        if conflict:
            dangling = not self._refs_of(image_id) and not self.children(image_id)
            if quiet and (not dangling or getattr(conflict, "used", False)):
                return
            raise conflict
        parent = self.parent(image_id)
        repos = self._repos()
        for r in self._refs_of(image_id, repos):
            self._untag(repos, _repo_of(r), r, records)
        self._write_repos(repos)
        index = self._index()
        gone = next(e for e in index if e["id"] == image_id)
        index = [e for e in index if e["id"] != image_id]
        for e in index:  # children of a force-deleted image lose their parent link
            if e["parent"] == image_id:
                e["parent"] = ""
        self._write_index(index)
        records.append({"Deleted": image_id})
        # Layers and blobs still needed by the other images or by containers.
        keep_layers: set[str] = set()
        keep_blobs: set[str] = set()
        for e in index:
            keep_layers.update(self._known_chain(e["id"], e["manifest"]))
            keep_blobs.update(self._blobs_of(e["id"], e["manifest"]))
        for used_id, users in used_by.items():
            if users and used_id and os.path.exists(self.blob_path(used_id)):
                keep_layers.update(self._known_chain(used_id))
                keep_blobs.add(_hex(used_id))
                try:
                    diff_ids = (self.config(used_id).get("rootfs") or {}).get("diff_ids", [])
                except (ImageCorrupt, NoSuchImage):
                    diff_ids = []
                keep_blobs.update(_hex(d) for d in diff_ids)
        chain = self._known_chain(image_id, gone["manifest"])
        for blob in self._blobs_of(image_id, gone["manifest"]):
            if blob not in keep_blobs:
                try:
                    os.unlink(os.path.join(self.blobs, blob))
                except FileNotFoundError:
                    pass
        for c in reversed(chain):
            if c not in keep_layers and os.path.lexists(self.layers.dir(c)):
                self.layers.remove(c)
                records.append({"Deleted": c})
        if prune and parent and any(e["id"] == parent for e in index):
            self._delete(parent, records, force=False, quiet=True, used_by=used_by)

    def _blobs_of(self, image_id: str, manifest: str) -> set[str]:
        out = {_hex(image_id), _hex(manifest)}
        try:
            diff_ids = (self.config(image_id).get("rootfs") or {}).get("diff_ids", [])
        except (ImageCorrupt, NoSuchImage):  # its manifest names the same layer blobs
            try:
                layers = atomic.read_json(self.blob_path(manifest)).get("layers") or []
                diff_ids = [str(d["digest"]) for d in layers]
            except (OSError, ValueError, AttributeError, KeyError, TypeError):
                diff_ids = []
        out.update(_hex(d) for d in diff_ids)
        return out


def _store_corrupt(name: str, exc: ValueError) -> DockerlabError:
    """The store's own index was cut (written atomically, so only by a disk fault)."""
    from dockerlab.engine.containers.store import json_reason

    return DockerlabError(
        f"the image store is corrupt: image/{name} cannot be read ({json_reason(exc)})"
    )


class _ImageLock(atomic.locked):
    """The image store's writer lock, with a marker in tmp naming the holder: a marker
    whose owner is dead means a writer was killed mid-change (see ``_recover_locked``)."""

    def __init__(self, store: ImageStore) -> None:
        super().__init__(store._lock_path)
        self.store = store
        self.marker = ""

    def __enter__(self) -> int:
        from dockerlab.engine import work
        from dockerlab.engine.containers.store import thaw_frozen

        fd = super().__enter__()
        try:
            self.store._recover_locked()
            paths = self.store.paths
            work.sweep(
                paths,
                finishers={
                    "commit": lambda path: thaw_frozen(paths, path),
                    "imagewrite": lambda path: self.store.recover(blocking=False),
                },
            )
            mfd, self.marker = work.begin_file(self.store.paths, "imagewrite")
            os.close(mfd)
        except BaseException:
            super().__exit__()
            raise
        return fd

    def __exit__(self, *exc: object) -> None:
        try:
            if self.marker:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.marker)
        finally:
            super().__exit__()


class _DeleteConflict(Conflict):
    def __init__(self, short: str, hard: bool, message: str, used: bool = False) -> None:
        force = "cannot be forced" if hard else "must be forced"
        super().__init__(f"conflict: unable to delete {short} ({force}) - {message}")
        self.hard = hard
        self.used = used


def _repo_of(familiar_ref: str) -> str:
    """``busybox:latest`` → ``busybox``; ``localhost:5000/a:t`` → ``localhost:5000/a``."""
    if "@" in familiar_ref:
        return familiar_ref.split("@", 1)[0]
    head, sep, tail = familiar_ref.rpartition(":")
    if sep and "/" not in tail:
        return head
    return familiar_ref


def _is_id_prefix(image_id: str, ref: str) -> bool:
    return image_id.startswith(ref) or _hex(image_id).startswith(ref)


_ZERO_CONTAINER_CONFIG: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}


def _is_single_reference(image_refs: list[str]) -> bool:
    """Docker's ``isSingleReference``: at most one tag, all references in one repository."""
    if len(image_refs) <= 1:
        return len(image_refs) == 1
    tags = [r for r in image_refs if "@" not in r]
    digests = {_repo_of(r) for r in image_refs if "@" in r}
    if len(tags) > 1:
        return False
    single = tags[0] if tags else image_refs[0]
    return len(digests) == 1 and _repo_of(single) in digests


def _graph_driver(paths: Paths, data: dict[str, Any]) -> dict[str, Any]:
    """An image's GraphDriver as Docker shows it under the state root's storage driver."""
    from dockerlab.engine.storage import drivers

    name = drivers.recorded(paths)
    return {"Name": name, "Data": None if name == "vfs" else data}
