"""The container store: one folder per container, durable config apart from state.

    containers/<id>/config.v2.json   what the container is (Docker's inspect fields + Runtime)
    containers/<id>/state.json       what it is doing (Docker's State + the monitor's pid)
    containers/<id>/lock             flock held by a verb while it changes this container
    containers/<id>/hosts|hostname|resolv.conf   bind-mounted in, never in a layer
    containers/.lock                 held while names are claimed or containers come and go
    containers/.creating-<id>/       a create in progress; removed on the next load if stale
    containers/.removing-<id>/       a removal in progress; finished on the next load
    overlay/<id>/{diff,work,merged}  the writable layer;  overlay/<id>-init/diff the init layer

State is re-derived from the system before it is trusted: the monitor's ``exit.json`` is
folded in, and a running container whose monitor died is marked exited and cleaned up.

A container whose ``config.v2.json`` or ``state.json`` cannot be read (cut by a crash or a
full disk) is never trusted and never takes the others down: it loads as *dead* (Docker's
``Dead`` status) with the reason in ``State.Error`` and what its ID alone tells (its folders,
cgroup, log and monitor), so ``inspect`` shows it and ``rm -f`` kills and removes it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from dockerlab.engine import work
from dockerlab.engine.atomic import locked, read_json, write_json
from dockerlab.engine.basics import rfc3339_ns, time_now
from dockerlab.engine.paths import Paths
from dockerlab.engine.runtime import linux as L
from dockerlab.errors import Conflict, DockerlabError, NoSuchContainer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.runtime.cgroups import Cgroup

ZERO_TIME = "0001-01-01T00:00:00Z"
ENGINE_FILES = ("hosts", "hostname", "resolv.conf")
INIT_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv", "dev/console")
INIT_LINKS = (("etc/mtab", "/proc/mounts"),)  # as Docker's init layer has them
INIT_DIRS = ("proc", "sys", "dev", "dev/pts", "dev/shm", "etc")


def fresh_state() -> dict[str, Any]:
    return {
        "Status": "created",
        "Running": False,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 0,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": ZERO_TIME,
        "FinishedAt": ZERO_TIME,
        "MonitorPid": 0,
        "MonitorStart": None,
    }


def json_reason(exc: ValueError) -> str:
    """Go's words for a JSON file that does not parse (a cut file: "unexpected end …")."""
    import json

    if isinstance(exc, json.JSONDecodeError) and (
        not exc.doc[exc.pos :].strip() or exc.msg.startswith("Unterminated string")
    ):
        return "unexpected end of JSON input"  # the input stopped inside a value
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at offset {exc.pos}: {exc.msg}"
    return f"invalid JSON: {exc}"


def _read_record(path: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """A JSON object holding ``keys``; ValueError (with Go's reason) for anything else."""
    import json

    with open(path, "rb") as f:
        data = f.read()
    try:
        record = json.loads(data)
    except ValueError as exc:
        raise ValueError(json_reason(exc)) from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    missing = [k for k in keys if k not in record]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return record


_CONFIG_KEYS = ("Name", "Created", "Path", "Args", "Image", "Config", "HostConfig", "Runtime")
_STATE_KEYS = ("Status", "Pid", "ExitCode")


def stub_config(paths: Paths, cid: str) -> dict[str, Any]:
    """What a container's ID alone tells, for one whose config cannot be read."""
    folder = paths.container(cid)
    try:
        mtime = os.stat(folder).st_mtime_ns
    except OSError:
        mtime = 0
    created = rfc3339_ns(mtime)
    return {
        "Id": cid,
        "Created": created,
        "Path": "",
        "Args": [],
        "Image": "",
        "Name": "",
        "Config": {},
        "HostConfig": {},
        "MountPoints": [],
        "ResolvConfPath": os.path.join(folder, "resolv.conf"),
        "HostnamePath": os.path.join(folder, "hostname"),
        "HostsPath": os.path.join(folder, "hosts"),
        "LogPath": os.path.join(folder, f"{cid}-json.log"),
        "Runtime": {"Layer": cid, "LowerLinks": []},
    }


_LIVE = ("running", "paused", "restarting")  # Docker's Running: a restarting one too
_RESTARTING = "Container {id} is restarting, wait until the container is running"
# What each verb acts on, and otherwise its refusal in Docker's words ("*": any other status).
_VERB_STATES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "start": (
        ("created", "exited", "running", "restarting"),
        {
            "paused": "cannot start a paused container, try unpause instead",
            "*": "container is marked for removal and cannot be started",
        },
    ),
    "attach": (
        ("running",),
        {
            "paused": "You cannot attach to a paused container, unpause it first",
            "restarting": "You cannot attach to a restarting container, wait until it is running",
            "*": "You cannot attach to a stopped container, start it first",
        },
    ),
    "exec": (
        ("running",),
        {
            "paused": "Container {id} is paused, unpause the container before exec",
            "restarting": _RESTARTING,
            "*": "Container {id} is not running",
        },
    ),
    "kill": (_LIVE, {"*": "Cannot kill container: {ref}: Container {id} is not running"}),
    "top": (
        ("running", "paused"),
        {"restarting": _RESTARTING, "*": "Container {id} is not running"},
    ),
    "pause": (
        ("running",),
        {
            "paused": "Container {id} is already paused",
            "restarting": _RESTARTING,
            "*": "Container {id} is not running",
        },
    ),
    "unpause": (("paused",), {"*": "Container {id} is not paused"}),
    "remove": (
        ("created", "exited", "dead"),
        {
            # Docker 20.10's words (checked against its daemon)
            "restarting": "You cannot remove a restarting container {id}. Stop the container "
            "before attempting removal or force remove",
            "*": 'cannot remove container "/{name}": container is running: stop the container '
            "before removing or force remove",
        },
    ),
}
# Any other verb (commit, export, diff, rename, cp …) acts on anything but a dead container.
_USABLE = (
    ("created", "running", "paused", "restarting", "exited"),
    {"*": "You cannot {verb} container {id} which is Dead"},
)


