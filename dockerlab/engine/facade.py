"""The engine's one public object: every face (CLI, magics, widgets, API) calls this.

Records are plain dicts shaped and named exactly as the Docker Engine API returns them
(``GET /containers/json``, ``/containers/{id}/json``, ``/images/json`` …), so faces can render
Docker's tables and ``--format`` paths without translation, and the API server can pass them
through. Verbs raise :mod:`dockerlab.errors` and never print.
"""

from __future__ import annotations

import os
import signal as _signal
import time
from collections.abc import Iterator
from typing import Any

from dockerlab.engine.containers import Container
from dockerlab.engine.paths import Paths
from dockerlab.engine.streams import Attachment
from dockerlab.errors import (
    Conflict,
    DockerlabError,
    Forbidden,
    InvalidParameter,
    NoSuchContainer,
)


class LogEntry:
    """One json-file log record: ``stream`` is "stdout" or "stderr", ``time`` RFC 3339 (ns)."""

    __slots__ = ("stream", "data", "time")

    def __init__(self, stream: str, data: bytes, time: str) -> None:
        self.stream, self.data, self.time = stream, data, time

    def __repr__(self) -> str:
        return f"LogEntry({self.stream!r}, {self.data!r}, {self.time!r})"


class Engine:
    """Images, containers and volumes under one state root (``DOCKERLAB_ROOT``).

    Every verb has one shape: find, lock, refresh, check, act, save.
    """

    def __init__(self, root: str | None = None) -> None:
        self.paths = Paths.of(root)
        from dockerlab.engine.containers import ContainerStore

        self.store = ContainerStore(self.paths)
        self._images = None

    @property
    def image_store(self):
        if self._images is None:
            from dockerlab.engine.images import ImageStore

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
    def images(self, all: bool = False) -> list[dict[str, Any]]:
        return self.image_store.list(all=all)

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
            raise InvalidParameter(f"cannot bootstrap {name!r}: only busybox can be made "
                                   "offline from the host")
        from dockerlab.engine.bootstrap import bootstrap_busybox

        return bootstrap_busybox(self.image_store)

    # ---- containers: create and start -----------------------------------------------------
    def create(self, body: dict[str, Any], name: str | None = None,
               owner: str = "") -> dict[str, Any]:
        """``owner``: the work folder (:mod:`~dockerlab.engine.work`) of a build whose
        intermediate container this is; if that build's process dies, the next verb that
        takes the store lock kills and removes the container."""
        from dockerlab.engine import create as creating
        from dockerlab.engine.runtime import prestart

        require_privileges()
        prestart()  # a start usually follows: the monitors' forkserver warms up meanwhile

        return creating.create(self, body, name, owner)

    def start(self, ref: str, attach: str = "") -> Attachment | None:
        """Start ``ref``; with ``attach`` (e.g. ``"ioe"``) return an attachment that sees
        everything from the first byte. Starting a running container does nothing."""
        from dockerlab.engine.runtime import spawn_monitor
        from dockerlab.engine.security import for_container

        require_privileges()
        c = self.store.find(ref)
        with c.lock():
            c.refresh(locked=True)
            if c.dead:
                raise Conflict("container is marked for removal and cannot be started")
            if c.state["Status"] == "paused":
                raise Conflict("cannot start a paused container, try unpause instead")
            if c.running:
                return None
            from dockerlab.engine.cgroups.devices import gather

            # Read --device nodes here, so a missing one fails with Docker's daemon error.
            try:
                config = {**c.config, "DeviceNodes": gather(c.config["HostConfig"]),
                          # compiled (or read from the cache) here, never in the container
                          "Security": for_container(self.paths.root, c.config["HostConfig"])}
            except DockerlabError as exc:
                c.state["Error"] = str(exc)  # inspect shows it, as Docker's does
                c.save_state()
                raise
            try:
                report, attachment = spawn_monitor(self.paths, c.id, config, attach)
            except DockerlabError:
                c.refresh(locked=True)  # records the exit code and error of the failure
                raise
            c.adopt(report)
        return attachment

    def run(self, body: dict[str, Any], name: str | None = None,
            attach: str = "oe") -> tuple[str, Attachment | None]:
        """``create`` + ``start``; returns the ID and the attachment (if ``attach``)."""
        cid = self.create(body, name)["Id"]
        try:
            return cid, self.start(cid, attach)
        except DockerlabError:
            if (body.get("HostConfig") or {}).get("AutoRemove"):
                self._discard(cid)
            raise

    def attach(self, ref: str, stdin: bool = False) -> Attachment:
        from dockerlab.engine.runtime import connect

        c = self.store.find(ref)
        if not c.running:
            raise Conflict("You cannot attach to a stopped container, start it first")
        if c.state["Status"] == "paused":
            raise Conflict("You cannot attach to a paused container, unpause it first")
        att = connect(self.paths, c.id)
        if att is None:
            raise Conflict("You cannot attach to a stopped container, start it first")
        att.hello(stdin=stdin)
        return att

    # ---- containers: listing and looking --------------------------------------------------
    def _refreshed(self) -> list[Container]:
        out = []
        for c in self.store.all():
            try:
                c.refresh()
            except NoSuchContainer:
                continue
            out.append(c)
        return out

    def containers(self, all: bool = False, filters: dict[str, list[str]] | None = None,
                   limit: int = -1) -> list[dict[str, Any]]:
        from dockerlab.engine import records

        records.check_filters(filters or {})
        items = sorted(self._refreshed(), key=lambda c: c.config["Created"], reverse=True)
        if limit > 0:
            all = True
        if not all:
            items = [c for c in items if c.running]
        items = [c for c in items if records.matches(c, filters or {})]
        if limit > 0:
            items = items[:limit]
        return [records.summary(c, self.image_store) for c in items]

    def inspect(self, ref: str) -> dict[str, Any]:
        from dockerlab.engine import records

        return records.inspect(self.store.find(ref))

    def container_ids(self) -> list[str]:
        return self.store.ids()

    # ---- containers: state changes --------------------------------------------------------
    def _running(self, ref: str) -> Container:
        c = self.store.find(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        return c

    def kill(self, ref: str, signal: str | int = "KILL") -> None:
        sig = parse_signal(signal)
        c = self.store.find(ref)
        if not c.running:
            raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
        try:
            os.kill(c.state["Pid"], sig)
        except ProcessLookupError:
            pass
        if sig == _signal.SIGKILL and c.state["Status"] == "paused":
            c.cgroup().thaw()

    def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        c = self.store.find(ref)
        if not c.running:
            return
        sig = parse_signal(signal or c.config["Config"].get("StopSignal") or "SIGTERM")
        if timeout is None:
            timeout = c.config["Config"].get("StopTimeout")
        timeout = 10 if timeout is None else int(timeout)
        try:
            os.kill(c.state["Pid"], sig)
        except ProcessLookupError:
            pass
        if c.state["Status"] == "paused":
            c.cgroup().thaw()
        if timeout >= 0 and self._wait_exit(c, timeout):
            return
        cg = c.cgroup()
        cg.kill_all(_signal.SIGKILL)
        self._wait_exit(c, None)

    def _wait_exit(self, c: Container, timeout: float | None) -> dict[str, Any] | None:
        """Wait for ``c``'s monitor to report the exit; None on timeout."""
        from dockerlab.engine.runtime import connect

        att = connect(self.paths, c.id)
        if att is None:
            return self._settled(c)
        try:
            att.hello(stdin=False, stdout=False, stderr=False)
            att.sock.settimeout(None if timeout is None else max(timeout, 0.001))
            try:
                return att.wait()
            except (TimeoutError, BlockingIOError):
                return None
        except (BrokenPipeError, ConnectionResetError):
            return self._settled(c)  # the monitor exited between connect and hello
        finally:
            att.close()

    def _settled(self, c: Container) -> dict[str, Any]:
        """The exit of a container whose monitor has gone (it may be finishing its files)."""
        deadline = time.monotonic() + 5
        while True:
            try:
                c.refresh()
            except NoSuchContainer:
                return {"ExitCode": 0}
            if not c.running or time.monotonic() > deadline:
                return {"ExitCode": c.state["ExitCode"]}
            time.sleep(0.01)

    def pause(self, ref: str) -> None:
        c = self._running(ref)
        with c.lock():
            if c.state["Status"] == "paused":
                raise Conflict(f"Container {c.id} is already paused")
            c.cgroup().freeze()
            c.state.update(Status="paused", Paused=True)
            c.save_state()

    def unpause(self, ref: str) -> None:
        c = self.store.find(ref)
        with c.lock():
            if c.state["Status"] != "paused":
                raise Conflict(f"Container {c.id} is not paused")
            c.cgroup().thaw()
            c.state.update(Status="running", Paused=False)
            c.save_state()

    def restart(self, ref: str, timeout: int | None = None) -> None:
        self.stop(ref, timeout)
        self.start(ref)

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self.store.find(ref)
        for _ in range(5):  # a racing start can win between the kill and the removal
            if c.running:
                if not force:
                    raise Conflict(f'cannot remove container "/{c.name}": container is '
                                   "running: stop the container before removing or force "
                                   "remove")
                self.kill(c.id, "KILL")
                self._wait_exit(c, None)
            if self._discard(c.id, volumes):
                return
            c = self.store.find(c.id)
        raise Conflict(f"could not remove container {c.id[:12]}: it keeps being started")

    def _discard(self, cid: str, volumes: bool = True) -> bool:
        """Remove a stopped container's files; False if it turned out to be running."""
        from dockerlab.engine.volumes import VolumeStore

        with self.store.registry():
            c = self.store.load(cid)
            if c is None:
                return True
            with c.lock():
                c.refresh(locked=True)
                if c.running:
                    return False
                if c.dead:  # its state is unknown: it may still hold processes and mounts
                    c.cleanup_dead()
                anonymous = [m["Name"] for m in c.config.get("MountPoints", [])
                             if m.get("Type") == "volume" and m.get("Anonymous")]
                self.store.discard(c.id)
        if volumes:
            vs = VolumeStore(self.paths)
            for name in anonymous:
                vs.remove_quietly(name)
        return True

    def rename(self, ref: str, new_name: str) -> None:
        from dockerlab.engine.ids import check_name

        new_name = check_name(new_name)
        c = self.store.find(ref)
        c.check_usable("rename")
        if c.name == new_name:
            raise InvalidParameter("Renaming a container with the same name as its current "
                                   "name")
        with self.store.registry():
            self.store.claim_name(new_name, c.id)
            with c.lock():
                c.config = self.store.load(c.id).config  # type: ignore[union-attr]
                c.config["Name"] = "/" + new_name
                c.save_config()

    def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        c = self.store.find(ref)
        if not c.running:
            return {"StatusCode": c.state["ExitCode"], "Error": None}
        record = self._wait_exit(c, None) or {}
        try:
            c.refresh()
            code = c.state["ExitCode"]
        except NoSuchContainer:
            code = record.get("ExitCode", 0)
        return {"StatusCode": code, "Error": None}

    def prune(self) -> dict[str, Any]:
        deleted, space = [], 0
        for c in self._refreshed():
            if not c.running:
                space += _tree_size(os.path.join(c.layer_dir, "diff"))
                self._discard(c.id)
                deleted.append(c.id)
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": space}

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
        from dockerlab.engine.volumes import VolumeStore
        from dockerlab.engine.work import tree_size

        used = {m.get("Name") for c in self.store.all()
                for m in c.config.get("MountPoints", []) if m.get("Type") == "volume"}
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
        from dockerlab.engine import work

        store = self.image_store
        found = self.interrupted_work() if found is None else found
        with self.store.registry():
            work.sweep(self.paths, registry_locked=True, everything=True)
        with store._locked():
            store.collect_garbage()
        removed = [e for e in found if not os.path.lexists(e["Path"])]
        return {"WorkDeleted": removed or None,
                "SpaceReclaimed": sum(r["Size"] for r in removed)}

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
    def logs(self, ref: str, follow: bool = False, timestamps: bool = False,
             tail: int | None = None, since: float | None = None,
             stdout: bool = True, stderr: bool = True,
             until: float | None = None) -> Iterator[LogEntry]:
        from dockerlab.engine.logs import read_logs

        c = self.store.find(ref)
        return read_logs(c, follow=follow, tail=tail, since=since, stdout=stdout,
                         stderr=stderr, until=until)

    def top(self, ref: str, ps_args: str = "-ef") -> dict[str, Any]:
        from dockerlab.engine.stats import top

        c = self._running(ref)
        return top(c.cgroup().pids(), ps_args)

    def stats(self, ref: str, previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """One Docker stats sample; ``previous`` (an earlier sample) fills ``precpu_stats``."""
        from dockerlab.engine.stats import sample

        c = self.store.find(ref)
        return sample(c, previous)

    # ---- exec -----------------------------------------------------------------------------
    def exec(self, ref: str, cmd: list[str], env: list[str] | None = None, workdir: str = "",
             user: str = "", tty: bool = False, detach: bool = False,
             stdin: int | None = None, stdout: int | None = None, stderr: int | None = None,
             own_terminal: bool = False, privileged: bool = False):
        """Run ``cmd`` in a running container; returns a ``subprocess.Popen`` of the helper
        (its exit code is the command's), or None with ``detach``. ``own_terminal`` says
        that stdin is a pseudo-terminal the caller made for this command alone: it becomes
        the command's controlling terminal (so Ctrl-C and job control work)."""
        from dockerlab.engine.execs import spawn_exec

        c = self._running(ref)
        if c.state["Status"] == "paused":
            raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
        return spawn_exec(c, cmd, env or [], workdir, user, tty, detach, stdin, stdout, stderr,
                          own_terminal, privileged)

    # ---- layers: diff, commit, export, import, inspection ----------------------------------
    def diff(self, ref: str) -> list[dict[str, Any]]:
        """``GET /containers/{id}/changes``: ``[{"Path", "Kind"}]`` sorted by path,
        Kind 0 = C (changed), 1 = A (added), 2 = D (deleted)."""
        from dockerlab.engine import changes

        self.store.find(ref).check_usable("diff")
        return changes.diff(self, ref)

    def commit(self, ref: str, repo_tag: str | None = None, message: str = "",
               author: str = "", changes: list[str] | None = None,
               pause: bool = True) -> str:
        """A new image from the container's writable layer; returns ``sha256:<id>``."""
        from dockerlab.engine import commit as committing

        return committing.commit(self, ref, repo_tag, message, author, changes, pause)

    def export(self, ref: str, fileobj: Any) -> None:
        """Write the container's merged filesystem to ``fileobj`` as one flat tar."""
        from dockerlab.engine import export as exporting

        self.store.find(ref).check_usable("export")
        exporting.export(self, ref, fileobj)

    def import_image(self, fileobj: Any, repo_tag: str | None = None,
                     changes: list[str] | None = None, message: str = "",
                     source: str = "-") -> str:
        """A one-layer image from a tar (plain or compressed); returns ``sha256:<id>``."""
        from dockerlab.engine import commit as committing

        return committing.import_image(self, fileobj, repo_tag, changes, message, source)

    def image_layers(self, ref: str) -> list[dict[str, Any]]:
        """History entries matched to layers, oldest first: ``Index`` (0 = base), ``Id``
        (diff ID, "" for an empty layer), ``Size``, ``CreatedBy``, ``EmptyLayer``."""
        from dockerlab.engine import changes

        return changes.image_layers(self, ref)

    def layer_files(self, ref: str, index: int, cumulative: bool = False
                    ) -> list[dict[str, Any]]:
        """What history entry ``index`` changed (``Kind`` A/C/D), or with ``cumulative``
        the whole tree up to it (``Kind`` as that path's last change, ``Layer`` where)."""
        from dockerlab.engine import changes

        return changes.layer_files(self, ref, index, cumulative)

    def file_at_layer(self, ref: str, index: int, path: str) -> bytes | None:
        """The content of ``path`` as the image is at entry ``index``; None if absent or not
        a regular file."""
        from dockerlab.engine import changes

        return changes.file_at_layer(self, ref, index, path)

    def file_history(self, ref: str, path: str) -> list[dict[str, Any]]:
        """Which layers touched ``path``: ``[{"Index", "Kind", "Size"}]``, oldest first."""
        from dockerlab.engine import changes

        return changes.file_history(self, ref, path)

    # ---- images: save, load; cp; system df ----------------------------------------------
    def save(self, refs: list[str], fileobj: Any) -> None:
        """``docker save``: the images ``refs`` as one archive (OCI layout + manifest.json +
        repositories, Docker 25's format) written to the binary ``fileobj``."""
        from dockerlab.engine import saveload

        saveload.save(self.image_store, list(refs), fileobj)

    def load(self, fileobj: Any) -> list[str]:
        """``docker load``: every image of a docker-save or OCI-layout archive; returns the
        "Loaded image" subjects (``busybox:latest``, or ``sha256:…`` when untagged)."""
        from dockerlab.engine import saveload

        return saveload.load(self.image_store, fileobj)

    def copy_from(self, ref: str, path: str, fileobj: Any,
                  follow_link: bool = False) -> dict[str, Any]:
        """``GET /containers/{id}/archive``: a tar of ``path`` to ``fileobj``; returns
        its :meth:`path_stat`."""
        from dockerlab.engine import copy

        self.store.find(ref).check_usable("copy from")
        return copy.copy_from(self, ref, path, fileobj, follow_link)

    def path_stat(self, ref: str, path: str) -> dict[str, Any]:
        """``HEAD /containers/{id}/archive``: ``name``, ``size``, ``mode`` (Go FileMode),
        ``mtime``, ``linkTarget``."""
        from dockerlab.engine import copy

        self.store.find(ref).check_usable("stat a path in")
        return copy.path_stat(self, ref, path)

    def copy_to(self, ref: str, path: str, tar_fileobj: Any,
                copy_uid_gid: bool = False) -> None:
        """``PUT /containers/{id}/archive``: extract a tar into the folder ``path``."""
        from dockerlab.engine import copy

        self.store.find(ref).check_usable("copy to")
        copy.copy_to(self, ref, path, tar_fileobj, copy_uid_gid)

    def system_df(self) -> dict[str, Any]:
        """``GET /system/df``: LayersSize, Images, Containers, Volumes, BuildCache, and
        dockerlab's InterruptedWork (what running or killed commands hold in scratch space,
        and blobs or layers nothing references)."""
        from dockerlab.engine import df

        return df.system_df(self)

    # ---- build ----------------------------------------------------------------------------
    def build(self, context: Any, dockerfile: str = "Dockerfile", tags: Any = (),
              build_args: dict[str, str | None] | None = None, no_cache: bool = False,
              target: str | None = None, labels: dict[str, str] | None = None,
              quiet: bool = False, rm: bool = True, force_rm: bool = False) -> Iterator[Any]:
        """``docker build`` (classic builder): yields :class:`~dockerlab.engine.build.BuildEvent`
        as the build goes, the last ``"aux"`` one carrying the image ID.

        ``context`` is a folder, or the bytes (or a binary file) of a tar or of a bare
        Dockerfile; ``dockerfile`` is relative to the context (or an absolute host path).
        A failing step raises :class:`~dockerlab.engine.build.BuildFailed`.
        """
        from dockerlab.engine.build import build

        require_privileges()
        return build(self, context, dockerfile, tags, build_args, no_cache, target, labels,
                     quiet, rm, force_rm)

    # ---- volumes --------------------------------------------------------------------------
    def volume_create(self, name: str | None = None,
                      labels: dict[str, str] | None = None) -> dict[str, Any]:
        from dockerlab.engine.volumes import VolumeStore

        return VolumeStore(self.paths).create(name, labels)

    def volumes(self) -> list[dict[str, Any]]:
        from dockerlab.engine.volumes import VolumeStore

        return VolumeStore(self.paths).list()

    def volume_inspect(self, name: str) -> dict[str, Any]:
        from dockerlab.engine.volumes import VolumeStore

        return VolumeStore(self.paths).inspect(name)

    def volume_remove(self, name: str, force: bool = False) -> None:
        from dockerlab.engine.volumes import VolumeStore

        users = [c.id for c in self.store.all()
                 if any(m.get("Name") == name for m in c.config.get("MountPoints", []))]
        VolumeStore(self.paths).remove(name, users, force)


def require_privileges() -> None:
    """Refuse, saying exactly what is missing, when containers cannot be made here."""
    if os.geteuid() != 0:
        raise Forbidden("dockerlab needs root to run containers: creating mount, PID, UTS, "
                        "IPC and network namespaces and mounting overlayfs need "
                        "CAP_SYS_ADMIN, and cgroups need write access to /sys/fs/cgroup; "
                        "run it with sudo")


def parse_signal(value: str | int) -> int:
    """``KILL``, ``SIGKILL`` or ``9`` → 9, with Docker's error for anything else."""
    text = str(value).strip()
    if text.isdigit():
        num = int(text)
        if 0 < num < _signal.NSIG:
            return num
    else:
        name = text.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        sig = getattr(_signal.Signals, name, None) if hasattr(_signal.Signals, name) else None
        if sig is not None:
            return int(sig)
    raise InvalidParameter(f"Invalid signal: {value}")


def _tree_size(path: str) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(folder, f)).st_size
            except OSError:
                pass
    return total
