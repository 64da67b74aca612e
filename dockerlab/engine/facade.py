"""The engine's one public object: every face (CLI, magics, widgets, API) calls this.

Records are plain dicts shaped and named exactly as the Docker Engine API returns them
(``GET /containers/json``, ``/containers/{id}/json``, ``/images/json`` …), so faces can render
Docker's tables and ``--format`` paths without translation, and the API server can pass them
through. Verbs raise :mod:`dockerlab.errors` and never print: :func:`~dockerlab.errors.boundary`
converts whatever foreign error (``OSError``, tar, JSON…) a verb meets, naming the verb.

This is the engine's table of contents: each verb says what it is and hands the work to the
module that owns it — container lifecycle to :mod:`~dockerlab.engine.containers.lifecycle`,
images to :mod:`~dockerlab.engine.images.store`, layers to
:mod:`~dockerlab.engine.images.changes`, and so on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from dockerlab.engine.basics import tree_size
from dockerlab.engine.checks import parse_signal, require_privileges
from dockerlab.engine.containers import lifecycle
from dockerlab.engine.containers.store import Container
from dockerlab.engine.paths import Paths
from dockerlab.engine.runtime.streams import Attachment
from dockerlab.errors import (
    DockerlabError,
    InvalidParameter,
    boundary,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

    from dockerlab.engine.containers.logs import LogEntry
    from dockerlab.engine.images.store import ImageStore

__all__ = ["Engine", "parse_signal", "require_privileges"]  # the last two: from .checks


@boundary(init="state root")
class Engine:
    """Images, containers and volumes under one state root (``DOCKERLAB_ROOT``).

    Every verb that changes a container has one shape: find, lock, refresh, check state,
    act, save (see :mod:`~dockerlab.engine.containers.lifecycle`).
    """

    def __init__(self, root: str | None = None) -> None:
        self.paths = Paths.of(root)
        from dockerlab.engine.containers.store import ContainerStore

        # the store's sweeps also collect what a dead image writer left
        self.store = ContainerStore(
            self.paths, {"imagewrite": lambda path: self.image_store.recover(blocking=False)}
        )
        self._images: ImageStore | None = None

    @property
    def image_store(self) -> ImageStore:
        if self._images is None:
            from dockerlab.engine.images.store import ImageStore

            self._images = ImageStore(self.paths)
        return self._images

    # ---- system -------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        from dockerlab.engine import system

        return system.version()

    def info(self) -> dict[str, Any]:
        from dockerlab.engine import system

        states = [c.state["Status"] for c in self._refreshed()]
        return system.info(self.paths, states, len(self.image_store.list(all=False)))

    # ---- images -------------------------------------------------------------------------
    def images(
        self, all: bool = False, filters: dict[str, list[str]] | None = None
    ) -> list[dict[str, Any]]:
        """``GET /images/json``; ``filters`` as :func:`~dockerlab.engine.filters.filter_images`."""
        from dockerlab.engine.filters import filter_images
        from dockerlab.engine.images.store import parse_time

        store = self.image_store

        def created_of(ref: str) -> float:  # before=/since= may name any image, listed or not
            return int(parse_time(store.config(store.resolve(ref)).get("created")))

        return filter_images(store.list(all=all), filters or {}, created_of)

    def image_inspect(self, ref: str) -> dict[str, Any]:
        return self.image_store.inspect(ref)

    def image_history(self, ref: str) -> list[dict[str, Any]]:
        return self.image_store.history(ref)

    def image_remove(self, ref: str, force: bool = False) -> list[dict[str, str]]:
        used: dict[str, list[tuple[str, bool]]] = {}
        for c in self._refreshed():
            used.setdefault(c.config["Image"], []).append((c.id, c.running))
        return self.image_store.remove(ref, force=force, used_by=used)

    def image_tag(self, ref: str, target: str) -> None:
        self.image_store.tag(ref, target)

    def image_bootstrap(self, name: str = "busybox") -> str:
        if name != "busybox":
            raise InvalidParameter(
                f"cannot bootstrap {name!r}: only busybox can be made offline from the host"
            )
        from dockerlab.engine.images.bootstrap import bootstrap_busybox

        return bootstrap_busybox(self.image_store)

    # ---- containers: create and start -----------------------------------------------------
    def create(
        self, body: dict[str, Any], name: str | None = None, owner: str = ""
    ) -> dict[str, Any]:
        """``owner``: the work folder (:mod:`~dockerlab.engine.work`) of a build whose
        intermediate container this is; if that build's process dies, the next verb that
        takes the store lock kills and removes the container."""
        from dockerlab.engine.containers import create as creating
        from dockerlab.engine.runtime.spawn import prestart

        require_privileges()
        prestart(self.paths)  # a start usually follows: the monitors' forkserver warms up meanwhile

        return creating.create(self.store, self.image_store, body, name, owner)

    def start(self, ref: str, attach: str = "") -> Attachment | None:
        """Start ``ref``; with ``attach`` (e.g. ``"ioe"``) return an attachment that sees
        everything from the first byte. Starting a running container does nothing."""
        return lifecycle.start(self.store, ref, attach)

    def run(
        self, body: dict[str, Any], name: str | None = None, attach: str = "oe"
    ) -> tuple[str, Attachment | None]:
        """``create`` + ``start``; returns the ID and the attachment (if ``attach``)."""
        cid = self.create(body, name)["Id"]
        try:
            return cid, self.start(cid, attach)
        except DockerlabError:
            if (body.get("HostConfig") or {}).get("AutoRemove"):
                lifecycle.discard(self.store, cid)
            raise

    def attach(self, ref: str, stdin: bool = False) -> Attachment:
        return lifecycle.attach(self.store, ref, stdin)

    # ---- containers: listing and looking --------------------------------------------------
    def _refreshed(self) -> list[Container]:
        return lifecycle.refreshed(self.store)

    def containers(
        self, all: bool = False, filters: dict[str, list[str]] | None = None, limit: int = -1
    ) -> list[dict[str, Any]]:
        from dockerlab.engine.containers import records
        from dockerlab.engine.filters import check_filters, matches

        check_filters(filters or {})
        items = sorted(self._refreshed(), key=lambda c: c.config["Created"], reverse=True)
        if limit > 0:
            all = True
        if not all:
            items = [c for c in items if c.running]
        items = [c for c in items if matches(c, filters or {})]
        if limit > 0:
            items = items[:limit]
        return [records.summary(c, self.image_store) for c in items]

    def inspect(self, ref: str) -> dict[str, Any]:
        from dockerlab.engine.containers import records

        return records.inspect(self.store.find(ref))

    def container_ids(self) -> list[str]:
        return self.store.ids()

    # ---- containers: state changes (lifecycle.py) -----------------------------------------
    def kill(self, ref: str, signal: str | int = "KILL") -> None:
        lifecycle.kill(self.store, ref, signal)

    def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        lifecycle.stop(self.store, ref, timeout, signal)

    def pause(self, ref: str) -> None:
        lifecycle.pause(self.store, ref)

    def unpause(self, ref: str) -> None:
        lifecycle.unpause(self.store, ref)

    def restart(self, ref: str, timeout: int | None = None) -> None:
        lifecycle.restart(self.store, ref, timeout)

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        lifecycle.remove(self.store, ref, force, volumes)

    def rename(self, ref: str, new_name: str) -> None:
        lifecycle.rename(self.store, ref, new_name)

    def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        return lifecycle.wait(self.store, ref, condition)

    def prune(self) -> dict[str, Any]:
        return lifecycle.prune(self.store)

    # ---- prunes ---------------------------------------------------------------------------
    def image_prune(self, all: bool = False) -> dict[str, Any]:
        """``POST /images/prune``: dangling images (untagged, no child), or with ``all``
        every image no container uses; untagged parents go with their last child."""
        store = self.image_store
        used: dict[str, list[tuple[str, bool]]] = {}
        for c in self._refreshed():
            used.setdefault(c.config["Image"], []).append((c.id, c.running))
        sizes: dict[str, int] = {}
        for chain_id in store.layers.ids():
            try:
                sizes[chain_id] = store.layers.size(chain_id)
            except (DockerlabError, ValueError):
                sizes[chain_id] = 0
        records: list[dict[str, str]] = []
        progress = True
        while progress:  # with --all, a parent is unused once its children are gone
            progress = False
            index = store._index()
            parents = {e["parent"] for e in index if e["parent"]}
            for e in index:
                image_id = e["id"]
                if image_id in used or image_id in parents:
                    continue
                if not all and store._refs_of(image_id):
                    continue
                try:
                    records += store.remove(image_id, force=False, used_by=used)
                except DockerlabError:  # in use, a child, several tags: kept
                    continue
                progress = all
        space = sum(sizes.get(r["Deleted"], 0) for r in records if "Deleted" in r)
        return {"ImagesDeleted": records or None, "SpaceReclaimed": space}

    def volume_prune(self) -> dict[str, Any]:
        """``POST /volumes/prune``: every volume no container mounts."""
        from dockerlab.engine.containers.volumes import VolumeStore

        used = self._volumes_in_use()
        store = VolumeStore(self.paths)
        deleted, space = [], 0
        for v in store.list():
            if v["Name"] in used:
                continue
            size = tree_size(v["Mountpoint"])
            try:
                store.remove(v["Name"], [], False)
            except DockerlabError:
                continue
            deleted.append(v["Name"])
            space += size
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": space}

    def interrupted_work(self) -> list[dict[str, Any]]:
        """What killed verbs left and no locked verb has removed yet (as ``system df``)."""
        from dockerlab.engine import work

        found = [e for e in work.entries(self.paths) if not e["InProgress"]]
        return found + self.image_store.collect_garbage(dry_run=True)

    def work_prune(self, found: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """What killed verbs left (scratch folders and files, frozen containers, a dead
        build's containers, unreferenced blobs and layers), removed now. ``found``: what
        :meth:`interrupted_work` said before other verbs (which sweep too) ran."""

        store = self.image_store
        found = self.interrupted_work() if found is None else found
        with self.store.registry():
            self.store.sweep(everything=True)
        with store._locked():
            store.collect_garbage()
        removed = [e for e in found if not os.path.lexists(e["Path"])]
        return {"WorkDeleted": removed or None, "SpaceReclaimed": sum(r["Size"] for r in removed)}

    def system_prune(self, all: bool = False, volumes: bool = False) -> dict[str, Any]:
        """``docker system prune``: stopped containers, (unused volumes,) dangling or unused
        images, and interrupted work; ``SpaceReclaimed`` sums them."""
        found = self.interrupted_work()  # before the other prunes sweep part of it
        out: dict[str, Any] = dict(self.prune())
        space = out["SpaceReclaimed"]
        parts = [self.volume_prune()] if volumes else []
        parts += [self.image_prune(all), self.work_prune(found)]
        for part in parts:
            space += part.pop("SpaceReclaimed")
            out.update(part)
        out["SpaceReclaimed"] = space
        return out

    # ---- containers: output and resources -------------------------------------------------
    def logs(
        self,
        ref: str,
        follow: bool = False,
        timestamps: bool = False,
        tail: int | None = None,
        since: float | None = None,
        stdout: bool = True,
        stderr: bool = True,
        until: float | None = None,
    ) -> Iterator[LogEntry]:
        from dockerlab.engine.containers.logs import read_logs

        c = self.store.find(ref)
        return read_logs(
            c, follow=follow, tail=tail, since=since, stdout=stdout, stderr=stderr, until=until
        )

    def top(self, ref: str, ps_args: str = "-ef") -> dict[str, Any]:
        from dockerlab.engine.containers.stats import top

        c = self.store.find(ref)
        c.ensure_state("top")
        return top(c.cgroup().pids(), ps_args)

    def stats(self, ref: str, previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """One Docker stats sample; ``previous`` (an earlier sample) fills ``precpu_stats``."""
        from dockerlab.engine.containers.stats import sample

        c = self.store.find(ref)
        return sample(c, previous)

    # ---- exec -----------------------------------------------------------------------------
    def exec(
        self,
        ref: str,
        cmd: list[str],
        env: list[str] | None = None,
        workdir: str = "",
        user: str = "",
        tty: bool = False,
        detach: bool = False,
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        own_terminal: bool = False,
        privileged: bool = False,
    ) -> subprocess.Popen[bytes] | None:
        """Run ``cmd`` in a running container; returns a ``subprocess.Popen`` of the helper
        (its exit code is the command's), or None with ``detach``. ``own_terminal`` says
        that stdin is a pseudo-terminal the caller made for this command alone: the helper makes
        it its controlling terminal (its resizes reach the command's) and puts it in raw mode;
        the command has a terminal of the container's, where Ctrl-C and job control work."""
        from dockerlab.engine.containers.execs import spawn_exec

        c = self.store.find(ref)
        c.ensure_state("exec")
        return spawn_exec(
            c,
            cmd,
            env or [],
            workdir,
            user,
            tty,
            detach,
            stdin,
            stdout,
            stderr,
            own_terminal,
            privileged,
        )

    # ---- layers: diff, commit, export, import, inspection ----------------------------------
    def diff(self, ref: str) -> list[dict[str, Any]]:
        """``GET /containers/{id}/changes``: ``[{"Path", "Kind"}]`` sorted by path,
        Kind 0 = C (changed), 1 = A (added), 2 = D (deleted)."""
        from dockerlab.engine.images import changes

        self.store.find(ref).ensure_state("diff")
        return changes.diff(self.store, ref)

    def commit(
        self,
        ref: str,
        repo_tag: str | None = None,
        message: str = "",
        author: str = "",
        changes: list[str] | None = None,
        pause: bool = True,
    ) -> str:
        """A new image from the container's writable layer; returns ``sha256:<id>``."""
        from dockerlab.engine.images import commit as committing

        return committing.commit(
            self.store, self.image_store, ref, repo_tag, message, author, changes, pause
        )

    def export(self, ref: str, fileobj: Any) -> None:
        """Write the container's merged filesystem to ``fileobj`` as one flat tar."""
        from dockerlab.engine.images import export as exporting

        self.store.find(ref).ensure_state("export")
        exporting.export(self.store, ref, fileobj)

    def import_image(
        self,
        fileobj: Any,
        repo_tag: str | None = None,
        changes: list[str] | None = None,
        message: str = "",
        source: str = "-",
    ) -> str:
        """A one-layer image from a tar (plain or compressed); returns ``sha256:<id>``."""
        from dockerlab.engine.images import commit as committing

        return committing.import_image(
            self.image_store, fileobj, repo_tag, changes, message, source
        )

    def image_layers(self, ref: str) -> list[dict[str, Any]]:
        """History entries matched to layers, oldest first: ``Index`` (0 = base), ``Id``
        (diff ID, "" for an empty layer), ``Size``, ``CreatedBy``, ``EmptyLayer``."""
        from dockerlab.engine.images import changes

        return changes.image_layers(self.image_store, ref)

    def layer_files(self, ref: str, index: int, cumulative: bool = False) -> list[dict[str, Any]]:
        """What history entry ``index`` changed (``Kind`` A/C/D), or with ``cumulative``
        the whole tree up to it (``Kind`` as that path's last change, ``Layer`` where)."""
        from dockerlab.engine.images import changes

        return changes.layer_files(self.image_store, ref, index, cumulative)

    def file_at_layer(self, ref: str, index: int, path: str) -> bytes | None:
        """The content of ``path`` as the image is at entry ``index``; None if absent or not
        a regular file."""
        from dockerlab.engine.images import changes

        return changes.file_at_layer(self.image_store, ref, index, path)

    def file_history(self, ref: str, path: str) -> list[dict[str, Any]]:
        """Which layers touched ``path``: ``[{"Index", "Kind", "Size"}]``, oldest first."""
        from dockerlab.engine.images import changes

        return changes.file_history(self.image_store, ref, path)

    # ---- images: save, load; cp; system df ----------------------------------------------
    def save(self, refs: list[str], fileobj: Any) -> None:
        """``docker save``: the images ``refs`` as one archive (OCI layout + manifest.json +
        repositories, Docker 25's format) written to the binary ``fileobj``."""
        from dockerlab.engine.images import saveload

        saveload.save(self.image_store, list(refs), fileobj)

    def load(self, fileobj: Any) -> list[str]:
        """``docker load``: every image of a docker-save or OCI-layout archive; returns the
        "Loaded image" subjects (``busybox:latest``, or ``sha256:…`` when untagged)."""
        from dockerlab.engine.images import saveload

        return saveload.load(self.image_store, fileobj)

    def copy_from(
        self, ref: str, path: str, fileobj: Any, follow_link: bool = False
    ) -> dict[str, Any]:
        """``GET /containers/{id}/archive``: a tar of ``path`` to ``fileobj``; returns
        its :meth:`path_stat`."""
        from dockerlab.engine.containers import copy

        self.store.find(ref).ensure_state("copy from")
        return copy.copy_from(self.store, ref, path, fileobj, follow_link)

    def path_stat(self, ref: str, path: str) -> dict[str, Any]:
        """``HEAD /containers/{id}/archive``: ``name``, ``size``, ``mode`` (Go FileMode),
        ``mtime``, ``linkTarget``."""
        from dockerlab.engine.containers import copy

        self.store.find(ref).ensure_state("stat a path in")
        return copy.path_stat(self.store, ref, path)

    def copy_to(self, ref: str, path: str, tar_fileobj: Any, copy_uid_gid: bool = False) -> None:
        """``PUT /containers/{id}/archive``: extract a tar into the folder ``path``."""
        from dockerlab.engine.containers import copy

        self.store.find(ref).ensure_state("copy to")
        copy.copy_to(self.store, ref, path, tar_fileobj, copy_uid_gid)

    def system_df(self) -> dict[str, Any]:
        """``GET /system/df``: LayersSize, Images, Containers, Volumes, BuildCache, and
        dockerlab's InterruptedWork (what running or killed commands hold in scratch space,
        and blobs or layers nothing references)."""
        from dockerlab.engine import df

        return df.system_df(self.image_store, self._refreshed())

    # ---- build ----------------------------------------------------------------------------
    def build(
        self,
        context: Any,
        dockerfile: str = "Dockerfile",
        tags: Any = (),
        build_args: dict[str, str | None] | None = None,
        no_cache: bool = False,
        target: str | None = None,
        labels: dict[str, str] | None = None,
        quiet: bool = False,
        rm: bool = True,
        force_rm: bool = False,
    ) -> Iterator[Any]:
        """``docker build`` (classic builder): yields :class:`~dockerlab.engine.build.BuildEvent`
        as the build goes, the last ``"aux"`` one carrying the image ID.

        ``context`` is a folder, or the bytes (or a binary file) of a tar or of a bare
        Dockerfile; ``dockerfile`` is relative to the context (or an absolute host path).
        A failing step raises :class:`~dockerlab.engine.build.BuildFailed`.
        """
        from dockerlab.engine.build import build

        require_privileges()
        return build(
            self,
            context,
            dockerfile,
            tags,
            build_args,
            no_cache,
            target,
            labels,
            quiet,
            rm,
            force_rm,
        )

    # ---- volumes --------------------------------------------------------------------------
    def volume_create(
        self, name: str | None = None, labels: dict[str, str] | None = None
    ) -> dict[str, Any]:
        from dockerlab.engine.containers.volumes import VolumeStore

        return VolumeStore(self.paths).create(name, labels)

    def volumes(self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """``GET /volumes``; ``filters`` as :func:`~dockerlab.engine.filters.filter_volumes`."""
        from dockerlab.engine.containers.volumes import VolumeStore
        from dockerlab.engine.filters import filter_volumes

        found = VolumeStore(self.paths).list()
        return filter_volumes(found, filters or {}, self._volumes_in_use()) if filters else found

    def _volumes_in_use(self) -> set[str]:
        return {
            m["Name"]
            for c in self.store.all()
            for m in c.config.get("MountPoints", [])
            if m.get("Type") == "volume" and m.get("Name")
        }

    def volume_inspect(self, name: str) -> dict[str, Any]:
        from dockerlab.engine.containers.volumes import VolumeStore

        return VolumeStore(self.paths).inspect(name)

    def volume_remove(self, name: str, force: bool = False) -> None:
        from dockerlab.engine.containers.volumes import VolumeStore

        users = [
            c.id
            for c in self.store.all()
            if any(m.get("Name") == name for m in c.config.get("MountPoints", []))
        ]
        VolumeStore(self.paths).remove(name, users, force)
