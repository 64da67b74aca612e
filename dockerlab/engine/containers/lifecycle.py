"""Container lifecycle: start, attach, kill, stop, pause, unpause, restart, rm, rename, wait,
prune — the verbs that change what a container is doing (``create`` is
:mod:`dockerlab.engine.containers.create`).

Every public verb has one shape, as podman's: find → lock → refresh → check state
(:meth:`Container.ensure_state`) → act → save. The lock is the container's own flock; a
removal takes the store lock first and the container's second, and so does the monitor of an
``--rm`` container before it renames the folder away, so no verb writes into a folder removed
under it. Helpers named ``_…`` do the work and expect their caller to hold the lock (podman's
container_api vs container_internal). No verb waits for an exit while it holds the lock: the
exiting monitor of an ``--rm`` container needs it.
"""

from __future__ import annotations

import os
import signal as _signal
import time

from dockerlab.engine import events
from dockerlab.engine.checks import parse_signal, require_privileges
from dockerlab.engine.containers.store import Container, ContainerStore
from dockerlab.engine.runtime.streams import LOST_MONITOR, Attachment
from dockerlab.errors import (
    Conflict,
    DockerlabError,
    InvalidParameter,
    NoSuchContainer,
    NotModified,
)

TYPE_CHECKING = False  # typing costs the CLI's start milliseconds
if TYPE_CHECKING:
    from typing import Any


def refreshed(store: ContainerStore) -> list[Container]:
    """Every container, its state reconciled with the system (gone ones skipped)."""
    out = []
    for c in store.all():
        try:
            c.refresh()
        except NoSuchContainer:
            continue
        out.append(c)
    return out


# ---- start and attach -------------------------------------------------------------------
def start(
    store: ContainerStore, ref: str, attach: str = "", not_modified: bool = False
) -> Attachment | None:
    """``not_modified``: a running container is NotModified (the API's 304), not a no-op.
    A start that fails removes an ``AutoRemove`` container, as Docker's daemon does (a
    ``docker run --rm`` client waits for that removal)."""
    require_privileges()
    c = store.find(ref)
    failed = False
    try:
        with c.lock():
            c.refresh(locked=True)
            c.ensure_state("start")
            if c.running:
                if not_modified:
                    raise NotModified("container already started")
                return None
            try:
                return _start(store, c, attach)
            except DockerlabError:
                failed = True
                raise
    finally:
        if failed and c.config["HostConfig"].get("AutoRemove"):  # (the lock is let go)
            try:
                discard(store, c.id)
            except DockerlabError:
                pass


def _rootless() -> bool:
    return os.geteuid() != 0 or os.environ.get("DOCKERLAB_ROOTLESS") == "1"


def _start(store: ContainerStore, c: Container, attach: str) -> Attachment | None:
    """(locked) Spawn the monitor and record what it reports."""
    from dockerlab.engine.containers.create import check_tmpfs
    from dockerlab.engine.network import sandbox
    from dockerlab.engine.runtime.cgroups.devices import gather
    from dockerlab.engine.runtime.security import for_container
    from dockerlab.engine.runtime.spawn import spawn_monitor

    # Read --device nodes here, so a missing one fails with Docker's daemon error.
    try:
        check_tmpfs(c.config["HostConfig"])
        joined = sandbox.joined_container(store, c)  # container:<ref>, running
        config = {
            **c.config,
            "DeviceNodes": gather(c.config["HostConfig"]),
            # compiled (or read from the cache) here, never in the container
            "Security": for_container(store.paths.root, c.config["HostConfig"]),
            # hosts (add-host, links), resolv.conf and link variables: made here, where
            # the other containers can be read
            **sandbox.etc_files(store, c),
        }
        if _rootless():
            config["Rootless"] = True  # the monitor makes no cgroup (engine/rootless.py)
        if joined is not None:
            config["JoinPid"] = joined.state["Pid"]
        if c.config.get("UserNetworks"):  # its user networks' records, as they are now
            from dockerlab.engine.network import networks

            config["UserNetworks"] = networks.for_start(store.paths, c.config)
    except DockerlabError as exc:
        c.state["Error"] = str(exc)  # inspect shows it, as Docker's does
        c.save_state()
        raise
    if attach:
        events.container(store.paths, c.config, "attach")
    events.volume_mounts(store.paths, c.config, "mount")
    try:
        report, attachment = spawn_monitor(store.paths, c.id, config, attach)
    except DockerlabError:
        c.refresh(locked=True)  # records the exit code and error of the failure
        raise
    # Still locked: an --rm monitor whose command exited at once waits to remove the folder.
    # A start by the user resets what its restart policy counted (Docker's containerStart).
    c.state.update(HasBeenManuallyStopped=False, HasBeenStartedBefore=True)
    c.adopt(report)  # (the monitor told "start", before the "die" it may tell next)
    if c.state.get("Network"):  # its parents' hosts get its address (etchosts.Update)
        from dockerlab.engine.network.links import update_parents

        update_parents(store, c)
    return attachment


