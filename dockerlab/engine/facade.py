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
from collections.abc import Callable, Iterator
from functools import partial

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
    from typing import Any

    from dockerlab.engine.containers.logs import LogEntry
    from dockerlab.engine.images.store import ImageStore

__all__ = ["Engine", "parse_signal", "require_privileges"]  # the last two: from .checks


def _created(value: str) -> float:
    """A container's ``Created`` (RFC 3339) as Unix seconds."""
    from dockerlab.format.units import parse_rfc3339

    try:
        return parse_rfc3339(value)
    except ValueError:
        return 0.0


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
        # credentials a caller gives for this engine's registry operations, by registry
        # (the API's X-Registry-Config of a build), before the stored ones
        self.registry_auth: dict[str, tuple[str, str]] = {}
        self.revive()  # after a reboot of the host; two small reads otherwise

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

    def events(
        self,
        since: str | float | None = None,
        until: str | float | None = None,
        filters: dict[str, list[str]] | None = None,
        ticks: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """``GET /events``: Docker's EventMessage dicts from the journal. ``since``/``until``
        as the API takes them (``"1700000000.5"``, or seconds as a number): the events
        between them (only when one is given), then the new ones as they happen until
        ``until`` passes (forever without it; close the iterator to stop). ``filters`` as
        the API's (``container``, ``event``, ``image``, ``label``, ``type``, ``volume`` …).
        ``ticks``: None comes at least once a second while it waits (for a server, to
        notice a client that went away; see :func:`~dockerlab.engine.events.stream_ticking`)."""
        from dockerlab.engine import events

        if ticks:
            return events.stream_ticking(self.paths, since, until, filters)
        return events.stream(self.paths, since, until, filters)

    def info(self) -> dict[str, Any]:
        from dockerlab.engine import system

        states = [c.state["Status"] for c in self._refreshed()]
        out = system.info(self.paths, states, len(self.image_store.list(all=False)))
        out["RegistryConfig"] = system.registry_config(self.registry_settings())
        return out

    # ---- images -------------------------------------------------------------------------
    def images(
        self,
        all: bool = False,
        filters: dict[str, list[str]] | None = None,
        shared_size: bool = False,
    ) -> list[dict[str, Any]]:
        """``GET /images/json``; ``filters`` as :func:`~dockerlab.engine.filters.filter_images`.
        ``shared_size``: ``SharedSize`` is the size of the layers other images use too
        (else -1, as Docker's)."""
        from dockerlab.engine.filters import filter_images
        from dockerlab.engine.images.store import parse_time

        store = self.image_store

        def created_of(ref: str) -> float:  # before=/since= may name any image, listed or not
            return int(parse_time(store.config(store.resolve(ref)).get("created")))

        listed = filter_images(store.list(all=all), filters or {}, created_of)
        if shared_size:
            chains: dict[str, list[str]] = {}
            for e in store._index():
                try:
                    chains[e["id"]] = store._chain(e["id"])
                except DockerlabError:
                    chains[e["id"]] = []
            users: dict[str, int] = {}
            for chain in chains.values():
                for layer in set(chain):
                    users[layer] = users.get(layer, 0) + 1
            sizes: dict[str, int] = {}
            for image in listed:
                shared = 0
                for layer in set(chains.get(image["Id"], [])):
                    if users.get(layer, 0) > 1:
                        if layer not in sizes:
                            try:
                                sizes[layer] = store.layers.size(layer)
                            except (DockerlabError, ValueError):
                                sizes[layer] = 0
                        shared += sizes[layer]
                image["SharedSize"] = shared
        return listed

    def image_inspect(self, ref: str) -> dict[str, Any]:
        return self.image_store.inspect(ref)

    def image_history(self, ref: str) -> list[dict[str, Any]]:
        return self.image_store.history(ref)

    def image_remove(self, ref: str, force: bool = False) -> list[dict[str, str]]:
        used: dict[str, list[tuple[str, bool]]] = {}
        for c in self._refreshed():
            used.setdefault(c.config["Image"], []).append((c.id, c.running))
        return self._removing_image(ref, lambda: self.image_store.remove(ref, force, used))

    def _removing_image(
        self, ref: str, remove: Callable[[], list[dict[str, str]]]
    ) -> list[dict[str, str]]:
        """Run ``remove`` (of the image ``ref``) and journal its ``untag`` and ``delete``
        events, in the order of its records (layers deleted are not events)."""
        store = self.image_store
        image_id = store.resolve(ref)
        images = {e["id"] for e in store._index()}
        labels: dict[str, str] | None = None
        try:
            labels = (store.config(image_id).get("config") or {}).get("Labels")
        except DockerlabError:
            pass
        records = remove()
        from dockerlab.engine import events

        for r in records:
            if "Untagged" in r:
                events.image(self.paths, image_id, "untag", labels=labels)
            elif r.get("Deleted") in images:
                events.image(self.paths, r["Deleted"], "delete")
        return records

    def image_tag(self, ref: str, target: str) -> None:
        self.image_store.tag(ref, target)

    def image_bootstrap(
        self, name: str = "busybox", progress: Callable[[str, bool], None] | None = None
    ) -> str:
        """An image made offline (dockerlab's own): ``busybox`` from the host's static
        busybox; ``debian[:SUITE]``/``ubuntu[:SUITE]`` with debootstrap from the host's apt
        mirror; the course's ``web`` and ``db`` built from busybox. ``progress(text,
        transient)`` gets what a terminal shows meanwhile. Returns the image ID."""
        from dockerlab.engine.images import distro, labimages

        kind = name.partition(":")[0]
        if kind in distro.DISTROS:
            require_privileges()
            return distro.bootstrap_distro(self.image_store, name, progress)
        if name in labimages.LAB_IMAGES:
            return labimages.bootstrap_lab_image(self, name, progress)
        if name != "busybox":
            raise InvalidParameter(
                f"cannot bootstrap {name!r}: dockerlab makes busybox, debian, ubuntu, web "
                "and db offline"
            )
        from dockerlab.engine.images.bootstrap import bootstrap_busybox

        return bootstrap_busybox(self.image_store)

    def lab_registry(self) -> Any:
        """The lab registry of this state root (dockerlab's own: ``registry start|stop|status``),
        a :class:`~dockerlab.engine.registry.lab.LabRegistry`."""
        from dockerlab.engine.registry.lab import LabRegistry

        return LabRegistry(self.paths)

    # ---- registries: pull, push, login, search (issue 11) --------------------------------
    def registry_settings(self) -> Any:
        """Mirrors and insecure registries (:class:`~dockerlab.engine.registry.client.Settings`)."""
        from dockerlab.engine.registry.client import Settings

        settings = Settings.load(self.paths.root)
        settings.auth.update(self.registry_auth)
        return settings

    def _settings_with(self, domain: str, auth: tuple[str, str] | None) -> Any:
        settings = self.registry_settings()
        if auth is not None:
            settings.auth[domain] = auth
        return settings

    def pull(
        self,
        name: str,
        result: Any = None,
        all_tags: bool = False,
        platform: str = "",
        auth: tuple[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """``docker pull``: Docker's progress messages; ``result`` (a
        :class:`~dockerlab.engine.registry.pull.Result`) is filled with the image ID and
        the reference printed last. ``all_tags``: every tag of the repository ``name``.
        ``auth``: (user, password) for the registry instead of the stored ones."""
        from dockerlab.engine.images import reference as refs
        from dockerlab.engine.registry import pull as pulling

        result = result if result is not None else pulling.Result()
        if all_tags:
            ref = refs.parse(name)
            if ref.tag is not None or ref.digest is not None:
                raise InvalidParameter("tag can't be used with --all-tags/-a")
            settings = self._settings_with(ref.domain, auth)
            yield from pulling.pull_all_tags(self.image_store, ref, settings, result)
            return
        ref = refs.parse_tagged(name)
        want = pulling.parse_platform(platform) if platform else None
        settings = self._settings_with(ref.domain, auth)
        yield from pulling.pull(self.image_store, ref, settings, result, want)
        self.image_store.event(result.image_id, "pull", ref.familiar())

    def distribution_inspect(
        self, name: str, auth: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """``GET /distribution/{name}/json``: ``Descriptor`` (the manifest's media type,
        digest, size) and ``Platforms``, asked of the registry; nothing is pulled."""
        from dockerlab.engine.images import reference as refs
        from dockerlab.engine.registry import pull as pulling

        ref = refs.parse_tagged(name)
        return pulling.describe(ref, self._settings_with(ref.domain, auth))

    def push(
        self, name: str, result: Any = None, auth: tuple[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """``docker push`` of one tag: Docker's progress messages, the last one the
        ``TAG: digest: … size: …`` line. ``auth`` as :meth:`pull`'s."""
        from dockerlab.engine.images import reference as refs
        from dockerlab.engine.registry import push as pushing

        ref = refs.parse_tagged(name)
        settings = self._settings_with(ref.domain, auth)
        yield from pushing.push(self.image_store, ref, settings, result)
        self.image_store.event(self.image_store.resolve(str(ref)), "push", ref.familiar())

    def push_tags(self, name: str) -> list[str]:
        """The tags ``push --all-tags`` pushes for the repository ``name``."""
        from dockerlab.engine.images import reference as refs
        from dockerlab.engine.registry import push as pushing

        return [str(r) for r in pushing.tags_of(self.image_store, refs.parse(name))]

    def login(
        self, server: str, user: str, password: str, store: bool = True
    ) -> tuple[str, str, bool]:
        """``docker login``: checks then stores the credentials; returns (server, config
        path, stored in plain text). Without ``store`` only the check (the API's
        ``POST /auth``: the client keeps the credentials): ``(server, "", False)``."""
        from dockerlab.engine.registry import credentials, search

        domain = search.login(server, user, password, self.registry_settings())
        if not store:
            return domain, "", False
        path, plain = credentials.store(domain, user, password)
        return domain, path, plain

    def logout(self, server: str) -> str:
        """``docker logout``: forget the stored credentials; returns the server's name."""
        from dockerlab.engine.registry import credentials, search

        domain = search.normalise_server(server)
        credentials.erase(domain)
        return credentials.server_key(domain) if domain == "docker.io" else domain

    def search(
        self, term: str, limit: int = 25, filters: dict[str, list[str]] | None = None
    ) -> list[dict[str, Any]]:
        """``docker search`` (on a Distribution registry: its catalog, dockerlab's extension).
        ``filters`` as the API's: ``stars``, ``is-official``, ``is-automated``."""
        from dockerlab.engine.registry import search

        wanted: dict[str, int | bool] = {}
        for key, values in (filters or {}).items():
            for value in values:
                if key == "stars":
                    try:
                        wanted[key] = max(int(value), int(wanted.get(key, 0)))
                    except ValueError:
                        raise InvalidParameter(f"invalid filter 'stars={value}'") from None
                elif key in ("is-official", "is-automated"):
                    if value not in ("true", "false"):
                        raise InvalidParameter(f"invalid filter '{key}={value}'")
                    wanted[key] = value == "true"
                else:
                    raise InvalidParameter(f"invalid filter '{key}'")
        found = search.search(term, self.registry_settings(), limit)
        return [
            r
            for r in found
            if int(r.get("star_count") or 0) >= int(wanted.get("stars", 0))
            and wanted.get("is-official", bool(r.get("is_official"))) == bool(r.get("is_official"))
            and wanted.get("is-automated", bool(r.get("is_automated")))
            == bool(r.get("is_automated"))
        ]

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

    def start(self, ref: str, attach: str = "", not_modified: bool = False) -> Attachment | None:
        """Start ``ref``; with ``attach`` (e.g. ``"ioe"``) return an attachment that sees
        everything from the first byte. Starting a running container does nothing (with
        ``not_modified``: raises NotModified, the API's 304)."""
        return lifecycle.start(self.store, ref, attach, not_modified)

    def run(
        self,
        body: dict[str, Any],
        name: str | None = None,
        attach: str = "oe",
        created: Callable[[str], None] | None = None,
        warnings: list[str] | None = None,
    ) -> tuple[str, Attachment | None]:
        """``create`` + ``start``; returns the ID and the attachment (if ``attach``).
        ``created`` is told the ID before the start (the CLI's ``--cidfile``); create's
        warnings are added to ``warnings``."""
        result = self.create(body, name)
        cid = result["Id"]
        if warnings is not None:
            warnings += result.get("Warnings") or []
        if created is not None:
            created(cid)
        try:
            return cid, self.start(cid, attach)
        except DockerlabError:
            if (body.get("HostConfig") or {}).get("AutoRemove"):
                lifecycle.discard(self.store, cid)
            raise

    def attach(self, ref: str, stdin: bool = False) -> Attachment:
        return lifecycle.attach(self.store, ref, stdin)

    def resize(self, ref: str, height: int, width: int) -> None:
        """``POST /containers/{id}/resize``: the container's terminal to ``height`` rows and
        ``width`` columns (one without a TTY ignores it, as Docker's)."""
        lifecycle.resize(self.store, ref, height, width)

    # ---- containers: listing and looking --------------------------------------------------
    def _refreshed(self) -> list[Container]:
        return lifecycle.refreshed(self.store)

    def containers(
        self,
        all: bool = False,
        filters: dict[str, list[str]] | None = None,
        limit: int = -1,
        size: bool = False,
    ) -> list[dict[str, Any]]:
        """``GET /containers/json``; ``filters`` as
        :func:`~dockerlab.engine.filters.select_containers`; ``size`` adds ``SizeRw`` and
        ``SizeRootFs`` (the writable layer, and it with the image's layers)."""
        from dockerlab.engine.containers import records
        from dockerlab.engine.filters import select_containers

        items = sorted(self._refreshed(), key=lambda c: c.config["Created"], reverse=True)
        chosen = select_containers(items, filters or {}, all, limit, self.image_store)
        out = [records.summary(c, self.image_store) for c in chosen]
        if size:
            for c, rec in zip(chosen, out):
                rec.update(self._sizes(c))
        return out

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        """``GET /containers/{id}/json``; ``size`` adds ``SizeRw`` and ``SizeRootFs``."""
        from dockerlab.engine.containers import records

        c = self.store.find(ref)
        rec = records.inspect(c)
        if size:
            rec.update(self._sizes(c))
        return rec

    def _sizes(self, c: Container) -> dict[str, int]:
        """``SizeRw`` (the writable layer) and ``SizeRootFs`` (it with the image's layers)."""
        from dockerlab.engine.storage import usage

        rw = usage.rw_size(c)  # (vfs: what it changed in its copy)
        try:
            root = rw + self.image_store.size(c.config["Image"])
        except DockerlabError:  # its image is gone or corrupt
            root = rw
        return {"SizeRw": rw, "SizeRootFs": root}

    def container_ids(self) -> list[str]:
        return self.store.ids()

    # ---- containers: state changes (lifecycle.py) -----------------------------------------
    def kill(self, ref: str, signal: str | int = "KILL") -> None:
        lifecycle.kill(self.store, ref, signal)

    def stop(
        self,
        ref: str,
        timeout: int | None = None,
        signal: str | None = None,
        not_modified: bool = False,
    ) -> None:
        """Stopping a stopped container does nothing (with ``not_modified``: raises
        NotModified, the API's 304)."""
        lifecycle.stop(self.store, ref, timeout, signal, not_modified)

    def pause(self, ref: str) -> None:
        lifecycle.pause(self.store, ref)

    def unpause(self, ref: str) -> None:
        lifecycle.unpause(self.store, ref)

    def restart(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        lifecycle.restart(self.store, ref, timeout, signal)

    def update(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /containers/{id}/update``: limits and restart policy (Docker's UpdateConfig),
        live on a running container, recorded for its next start otherwise."""
        from dockerlab.engine.containers import update

        return update.update(self.store, ref, body)

    def revive(self) -> list[str]:
        """Once per boot of the host, start the containers Docker's daemon restarts when it
        starts (restart policies ``always``, ``unless-stopped``, ``on-failure``); every
        Engine does it when made, and so will ``dockerlab daemon`` at its start. Returns
        the IDs started (see :func:`~dockerlab.engine.containers.lifecycle.revive`)."""
        return lifecycle.revive(self.store)

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        lifecycle.remove(self.store, ref, force, volumes)

    def rename(self, ref: str, new_name: str) -> None:
        lifecycle.rename(self.store, ref, new_name)

    def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        return lifecycle.wait(self.store, ref, condition)

    def waiter(self, ref: str, condition: str = "not-running") -> Any:
        """``POST /containers/{id}/wait``'s two halves: the returned
        :class:`~dockerlab.engine.containers.waiting.Waiter` watches from now on (make it
        before the client may start the container); its ``wait(cancelled)`` blocks until
        ``condition`` (``not-running``, ``next-exit``, ``removed``) holds."""
        from dockerlab.engine.containers.waiting import Waiter

        return Waiter(self.store, ref, condition)

    def prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """``POST /containers/prune``: stopped containers; ``filters``: ``until``,
        ``label``, ``label!`` (:func:`~dockerlab.engine.filters.prune_matcher`)."""
        from dockerlab.engine.filters import CONTAINER_PRUNE_FILTERS, prune_matcher

        match = prune_matcher(filters or {}, CONTAINER_PRUNE_FILTERS)
        return lifecycle.prune(
            self.store,
            lambda c: match(c.config["Config"].get("Labels"), _created(c.config["Created"])),
        )

    # ---- prunes ---------------------------------------------------------------------------
    def image_prune(
        self, all: bool = False, filters: dict[str, list[str]] | None = None
    ) -> dict[str, Any]:
        """``POST /images/prune``: dangling images (untagged, no child), or with ``all``
        (or ``dangling=false``) every image no container uses; untagged parents go with
        their last child. ``filters``: ``until``, ``label``, ``label!``, ``dangling``."""
        from dockerlab.engine.filters import IMAGE_PRUNE_FILTERS, dangling_only, prune_matcher
        from dockerlab.engine.images.store import parse_time

        filters = filters or {}
        match = prune_matcher(filters, IMAGE_PRUNE_FILTERS)
        all = all or not dangling_only(filters)
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
                if filters:
                    try:
                        config = store.config(image_id)
                    except DockerlabError:
                        continue
                    labels = (config.get("config") or {}).get("Labels")
                    if not match(labels, parse_time(config.get("created"))):
                        continue
                # as Docker's prune: by each of its references (the last untag deletes it)
                for ref in store._refs_of(image_id) or [image_id]:
                    try:
                        removal = partial(store.remove, ref, force=False, used_by=used)
                        records += self._removing_image(ref, removal)
                    except DockerlabError:  # in use, a child: kept
                        break
                else:
                    progress = all
        space = sum(sizes.get(r["Deleted"], 0) for r in records if "Deleted" in r)
        self._prune_event("image", space)
        return {"ImagesDeleted": records or None, "SpaceReclaimed": space}

    def _prune_event(self, kind: str, space: int) -> None:
        from dockerlab.engine import events

        events.append(self.paths.root, kind, "prune", "", {"reclaimed": str(space)})

    def volume_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """``POST /volumes/prune``: every volume no container mounts (named ones too, as
        Docker 20.10); ``filters``: ``label``, ``label!``."""
        from dockerlab.engine.containers.volumes import VolumeStore
        from dockerlab.engine.filters import VOLUME_PRUNE_FILTERS, prune_matcher

        match = prune_matcher(filters or {}, VOLUME_PRUNE_FILTERS)
        used = self._volumes_in_use()
        store = VolumeStore(self.paths)
        deleted, space = [], 0
        for v in store.list():
            if v["Name"] in used or not match(v.get("Labels"), 0.0):
                continue
            size = tree_size(v["Mountpoint"])
            try:
                store.remove(v["Name"], [], False)
            except DockerlabError:
                continue
            deleted.append(v["Name"])
            space += size
        self._prune_event("volume", space)
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

    def system_prune(
        self, all: bool = False, volumes: bool = False, filters: dict[str, list[str]] | None = None
    ) -> dict[str, Any]:
        """``docker system prune``: stopped containers, (unused volumes,) dangling or unused
        images, and interrupted work; ``SpaceReclaimed`` sums them. ``filters`` go to each
        prune, as Docker's CLI sends them (so ``until`` with ``volumes`` is refused)."""
        from dockerlab.engine.filters import (
            CONTAINER_PRUNE_FILTERS,
            IMAGE_PRUNE_FILTERS,
            VOLUME_PRUNE_FILTERS,
            check_filters,
        )

        filters = filters or {}
        check_filters(filters, CONTAINER_PRUNE_FILTERS)  # before anything is removed
        check_filters(filters, IMAGE_PRUNE_FILTERS)
        if volumes:
            check_filters(filters, VOLUME_PRUNE_FILTERS)
        found = self.interrupted_work()  # before the other prunes sweep part of it
        out: dict[str, Any] = dict(self.prune(filters))
        out["NetworksDeleted"] = self.network_prune(filters)["NetworksDeleted"]  # (Docker's order)
        space = out["SpaceReclaimed"]
        parts = [self.volume_prune(filters)] if volumes else []
        parts += [self.image_prune(all, filters), self.work_prune(found)]
        for part in parts:
            space += part.pop("SpaceReclaimed")
            out.update(part)
        out["SpaceReclaimed"] = space
        return out

    # ---- networks (user-defined bridge networks; engine/network/networks.py) ----------------
    def network_create(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /networks/create`` (the bridge driver): ``{"Id", "Warning"}``."""
        from dockerlab.engine.network import networks

        require_privileges()
        configs = (body.get("IPAM") or {}).get("Config") or [{}]
        if len(configs) > 1:  # (the API can ask for more than the CLI's one --subnet)
            raise InvalidParameter("dockerlab networks have one IPv4 subnet (one --subnet)")
        if body.get("EnableIPv6"):
            raise InvalidParameter("dockerlab networks are IPv4 only (no --ipv6)")
        ipam_cfg = configs[0] or {}
        rec = networks.create(
            self.paths,
            body.get("Name") or "",
            body.get("Driver") or "bridge",
            ipam_cfg.get("Subnet") or "",
            ipam_cfg.get("Gateway") or "",
            ipam_cfg.get("IPRange") or "",
            body.get("Labels"),
            body.get("Options"),
            bool(body.get("Internal")),
        )
        return {"Id": rec["Id"], "Warning": ""}

    def networks(self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """``GET /networks``: Docker's documents, sorted by name."""
        from dockerlab.engine.network import networks

        docs = [
            networks.inspect(self.paths, r, self.store.all())
            for r in networks.all_records(self.paths)
        ]
        return networks.filter_networks(docs, filters or {})

    def network_inspect(self, ref: str) -> dict[str, Any]:
        from dockerlab.engine.network import networks

        return networks.inspect(self.paths, networks.find(self.paths, ref), self.store.all())

    def network_remove(self, ref: str) -> str:
        from dockerlab.engine.network import networks

        require_privileges()
        return networks.remove(self.paths, ref)

    def network_connect(
        self, ref: str, container: str, aliases: list[str] | None = None, ip: str = ""
    ) -> None:
        from dockerlab.engine.network import networks

        require_privileges()
        networks.connect(self.store, ref, container, aliases, ip)

    def network_disconnect(self, ref: str, container: str, force: bool = False) -> None:
        from dockerlab.engine.network import networks

        require_privileges()
        networks.disconnect(self.store, ref, container, force)

    def network_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """``POST /networks/prune``: ``{"NetworksDeleted": [...]}``."""
        from dockerlab.engine.network import networks

        require_privileges()
        return {"NetworksDeleted": networks.prune(self.store, filters)}

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
        cancelled: Callable[[], bool] | None = None,
    ) -> Iterator[LogEntry]:
        """``cancelled``: asked while following; true ends the iterator (its reader left)."""
        from dockerlab.engine.containers.logs import read_logs

        c = self.store.find(ref)
        return read_logs(
            c,
            follow=follow,
            tail=tail,
            since=since,
            stdout=stdout,
            stderr=stderr,
            until=until,
            cancelled=cancelled,
        )

    def top(self, ref: str, ps_args: str = "-ef") -> dict[str, Any]:
        from dockerlab.engine.containers.stats import top

        c = self.store.find(ref)
        c.ensure_state("top")
        result = top(c.cgroup().pids(), ps_args)
        self._event(c, "top")
        return result

    def _event(self, c: Container, action: str, extra: dict[str, str] | None = None) -> None:
        from dockerlab.engine import events

        events.container(self.paths, c.config, action, extra)

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
        from dockerlab.engine.events import container_attributes

        c = self.store.find(ref)
        c.ensure_state("exec")
        exec_id = os.urandom(32).hex()
        what = " ".join(cmd[:1]) + " " + " ".join(cmd[1:])  # Docker's: entrypoint, args
        self._event(c, f"exec_create: {what}", {"execID": exec_id})
        self._event(c, f"exec_start: {what}", {"execID": exec_id})
        # the helper tells exec_die when the command ends (detached or not)
        journal = {
            "root": self.paths.root,
            "id": c.id,
            "attrs": container_attributes(c.config, {"execID": exec_id}),
        }
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
            journal,
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
        config: dict[str, Any] | None = None,
    ) -> str:
        """A new image from the container's writable layer; returns ``sha256:<id>``.
        ``config``: a ``Config`` the changes apply to (the API's commit body), whose set
        fields override the container's."""
        from dockerlab.engine.images import commit as committing
        from dockerlab.engine.images import reference as refs

        c = self.store.find(ref)
        image_id = committing.commit(
            self.store, self.image_store, ref, repo_tag, message, author, changes, pause, config
        )
        image_ref = refs.parse_tagged(repo_tag).familiar() if repo_tag else ""
        attrs = {"comment": message, "imageID": image_id, "imageRef": image_ref}
        self._event(c, "commit", attrs)
        return image_id

    def export(self, ref: str, fileobj: Any) -> None:
        """Write the container's merged filesystem to ``fileobj`` as one flat tar."""
        from dockerlab.engine.images import export as exporting

        c = self.store.find(ref)
        c.ensure_state("export")
        self._event(c, "export")  # before the stream, as Docker's
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

        image_id = committing.import_image(
            self.image_store, fileobj, repo_tag, changes, message, source
        )
        self.image_store.event(image_id, "import")
        return image_id

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
        for image_id in dict.fromkeys(self.image_store.resolve(r) for r in refs):
            self.image_store.event(image_id, "save")

    def load(self, fileobj: Any) -> list[str]:
        """``docker load``: every image of a docker-save or OCI-layout archive; returns the
        "Loaded image" subjects (``busybox:latest``, or ``sha256:…`` when untagged)."""
        from dockerlab.engine.images import saveload

        subjects = saveload.load(self.image_store, fileobj)
        for image_id in dict.fromkeys(self.image_store.resolve(s) for s in subjects):
            self.image_store.event(image_id, "load")
        return subjects

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

    def copy_to(
        self,
        ref: str,
        path: str,
        tar_fileobj: Any,
        copy_uid_gid: bool = False,
        no_overwrite_dir_non_dir: bool = True,
    ) -> None:
        """``PUT /containers/{id}/archive``: extract a tar into the folder ``path``;
        ``no_overwrite_dir_non_dir`` refuses to replace a folder by a file or the reverse
        (the docker CLI asks for it; the API's default is False)."""
        from dockerlab.engine.containers import copy

        self.store.find(ref).ensure_state("copy to")
        copy.copy_to(self.store, ref, path, tar_fileobj, copy_uid_gid, no_overwrite_dir_non_dir)

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
        pull: bool = False,
        host_config: dict[str, Any] | None = None,
    ) -> Iterator[Any]:
        """``docker build`` (classic builder): yields :class:`~dockerlab.engine.build.BuildEvent`
        as the build goes, the last ``"aux"`` one carrying the image ID.

        ``context`` is a folder, or the bytes (or a binary file) of a tar or of a bare
        Dockerfile; ``dockerfile`` is relative to the context (or an absolute host path).
        A failing step raises :class:`~dockerlab.engine.build.BuildFailed`.
        ``host_config``: HostConfig fields for the RUN containers (``Memory``, ``CpuShares``…:
        the API's ``memory``, ``cpushares``… build options).
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
            pull,
            host_config,
        )

    # ---- volumes --------------------------------------------------------------------------
    def volume_create(
        self,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        from dockerlab.engine.containers.volumes import VolumeStore

        return VolumeStore(self.paths).create(name, labels, options=options)

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
