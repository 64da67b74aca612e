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
from typing import Any

from dockerlab.engine import events
from dockerlab.engine.basics import tree_size
from dockerlab.engine.checks import parse_signal, require_privileges
from dockerlab.engine.containers.store import Container, ContainerStore
from dockerlab.engine.runtime.streams import LOST_MONITOR, Attachment
from dockerlab.errors import (
    Conflict,
    DockerlabError,
    InvalidParameter,
    NoSuchContainer,
)


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
def start(store: ContainerStore, ref: str, attach: str = "") -> Attachment | None:
    require_privileges()
    c = store.find(ref)
    with c.lock():
        c.refresh(locked=True)
        c.ensure_state("start")
        if c.running:
            return None
        return _start(store, c, attach)


def _start(store: ContainerStore, c: Container, attach: str) -> Attachment | None:
    """(locked) Spawn the monitor and record what it reports."""
    from dockerlab.engine.runtime.cgroups.devices import gather
    from dockerlab.engine.runtime.security import for_container
    from dockerlab.engine.runtime.spawn import spawn_monitor

    # Read --device nodes here, so a missing one fails with Docker's daemon error.
    try:
        config = {
            **c.config,
            "DeviceNodes": gather(c.config["HostConfig"]),
            # compiled (or read from the cache) here, never in the container
            "Security": for_container(store.paths.root, c.config["HostConfig"]),
        }
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
    c.adopt(report)  # (the monitor told "start", before the "die" it may tell next)
    return attachment


def attach(store: ContainerStore, ref: str, stdin: bool = False) -> Attachment:
    from dockerlab.engine.runtime.spawn import connect

    c = store.find(ref)
    c.ensure_state("attach")
    att = connect(store.paths, c.id)
    if att is None:  # it exited since
        raise Conflict("You cannot attach to a stopped container, start it first")
    att.hello(stdin=stdin)
    events.container(store.paths, c.config, "attach")
    return att


# ---- signals: kill, stop, restart -------------------------------------------------------
def kill(store: ContainerStore, ref: str, signal: str | int = "KILL") -> None:
    sig = parse_signal(signal)
    c = store.find(ref)
    with c.lock():
        c.refresh(locked=True)
        c.ensure_state("kill", ref)
        # told before it is sent: the monitor's "die" must not come first
        events.container(store.paths, c.config, "kill", {"signal": str(sig)})
        _signal_first(c, sig, thaw=sig == _signal.SIGKILL)


def _signal_first(c: Container, sig: int, thaw: bool) -> None:
    """(locked) Signal the container's first process; ``thaw`` a paused one so it acts."""
    try:
        os.kill(c.state["Pid"], sig)
    except ProcessLookupError:
        pass
    if thaw and c.state["Status"] == "paused":
        c.cgroup().thaw()


def stop(
    store: ContainerStore, ref: str, timeout: int | None = None, signal: str | None = None
) -> None:
    c = store.find(ref)
    with c.lock():
        c.refresh(locked=True)
        if not c.running:  # stopping a stopped container does nothing, as Docker's
            return
        sig = parse_signal(signal or c.config["Config"].get("StopSignal") or "SIGTERM")
        if timeout is None:
            timeout = c.config["Config"].get("StopTimeout")
        timeout = 10 if timeout is None else int(timeout)
        events.container(store.paths, c.config, "kill", {"signal": str(sig)})
        _signal_first(c, sig, thaw=True)
    if timeout < 0 or not wait_exit(store, c, timeout):
        events.container(store.paths, c.config, "kill", {"signal": str(int(_signal.SIGKILL))})
        c.cgroup().kill_all(_signal.SIGKILL)
        wait_exit(store, c, None)
    events.container(store.paths, c.config, "stop")


def restart(store: ContainerStore, ref: str, timeout: int | None = None) -> None:
    stop(store, ref, timeout)
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
    return {"StatusCode": code, "Error": None}


# ---- the freezer: pause, unpause --------------------------------------------------------
def pause(store: ContainerStore, ref: str) -> None:
    c = store.find(ref)
    with c.lock():
        c.refresh(locked=True)
        c.ensure_state("pause")
        c.cgroup().freeze()
        c.state.update(Status="paused", Paused=True)
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


def prune(store: ContainerStore) -> dict[str, Any]:
    """``POST /containers/prune``: every container not running."""
    deleted, space = [], 0
    for c in refreshed(store):
        if not c.running:
            space += tree_size(os.path.join(c.layer_dir, "diff"))
            discard(store, c.id)
            deleted.append(c.id)
    events.append(store.paths.root, "container", "prune", "", {"reclaimed": str(space)})
    return {"ContainersDeleted": deleted or None, "SpaceReclaimed": space}