def attach(store: ContainerStore, ref: str, stdin: bool = False) -> Attachment:
    from dockerlab.engine.runtime.spawn import connect

    c = store.find(ref)
    c.ensure_state("attach", ref)
    att = connect(store.paths, c.id)
    if att is None:  # it exited since
        raise Conflict("You cannot attach to a stopped container, start it first")
    att.hello(stdin=stdin)
    events.container(store.paths, c.config, "attach")
    return att


def resize(store: ContainerStore, ref: str, height: int, width: int) -> None:
    from dockerlab.engine.runtime.spawn import connect

    c = store.find(ref)
    c.refresh()
    if c.state["Status"] not in ("running", "paused"):
        raise Conflict(f"Container {c.id} is not running")
    att = connect(store.paths, c.id)
    if att is None:  # it exited since
        raise Conflict(f"Container {c.id} is not running")
    try:
        att.resize(height, width)  # the monitor sets its terminal's size (and tells "resize")
    finally:
        att.close()


# ---- signals: kill, stop, restart -------------------------------------------------------
def kill(store: ContainerStore, ref: str, signal: str | int = "KILL") -> None:
    sig = parse_signal(signal)
    c = store.find(ref)
    with c.lock():
        c.refresh(locked=True)
        c.ensure_state("kill", ref)
        _stopped_by_user(c, sig)
        # told before it is sent: the monitor's "die" must not come first
        events.container(store.paths, c.config, "kill", {"signal": str(sig)})
        _signal_first(c, sig, thaw=sig == _signal.SIGKILL)


def _signal_first(c: Container, sig: int, thaw: bool) -> None:
    """(locked) Signal the container's first process; ``thaw`` a paused one so it acts.
    A restarting container has none: telling its monitor (:func:`_stopped_by_user`) is all."""
    pid = c.state["Pid"]
    if pid > 0:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    if thaw and c.state["Status"] == "paused":
        c.cgroup().thaw()


def _stopped_by_user(c: Container, sig: int, save: bool = True) -> None:
    """(locked) Docker's ``HasBeenManuallyStopped``, and the end of its restarts when ``sig``
    is what stops it (SIGKILL, its stop signal, or any signal when it names none): the
    monitor reads ``restart-stop`` before it restarts the process."""
    from dockerlab.engine.atomic import write_bytes
    from dockerlab.engine.runtime.restarts import STOP_FILE

    stop_signal = c.config["Config"].get("StopSignal")
    cancel = sig == _signal.SIGKILL or not stop_signal or sig == parse_signal(stop_signal)
    path = os.path.join(c.rundir, STOP_FILE)
    if os.path.isdir(c.rundir):
        try:
            with open(path) as f:
                cancel = cancel or f.read().strip() == "cancel"
        except FileNotFoundError:
            pass
        write_bytes(path, b"cancel" if cancel else b"manual", durable=False)
        if cancel and c.state["Status"] == "restarting":
            _wake_monitor(c)
    if save and not c.state.get("HasBeenManuallyStopped"):
        c.state["HasBeenManuallyStopped"] = True
        c.save_state()


def _wake_monitor(c: Container) -> None:
    """A monitor waiting to restart its container looks at ``restart-stop`` again when a
    client connects: connect, and go."""
    from dockerlab.engine.runtime.spawn import connect

    att = connect(c.paths, c.id)
    if att is not None:
        att.close()


def stop(
    store: ContainerStore,
    ref: str,
    timeout: int | None = None,
    signal: str | None = None,
    not_modified: bool = False,
) -> None:
    """``not_modified``: a container not running is NotModified (the API's 304)."""
    c = store.find(ref)
    with c.lock():
        c.refresh(locked=True)
        if not c.running:  # stopping a stopped container does nothing, as Docker's
            if not_modified:
                raise NotModified("container already stopped")
            return
        sig = parse_signal(signal or c.config["Config"].get("StopSignal") or "SIGTERM")
        if timeout is None:
            timeout = c.config["Config"].get("StopTimeout")
        timeout = 10 if timeout is None else int(timeout)
        _stopped_by_user(c, _signal.SIGKILL)  # a stop always ends the restarts
        events.container(store.paths, c.config, "kill", {"signal": str(sig)})
        _signal_first(c, sig, thaw=True)
    if timeout < 0 or not wait_exit(store, c, timeout):
        events.container(store.paths, c.config, "kill", {"signal": str(int(_signal.SIGKILL))})
        c.cgroup().kill_all(_signal.SIGKILL)
        wait_exit(store, c, None)
    events.container(store.paths, c.config, "stop")