class Container:
    """One container's files; ``config`` is durable, ``state`` is re-derived on load."""

    def __init__(self, paths: Paths, cid: str) -> None:
        self.paths = paths
        self.id = cid
        self.dir = paths.container(cid)
        broken = ""  # why this container's files cannot be trusted
        try:
            self.config: dict[str, Any] = _read_record(
                os.path.join(self.dir, "config.v2.json"), _CONFIG_KEYS
            )
        except FileNotFoundError:
            if not os.path.isdir(self.dir):  # removed meanwhile
                raise
            self.config = stub_config(paths, cid)  # a folder only appears with its config
            broken = "config.v2.json: no such file or directory"
        except ValueError as exc:
            self.config = stub_config(paths, cid)
            broken = f"config.v2.json: {exc}"
        try:
            self.state: dict[str, Any] = _read_record(
                os.path.join(self.dir, "state.json"), _STATE_KEYS
            )
        except FileNotFoundError:  # never changed since create
            self.state = fresh_state()
        except ValueError as exc:
            self.state = fresh_state()
            broken = broken or f"state.json: {exc}"
        if broken:
            self.state.update(
                Status="dead",
                Dead=True,
                Running=False,
                Paused=False,
                Pid=0,
                Error=broken,
                MonitorPid=0,
                MonitorStart=None,
            )

    @property
    def dead(self) -> bool:
        """Its files could not be read: only ``inspect``, ``logs`` and ``rm`` apply."""
        return bool(self.state.get("Dead"))

    def ensure_state(self, verb: str, ref: str = "") -> None:
        """Refuse ``verb`` (``start``, ``kill``, ``commit`` …) in this container's status with
        Docker's Conflict; ``ref`` is what the user named it by (some messages quote it)."""
        allowed, refusals = _VERB_STATES.get(verb, _USABLE)
        status = self.state["Status"]
        if status not in allowed:
            text = refusals.get(status, refusals["*"])
            raise Conflict(text.format(verb=verb, id=self.id, ref=ref, name=self.name))

    @property
    def name(self) -> str:
        name: str = self.config["Name"]
        return name.lstrip("/")

    @property
    def rundir(self) -> str:
        return os.path.join(self.paths.run, self.id)

    @property
    def layer_dir(self) -> str:
        return self.paths.layer(self.config["Runtime"]["Layer"])

    @property
    def running(self) -> bool:
        """Docker's Running: up, paused, or waiting to be restarted by its policy."""
        return self.state["Status"] in _LIVE

    def lock(self) -> locked:
        """``with c.lock():`` this container's flock; NoSuchContainer once it is gone."""
        return _ContainerLock(self)

    def save_state(self, durable: bool = True) -> None:
        write_json(os.path.join(self.dir, "state.json"), self.state, durable=durable)

    def save_config(self) -> None:
        write_json(os.path.join(self.dir, "config.v2.json"), self.config)

    def cgroup(self) -> Cgroup:
        if os.geteuid() != 0 or os.environ.get("DOCKERLAB_ROOTLESS") == "1":
            from dockerlab.engine.runtime.cgroups.none import NoCgroup

            return NoCgroup(f"dockerlab/{self.id}", self.state.get("Pid") or 0)  # rootless
        from dockerlab.engine.runtime.cgroups import open_cgroup

        return open_cgroup(f"dockerlab/{self.id}")

    # ---- reconciling with the system ------------------------------------------------------
    def exit_file(self) -> str:
        return os.path.join(self.rundir, "exit.json")

    def monitor_file(self) -> str:
        return os.path.join(self.rundir, "monitor.json")

    def needs_sync(self) -> bool:
        if self.state["Status"] not in _LIVE:
            # an exit to record, or a monitor whose starter died before saying so
            return os.path.exists(self.exit_file()) or os.path.exists(self.monitor_file())
        if os.path.exists(self.exit_file()):
            return True
        return not L.pid_alive(self.state["MonitorPid"], self.state["MonitorStart"])

    def refresh(self, locked: bool = False) -> None:
        """Fold the monitor's news into the state. Takes the lock only when something
        changed; ``locked`` says the caller already holds it (flock is not re-entrant)."""
        if locked:
            self.state = Container(self.paths, self.id).state
        if self.dead:  # nothing of it is trusted: it stays dead until removed
            return
        if self.needs_sync():
            if locked:
                self.sync()
            else:
                with self.lock():
                    self.state = Container(self.paths, self.id).state
                    if self.needs_sync():
                        self.sync()
        elif self.follows_restarts():
            self.follow_restarts(locked)
        if self.state["Status"] in ("running", "paused"):
            frozen = self.cgroup().frozen()
            self.state["Paused"] = frozen
            self.state["Status"] = "paused" if frozen else "running"

    def sync(self) -> None:
        """(locked) Apply ``exit.json``, adopt a running monitor, or clean up a dead one."""
        try:
            record = read_json(self.exit_file())
        except (FileNotFoundError, ValueError):
            record = None
        if record is None and not self.running:
            try:
                mon = read_json(self.monitor_file())
            except (FileNotFoundError, ValueError):
                mon = None
            if mon and L.pid_alive(mon["monitor"], mon["monitor_start"]):
                self.adopt(mon)
                return
        if record is None:
            self.cleanup_orphan()
            record = {
                "ExitCode": 255,
                "OOMKilled": False,
                "Error": "the container's monitor died",
                "FinishedAt": time_now(),
            }
            from dockerlab.engine import events  # the monitor could not tell: we saw it

            events.container(self.paths, self.config, "die", {"exitCode": "255"})
        self.state.update(
            Running=False,
            Paused=False,
            Pid=0,
            MonitorPid=0,
            MonitorStart=None,
            ExitCode=record["ExitCode"],
            OOMKilled=record.get("OOMKilled", False),
            Error=record.get("Error", ""),
            FinishedAt=record["FinishedAt"],
            Restarting=False,
            RestartCount=record.get("RestartCount", self.state.get("RestartCount", 0)),
        )
        self.state["Status"] = "created" if record.get("StartFailed") else "exited"
        self.state.pop("Network", None)  # the monitor gave its address back
        self.state.pop("Networks", None)
        self.health_stopped()
        self.save_state()
        for path in (self.exit_file(), self.monitor_file()):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def adopt(self, report: dict[str, Any]) -> None:
        """(locked) Record a running monitor's report as this container's state."""
        self.state.update(
            Status="running",
            Running=True,
            Paused=False,
            Pid=report["pid"],
            ExitCode=0,
            Error="",
            OOMKilled=False,
            StartedAt=report["started"],
            FinishedAt=ZERO_TIME,
            MonitorPid=report["monitor"],
            MonitorStart=report["monitor_start"],
            Restarting=False,
            RestartCount=report.get("restarts", 0),
        )
        if report.get("network") or self.state.get("Network"):
            self.state["Network"] = report.get("network")  # its endpoint on the bridge
        if report.get("ports") or self.state.get("Ports"):
            self.state["Ports"] = report.get("ports")  # its published ports, this run's
        if report.get("sandbox"):  # kept after it stops, as Docker's inspect shows it
            self.state["Sandbox"] = report["sandbox"]
        if report.get("networks") or self.state.get("Networks"):
            self.state["Networks"] = report.get("networks")  # on its user networks
        from dockerlab.engine.runtime.health import probe_command, starting

        if probe_command(self.config["Config"]) is not None:
            self.state["Health"] = starting(self.state.get("Health"))
        # Not fsynced: after a crash, "running" is re-derived from the monitor's own record.
        # The caller holds the lock, so an --rm monitor cannot rename the folder meanwhile.
        self.save_state(durable=False)

    def health_stopped(self) -> None:
        """(locked) Its probes have stopped (it ended or was paused): Docker then calls it
        ``unhealthy``, keeping its failing streak and log."""
        if self.state.get("Health"):
            self.state["Health"]["Status"] = "unhealthy"

    # ---- restart policies: the monitor restarts the process, the state follows -----------
    def follows_restarts(self) -> bool:
        """Whether its monitor may have restarted the process since the state was saved."""
        status = self.state["Status"]
        if status == "restarting":
            return True
        policy = self.config["HostConfig"].get("RestartPolicy") or {}
        return status in _LIVE and policy.get("Name") not in (None, "", "no")

    def _monitor_moved(self) -> dict[str, Any] | None:
        """The monitor's record when it says something the state does not (a restart)."""
        try:
            mon = read_json(self.monitor_file())
        except (OSError, ValueError):
            return None
        if not isinstance(mon, dict):
            return None
        restarting = bool(mon.get("restarting"))
        if (
            mon.get("pid") == self.state["Pid"]
            and restarting == bool(self.state.get("Restarting"))
            and mon.get("restarts", 0) == self.state.get("RestartCount", 0)
        ):  # (a quick exit: one wait may follow another with no running seen between)
            return None
        return mon

    def follow_restarts(self, locked: bool) -> None:
        """Fold a restart (or the wait before one) that the monitor recorded into the state."""
        if self._monitor_moved() is None:
            return
        if not locked:
            with self.lock():
                self.state = Container(self.paths, self.id).state
                if self.needs_sync():
                    self.sync()
                elif self.follows_restarts():
                    self.follow_restarts(True)
            return
        mon = self._monitor_moved()
        if mon is None:
            return
        if mon.get("restarting"):
            last = mon.get("exit") or {}
            self.state.update(
                Status="restarting",
                Running=True,
                Restarting=True,
                Paused=False,
                Pid=0,
                ExitCode=last.get("ExitCode", 0),
                OOMKilled=last.get("OOMKilled", False),
                FinishedAt=last.get("FinishedAt") or time_now(),
                RestartCount=mon.get("restarts", 0),
            )
            self.save_state(durable=False)
        else:
            finished = self.state["FinishedAt"]  # Docker keeps the last exit's time
            self.adopt(mon)
            self.state["FinishedAt"] = finished
            self.save_state(durable=False)

    def cleanup_dead(self) -> None:
        """(locked) Stop whatever a dead container may still hold: its monitor (named by the
        runtime's own record, as the state cannot be read), processes, mounts, cgroup."""
        try:
            mon = read_json(self.monitor_file())
            pid, start = int(mon["monitor"]), mon["monitor_start"]
        except (OSError, ValueError, KeyError, TypeError):
            pid, start = 0, None
        if L.pid_alive(pid, start):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5
            while L.pid_alive(pid, start) and time.monotonic() < deadline:
                time.sleep(0.01)
        self.cleanup_orphan()

    def cleanup_orphan(self) -> None:
        """Kill what is left of a container whose monitor died, unmount, drop its cgroup."""
        cg = self.cgroup()
        try:
            cg.thaw()
            cg.kill_all(signal.SIGKILL)
        except (OSError, DockerlabError):  # no cgroup (never started): nothing to kill
            pass
        deadline = time.monotonic() + 2
        while cg.pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        cg.destroy()
        try:
            L.umount(os.path.join(self.layer_dir, "merged"), L.MNT_DETACH)
        except OSError:
            pass
        from dockerlab.engine.runtime import volmount

        for m in self.config.get("MountPoints") or []:  # volumes it kept mounted
            if m.get("LocalMount"):
                volmount.detach(os.path.dirname(m["Source"]), self.id)
        # its addresses, which its monitor could not give back (found by its id: a dead
        # container's config may be unreadable); its veth went with its namespace
        from dockerlab.engine.network import ipam

        ipam.release_all(os.path.join(self.paths.root, "network"), self.id)
        from dockerlab.engine.network import ports  # its host ports (its proxy died with it)

        ports.release(os.path.join(self.paths.root, "network"), self.id)
        # its namespace's bind mount, which its monitor could not undo (named by the state,
        # else by the monitor's own record: a dead container's state may be unreadable)
        keys = {(self.state.get("Sandbox") or {}).get("SandboxKey") or ""}
        try:
            keys.add(read_json(self.monitor_file())["sandbox"]["SandboxKey"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        from dockerlab.engine.network.runfiles import release_key

        for key in keys:
            if isinstance(key, str) and key.startswith(self.paths.run + "/netns/"):
                release_key(key)
        import shutil

        shutil.rmtree(self.rundir, ignore_errors=True)


class _ContainerLock(locked):
    def __init__(self, c: Container) -> None:
        super().__init__(os.path.join(c.dir, "lock"))
        self.container = c

    def __enter__(self) -> int:
        try:
            fd = super().__enter__()
        except FileNotFoundError:
            raise NoSuchContainer(self.container.id) from None
        if not os.path.isdir(self.container.dir):  # removed while we waited
            self.__exit__()
            raise NoSuchContainer(self.container.id)
        return fd


class _RegistryLock(locked):
    def __init__(self, store: ContainerStore) -> None:
        super().__init__(os.path.join(store.paths.containers, ".lock"))
        self.store = store

    def __enter__(self) -> int:
        fd = super().__enter__()
        try:
            for entry in os.listdir(self.store.paths.containers):
                path = os.path.join(self.store.paths.containers, entry)
                # A create always finishes under this lock: one seen now was cut short. A
                # removal may still be under way by a live monitor, holding its lock.
                if entry.startswith(".creating-") or (
                    entry.startswith(".removing-") and not _busy(path)
                ):
                    self.store.discard(entry.split("-", 1)[1], path)
            self.store.sweep()  # what killed verbs left
        except BaseException:
            self.__exit__()
            raise
        return fd


def _busy(folder: str) -> bool:
    """Whether a live process holds the lock of this (renamed) container folder."""
    import fcntl

    try:
        fd = os.open(os.path.join(folder, "lock"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


class ContainerStore:
    def __init__(
        self, paths: Paths, finishers: dict[str, Callable[[str], bool]] | None = None
    ) -> None:
        self.paths = paths
        #: more kinds of abandoned work this store's sweeps finish (the engine passes the
        #: image store's recovery for a dead image writer)
        self.finishers = dict(finishers or {})
        paths.ensure()

    def registry(self) -> locked:
        """``with store.registry():`` the store-wide lock (names, creation, removal); taking
        it finishes what a crashed create or removal left behind."""
        return _RegistryLock(self)

    def sweep(self, everything: bool = False) -> list[dict[str, Any]]:
        """(registry-locked) Finish and remove what killed verbs left in tmp
        (:func:`~dockerlab.engine.work.sweep`): a dead build's containers are killed and
        removed, the container a dead commit froze is thawed."""
        finishers: dict[str, Callable[[str], bool]] = {
            "build": lambda path: remove_owned_containers(self, os.path.basename(path)),
            "commit": lambda path: thaw_frozen(self.paths, path),
            **self.finishers,
        }
        return work.sweep(self.paths, everything, finishers)

    def ids(self) -> list[str]:
        return [
            e for e in os.listdir(self.paths.containers) if not e.startswith(".") and len(e) == 64
        ]

    def load(self, cid: str) -> Container | None:
        try:
            return Container(self.paths, cid)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def all(self) -> list[Container]:
        out = []
        for cid in self.ids():
            c = self.load(cid)
            if c is not None:
                out.append(c)
        return out

    def find(self, ref: str) -> Container:
        """By full ID, name, or unique ID prefix (Docker's order)."""
        if not ref:
            raise NoSuchContainer(ref)
        ids = self.ids()
        if ref in ids:
            c = self.load(ref)
            if c:
                c.refresh()
                return c
        name = ref.lstrip("/")
        matches = []
        containers = self.all()
        for c in containers:
            if c.name == name:
                c.refresh()
                return c
        for c in containers:
            if c.id.startswith(ref):
                matches.append(c)
        if len(matches) > 1:
            raise DockerlabError(f"multiple IDs found with provided prefix: {ref}")
        if not matches:
            raise NoSuchContainer(ref)
        matches[0].refresh()
        return matches[0]

    def names(self) -> dict[str, str]:
        return {c.name: c.id for c in self.all()}

    def claim_name(self, name: str, cid: str) -> None:
        """(registry-locked) Refuse a name already in use, with Docker's words."""
        owner = self.names().get(name)
        if owner and owner != cid:
            raise Conflict(
                f'Conflict. The container name "/{name}" is already in use by '
                f'container "{owner}". You have to remove (or rename) that '
                "container to be able to reuse that name."
            )

    # ---- creation and removal -------------------------------------------------------------
    def discard(self, cid: str, staging: str | None = None) -> None:
        """Remove every file a container owns (its folder, layers, runtime files).

        The folder is first renamed away in one step, so a verb racing us can never
        recreate a file (its lock) inside a half-deleted folder.
        """
        trash = os.path.join(self.paths.containers, f".removing-{cid}")
        try:
            os.rename(self.paths.container(cid), trash)
        except FileNotFoundError:
            pass

        from dockerlab.engine import rootless
        from dockerlab.engine.network.runfiles import forget

        forget(self.paths, cid)  # its links, as a parent and as a child

        for link in (f"{cid}", f"{cid}-init"):
            try:
                os.unlink(os.path.join(self.paths.overlay, "l", _short(link)))
            except FileNotFoundError:
                pass
        # The renamed folder goes last: while it is there, a removal killed half way is
        # finished by the next load (the layers are the big part).
        for path in (
            staging,
            self.paths.layer(cid),
            self.paths.layer(cid + "-init"),
            os.path.join(self.paths.run, cid),
            trash,
        ):
            if path:
                rootless.rmtree(path)  # (shutil's, and in root mode only that)


def _short(layer: str) -> str:
    """The short link name of a container's layer folder (fits many in one mount option)."""
    return "c" + layer[:12] + ("i" if layer.endswith("-init") else "")


def make_layers(paths: Paths, cid: str) -> tuple[str, str]:
    """Create the container's init layer and writable layer; returns their short links."""
    links = os.path.join(paths.overlay, "l")
    os.makedirs(links, exist_ok=True)
    init = paths.layer(cid + "-init")
    for d in INIT_DIRS:
        os.makedirs(os.path.join(init, "diff", d), exist_ok=True)
    for f in INIT_FILES:  # 0755, as Docker's init layer makes them
        fd = os.open(os.path.join(init, "diff", f), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o755)
        os.fchmod(fd, 0o755)
        os.close(fd)
    for name, target in INIT_LINKS:
        if not os.path.lexists(os.path.join(init, "diff", name)):
            os.symlink(target, os.path.join(init, "diff", name))
    layer = paths.layer(cid)
    for d in ("diff", "work", "merged"):
        os.makedirs(os.path.join(layer, d), exist_ok=True)
    out = []
    for name, folder in ((cid + "-init", init), (cid, layer)):
        short = _short(name)
        target = os.path.join(links, short)
        if os.path.lexists(target):
            os.unlink(target)
        os.symlink(os.path.join("..", os.path.basename(folder), "diff"), target)
        out.append(f"l/{short}")
    return out[0], out[1]


def remove_anonymous_volumes(paths: Paths, config: dict[str, Any]) -> None:
    from dockerlab.engine.containers.volumes import VolumeStore

    volumes = VolumeStore(paths)
    for m in config.get("MountPoints", []):
        if m.get("Type") == "volume" and m.get("Anonymous"):
            volumes.remove_quietly(m["Name"])


def thaw_frozen(paths: Paths, path: str) -> bool:
    """A commit killed while its container was frozen (its work folder ``path`` names it
    in ``frozen``): thaw it, unless a user paused it."""
    try:
        with open(os.path.join(path, "frozen")) as f:
            cid = f.read().strip()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return True
    valid = len(cid) == 64 and all(ch in "0123456789abcdef" for ch in cid)
    c = ContainerStore(paths).load(cid) if valid else None
    if c is not None and c.state.get("Status") != "paused":
        try:
            c.cgroup().thaw()
        except OSError:
            pass
    return True


def remove_owned_containers(store: ContainerStore, owner_name: str) -> bool:
    """(registry-locked) Kill and remove the intermediate containers of a dead build."""
    for c in store.all():
        if c.config.get("Runtime", {}).get("Owner") != owner_name:
            continue
        if os.path.isdir(c.rundir) and not c.running:
            # killed while its monitor was starting: let it say where it is first
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and not (
                os.path.exists(c.monitor_file()) or os.path.exists(c.exit_file())
            ):
                time.sleep(0.01)
        try:
            with c.lock():
                c.cleanup_dead()  # its monitor, processes, mounts, cgroup
                store.discard(c.id)
        except NoSuchContainer:
            continue
        from dockerlab.engine import events

        events.container(store.paths, c.config, "destroy")
        remove_anonymous_volumes(store.paths, c.config)
    return True