def restart(
    store: ContainerStore, ref: str, timeout: int | None = None, signal: str | None = None
) -> None:
    stop(store, ref, timeout, signal)
    start(store, ref)
    events.container(store.paths, store.find(ref).config, "restart")


def wait_exit(store: ContainerStore, c: Container, timeout: float | None) -> dict[str, Any] | None:
    """(unlocked) Wait for ``c``'s monitor to report the exit; None on timeout."""
    from dockerlab.engine.runtime.spawn import connect

    att = connect(store.paths, c.id)
    if att is None:
        return _settled(c)
    try:
        try:
            att.hello(stdin=False, stdout=False, stderr=False)
        except (BrokenPipeError, ConnectionResetError):
            return _settled(c)  # the monitor closed us out: it is finishing
        att.sock.settimeout(None if timeout is None else max(timeout, 0.001))
        try:
            record = att.wait()
        except (TimeoutError, BlockingIOError):
            return None
        if record.get("Error") == LOST_MONITOR:  # it went without telling us: its files tell
            return _settled(c)
        return record
    finally:
        att.close()


def _settled(c: Container) -> dict[str, Any]:
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


def wait(store: ContainerStore, ref: str, condition: str = "not-running") -> dict[str, Any]:
    c = store.find(ref)
    if not c.running:
        return {"StatusCode": c.state["ExitCode"], "Error": None}
    record = wait_exit(store, c, None) or {}
    try:
        c.refresh()
        code = c.state["ExitCode"]
    except NoSuchContainer:  # --rm removed it: its monitor told the code
        code = record.get("ExitCode", 0)
    if c.running and "ExitCode" in record:  # restarted by its policy: the exit it told us
        code = record["ExitCode"]
    return {"StatusCode": code, "Error": None}


# ---- the freezer: pause, unpause --------------------------------------------------------
def pause(store: ContainerStore, ref: str) -> None:
    c = store.find(ref)
    with c.lock():
        c.refresh(locked=True)
        c.ensure_state("pause")
        c.cgroup().freeze()
        c.state.update(Status="paused", Paused=True)
        c.health_stopped()
        c.save_state()
        events.container(store.paths, c.config, "pause")


def unpause(store: ContainerStore, ref: str) -> None:
    c = store.find(ref)
    with c.lock():
        c.refresh(locked=True)
        c.ensure_state("unpause")
        c.cgroup().thaw()
        c.state.update(Status="running", Paused=False)
        c.save_state()
        events.container(store.paths, c.config, "unpause")


# ---- removal and names ------------------------------------------------------------------
def remove(store: ContainerStore, ref: str, force: bool = False, volumes: bool = False) -> None:
    c = store.find(ref)
    for _ in range(5):  # a racing start can win between the kill and the removal
        with c.lock():
            c.refresh(locked=True)
            running = c.running
            if running:
                if not force:
                    c.ensure_state("remove")
                _stopped_by_user(c, _signal.SIGKILL, save=False)
                events.container(store.paths, c.config, "kill", {"signal": "9"})
                _signal_first(c, _signal.SIGKILL, thaw=True)
        if running:
            wait_exit(store, c, None)
        if discard(store, c.id, volumes):
            return
        c = store.find(c.id)
    raise Conflict(f"could not remove container {c.id[:12]}: it keeps being started")


def discard(store: ContainerStore, cid: str, volumes: bool = True) -> bool:
    """Remove a stopped container's files; False if it turned out to be running."""
    from dockerlab.engine.containers.volumes import VolumeStore

    with store.registry():  # the store lock, then the container's: every removal's order
        c = store.load(cid)
        if c is None:
            return True
        with c.lock():
            c.refresh(locked=True)
            if c.running:
                return False
            if c.dead:  # its state is unknown: it may still hold processes and mounts
                c.cleanup_dead()
            anonymous = [
                m["Name"]
                for m in c.config.get("MountPoints", [])
                if m.get("Type") == "volume" and m.get("Anonymous")
            ]
            store.discard(c.id)
    events.container(store.paths, c.config, "destroy")
    if volumes:
        vs = VolumeStore(store.paths)
        for name in anonymous:
            vs.remove_quietly(name)
    return True


def rename(store: ContainerStore, ref: str, new_name: str) -> None:
    from dockerlab.engine.ids import check_name

    new_name = check_name(new_name)
    c = store.find(ref)
    c.ensure_state("rename")
    if c.name == new_name:
        raise InvalidParameter("Renaming a container with the same name as its current name")
    with store.registry():
        store.claim_name(new_name, c.id)
        with c.lock():
            c.config = store.load(c.id).config  # type: ignore[union-attr]
            old_name = c.config["Name"]
            c.config["Name"] = "/" + new_name
            c.save_config()
            _tell_monitor_name(c)
    events.container(store.paths, c.config, "rename", {"oldName": old_name})


def _tell_monitor_name(c: Container) -> None:
    """(locked) A running container's monitor reads its name here when it reports the exit
    (it reads no JSON)."""
    if os.path.isdir(c.rundir):
        try:
            with open(os.path.join(c.rundir, "name"), "w") as f:
                f.write(c.config["Name"])
        except OSError:
            pass


def prune(store: ContainerStore, wanted: Any = None) -> dict[str, Any]:
    """``POST /containers/prune``: every container not running (that ``wanted``, a test
    of a container, accepts: the prune's filters)."""
    from dockerlab.engine.storage import usage

    deleted, space = [], 0
    for c in refreshed(store):
        if not c.running and (wanted is None or wanted(c)):
            space += usage.rw_size(c)  # (vfs: what it changed in its copy)
            discard(store, c.id)
            deleted.append(c.id)
    events.append(store.paths.root, "container", "prune", "", {"reclaimed": str(space)})
    return {"ContainersDeleted": deleted or None, "SpaceReclaimed": space}


# ---- after a reboot ------------------------------------------------------------------------
BOOT_ID = "/proc/sys/kernel/random/boot_id"
BOOT_STAMP = "boot_id"  # in the state root: the boot its containers were last revived for


def _boot_id() -> str:
    try:
        with open(BOOT_ID) as f:
            return f.read().strip()
    except OSError:
        return ""


def _stamp(paths: Any) -> str:
    try:
        with open(os.path.join(paths.root, BOOT_STAMP)) as f:
            return f.read().strip()
    except OSError:
        return ""


def revive(store: ContainerStore) -> list[str]:
    """Once per boot of the host: bring back the containers Docker's daemon restarts when it
    starts (``always``; ``unless-stopped`` unless the user stopped it; ``on-failure`` after
    a failure with retries left), and remove ``--rm`` ones that are not running (Docker's
    ``restore``). Returns the IDs started.

    Cheap when there is nothing to do (two small reads: the kernel's boot ID against the
    stamp in the state root). Lock, then act: under ``boot.lock`` the stamp is checked
    again, the containers are started, and only then is the stamp written (durably), so a
    revival cut short by a crash is done again by the next caller; starting a container that
    already runs does nothing."""
    from dockerlab.engine.atomic import locked, write_bytes
    from dockerlab.engine.runtime.restarts import should_restart

    boot = _boot_id()
    if not boot or _stamp(store.paths) == boot or os.geteuid() != 0:
        return []
    revived: list[str] = []
    with locked(os.path.join(store.paths.root, "boot.lock")):
        if _stamp(store.paths) == boot:
            return []
        for c in store.all():
            if c.dead:
                continue
            was_live = c.running  # as recorded: it was up when the host went down
            try:
                c.refresh()  # its monitor is gone: recorded as exited, leftovers cleaned
            except NoSuchContainer:
                continue
            if c.running:
                continue  # started by someone else meanwhile
            host = c.config["HostConfig"]
            policy = host.get("RestartPolicy") or {}
            # Docker records a container that was up at the reboot as exited with code 0
            code = 0 if was_live else int(c.state.get("ExitCode") or 0)
            if c.state.get("HasBeenStartedBefore") and should_restart(
                policy.get("Name") or "no",
                int(policy.get("MaximumRetryCount") or 0),
                code,
                bool(c.state.get("HasBeenManuallyStopped")),
                int(c.state.get("RestartCount") or 0),
            ):
                try:
                    start(store, c.id)
                except DockerlabError:
                    continue  # start recorded why in State.Error, as Docker's restore logs it
                revived.append(c.id)
            elif host.get("AutoRemove"):
                discard(store, c.id)
        write_bytes(os.path.join(store.paths.root, BOOT_STAMP), boot.encode() + b"\n")
    return revived
