"""``create``: translate a Docker create body plus the image's config into a container.

Pure translation first (:func:`compose`), the kernel and disk last (:func:`create`).
"""

from __future__ import annotations

import json
import os
import re

from dockerlab.engine.atomic import fsync_dir, write_new
from dockerlab.engine.basics import time_now
from dockerlab.engine.checks import parse_signal
from dockerlab.engine.containers import hostconfig
from dockerlab.engine.containers.store import make_layers
from dockerlab.engine.ids import check_name, new_id, random_name
from dockerlab.engine.runtime.security import normalize_host_config
from dockerlab.errors import InvalidParameter, SystemFailure, describe

TYPE_CHECKING = False  # typing costs the CLI's start milliseconds
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.containers.store import ContainerStore
    from dockerlab.engine.images.store import ImageStore
    from dockerlab.engine.paths import Paths

_NETWORKS = {"none", "host", "bridge", "default", ""}
_RT_SIGNAL = re.compile(r"RTMIN(\+([1-9]|1[0-5]))?\Z|RTMAX(-([1-9]|1[0-4]))?\Z")


def merge_env(image_env: list[str], env: list[str]) -> list[str]:
    """The image's Env overridden key by key by the user's (Docker's order kept)."""
    out: dict[str, str] = {}
    for item in [*image_env, *env]:
        key = item.split("=", 1)[0]
        out.pop(key, None)
        out[key] = item
    return list(out.values())


def wire_strings(value: Any) -> Any:
    """``value`` as a Docker daemon receives it: the client's Go JSON turns each byte that is
    not UTF-8 (a lone surrogate here, as Python decodes such bytes in argv) into U+FFFD."""
    if isinstance(value, str):
        try:
            value.encode()
            return value
        except UnicodeEncodeError:
            return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)
    if isinstance(value, dict):
        return {wire_strings(k): wire_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [wire_strings(v) for v in value]
    return value


def check_stop_signal(value: object) -> None:
    """moby's ``signal.ParseSignal`` at create: any number but 0, or a known name."""
    text = str(value)
    if text.isdigit() and text.isascii():
        if int(text) != 0:
            return
    elif _RT_SIGNAL.match(text.upper().removeprefix("SIG")):
        return  # Docker's map names RTMIN+1 … RTMAX-1 too
    else:
        try:
            parse_signal(text)
            return
        except InvalidParameter:
            pass
    raise InvalidParameter(f"Invalid signal: {value}")


def compose(body: dict[str, Any], image_id: str, image: dict[str, Any], cid: str) -> dict[str, Any]:
    """The container's Config and HostConfig from the request and the image (no I/O)."""
    icfg = image.get("config") or {}
    host = dict(body.get("HostConfig") or {})
    cfg = {k: v for k, v in body.items() if k != "HostConfig"}
    entrypoint = cfg.get("Entrypoint")
    cmd = cfg.get("Cmd")
    if entrypoint is None:
        entrypoint = icfg.get("Entrypoint")
        if not cmd:
            cmd = icfg.get("Cmd")
    elif entrypoint == [""] or entrypoint == "":
        entrypoint = None  # `--entrypoint ''` clears the image's entrypoint
    if isinstance(entrypoint, str):
        entrypoint = [entrypoint]
    if isinstance(cmd, str):
        cmd = ["/bin/sh", "-c", cmd]
    argv = [*(entrypoint or []), *(cmd or [])]
    if not argv:
        raise InvalidParameter("no command specified")
    exposed = icfg.get("ExposedPorts")
    if host.get("PortBindings") or host.get("PublishAllPorts") or cfg.get("ExposedPorts"):
        from dockerlab.engine.network import ports

        ports.check_request(cfg, host)  # before the network's look-up, as the daemon's
        exposed = ports.exposed_ports(cfg, icfg)
    network = host.get("NetworkMode") or "default"
    if (
        network not in _NETWORKS
        and not network.startswith("container:")
        and not body.get("UserNetworkChecked")
    ):
        raise InvalidParameter(f"network {network} not found")
    host["NetworkMode"] = network  # "default" as Docker stores it when none was named
    # HOSTNAME and TERM are the process's (runtime/process.daemon_env), not Config.Env's
    env = merge_env(icfg.get("Env") or [], cfg.get("Env") or [])
    hostname = cfg.get("Hostname") or (cid[:12] if network != "host" else os.uname().nodename)
    workdir = cfg.get("WorkingDir") or icfg.get("WorkingDir", "")
    if cfg.get("WorkingDir") and not cfg["WorkingDir"].startswith("/"):
        raise InvalidParameter(
            f"the working directory '{cfg['WorkingDir']}' is invalid, it needs to be an "
            "absolute path"
        )
    labels = {**(icfg.get("Labels") or {}), **(cfg.get("Labels") or {})}
    volumes = {**(icfg.get("Volumes") or {}), **(cfg.get("Volumes") or {})}
    config = {
        "Hostname": hostname,
        "Domainname": cfg.get("Domainname") or "",
        "User": cfg.get("User") or icfg.get("User", ""),
        "AttachStdin": bool(cfg.get("AttachStdin")),
        "AttachStdout": bool(cfg.get("AttachStdout", True)),
        "AttachStderr": bool(cfg.get("AttachStderr", True)),
        **({"ExposedPorts": exposed} if exposed else {}),
        "Tty": bool(cfg.get("Tty")),
        "OpenStdin": bool(cfg.get("OpenStdin")),
        "StdinOnce": bool(cfg.get("StdinOnce")),
        "Env": env,
        "Cmd": cmd,
        "Image": cfg.get("Image"),
        "Volumes": volumes or None,
        "WorkingDir": workdir,
        "Entrypoint": entrypoint,
        **({"MacAddress": cfg["MacAddress"]} if cfg.get("MacAddress") else {}),
        "OnBuild": None,
        "Labels": labels,
    }
    if cfg.get("StopSignal"):
        check_stop_signal(cfg["StopSignal"])
    stop_signal = cfg.get("StopSignal") or icfg.get("StopSignal")
    if stop_signal:
        config["StopSignal"] = stop_signal
    if cfg.get("StopTimeout") is not None:  # 0 is a timeout too (Docker keeps a pointer)
        config["StopTimeout"] = cfg["StopTimeout"]
    healthcheck = merge_healthcheck(cfg.get("Healthcheck"), icfg.get("Healthcheck"))
    if healthcheck is not None:
        config["Healthcheck"] = healthcheck
    host = hostconfig.fill(host)  # Docker's 63 keys, defaulted; a flag sets only its own
    hostconfig.check(host)
    _mount_settings(host)  # checked and defaulted as the daemon keeps them
    normalize_host_config(host)  # CapAdd, CapDrop, Privileged, SecurityOpt as Docker keeps them
    return {
        "Id": cid,
        "Created": time_now(),
        "Path": argv[0],
        "Args": argv[1:],
        "Config": config,
        "HostConfig": host,
        "Image": image_id,
    }


_MIN_HEALTH_DURATION = 1_000_000  # moby's container.MinimumDuration: 1ms


def merge_healthcheck(
    user: dict[str, Any] | None, image: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The daemon's checks of the request's ``Healthcheck`` (its words), then the image's
    HEALTHCHECK filling each field the request left empty or zero (moby's ``merge``)."""
    if user is not None:
        for key in ("Interval", "Timeout", "StartPeriod"):
            value = user.get(key) or 0
            if value and value < _MIN_HEALTH_DURATION:
                raise InvalidParameter(f"{key} in Healthcheck cannot be less than 1ms")
        if (user.get("Retries") or 0) < 0:
            raise InvalidParameter("Retries in Healthcheck cannot be negative")
    if user is None:
        return dict(image) if image else None
    image = image or {}
    keys = ("Test", "Interval", "Timeout", "StartPeriod", "Retries")  # Go's field order
    return {k: user.get(k) or image.get(k) for k in keys if user.get(k) or image.get(k)}


DEFAULT_SHM_SIZE = 64 << 20


def _mount_settings(host: dict[str, Any]) -> None:
    """ReadonlyRootfs, ShmSize, VolumesFrom and Tmpfs as the daemon keeps them, checked."""
    host["ReadonlyRootfs"] = bool(host.get("ReadonlyRootfs"))
    shm = host.get("ShmSize") or 0
    if shm < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    host["ShmSize"] = shm or DEFAULT_SHM_SIZE
    host["VolumesFrom"] = host.get("VolumesFrom") or None
    for dest in host.get("Tmpfs") or {}:
        problem = _target_problem(dest)
        if problem:
            raise InvalidParameter(problem)
    for spec in host.get("VolumesFrom") or []:
        volumes_from_spec(spec)


def check_tmpfs(host: dict[str, Any]) -> None:
    """``--tmpfs`` options, refused when the container starts, as the daemon does."""
    from dockerlab.engine.runtime.rootfs import MountRefused, tmpfs_options

    for data in (host.get("Tmpfs") or {}).values():
        try:
            tmpfs_options(data)
        except MountRefused as exc:
            raise InvalidParameter(str(exc)) from None


def clean_path(path: str) -> str:
    """Go's ``path.Clean``, as the daemon cleans mount paths."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append(part)
        elif part not in ("", "."):
            parts.append(part)
    out = "/" * rooted + "/".join(parts)
    return out or "."


def _target_problem(target: str) -> str:
    """volume/mounts' checks of a destination: not the root, absolute."""
    if clean_path(target.replace("\\", "/")) == "/":
        return "invalid specification: destination can't be '/'"
    if not target.replace("\\", "/").startswith("/"):
        return f"invalid mount path: '{target}' mount path must be absolute"
    return ""


_PROPAGATION_MODES = frozenset({"private", "rprivate", "slave", "rslave", "shared", "rshared"})


def volumes_from_spec(spec: str) -> tuple[str, bool]:
    """``CONTAINER[:MODE]`` -> (container, writable), with the daemon's refusals."""
    if not spec:
        raise InvalidParameter("volumes-from specification cannot be an empty string")
    ref, sep, mode = spec.partition(":")
    if not sep:
        return ref, True
    kinds = _mode_kinds(mode)
    if not kinds or "propagation" in kinds or "copy" in kinds:
        raise InvalidParameter(f"invalid mode: {mode}")
    return ref, "ro" not in mode.split(",")


def _mode_kinds(mode: str) -> list[str]:
    """The kind of each of ``mode``'s options (rw, label, propagation, copy, consistency);
    [] when one is unknown or a kind is given twice (``linuxValidMountMode``)."""
    kinds = [next((k for k, group in _MODE_KINDS if m in group), "") for m in mode.split(",")]
    return [] if "" in kinds or len(set(kinds)) != len(kinds) else kinds


_MODE_KINDS = (
    ("rw", frozenset({"ro", "rw"})),
    ("label", frozenset({"z", "Z"})),
    ("propagation", _PROPAGATION_MODES),
    ("copy", frozenset({"nocopy"})),
    ("consistency", frozenset({"consistent", "cached", "delegated"})),
)


def _mount_error(kind: str, reason: str) -> InvalidParameter:
    return InvalidParameter(f'invalid mount config for type "{kind}": {reason}')


def check_mount(spec: dict[str, Any]) -> None:
    """The daemon's ``ValidateMountConfig`` of one HostConfig.Mounts entry, its words."""
    kind, target, source = spec.get("Type") or "", spec.get("Target") or "", spec.get("Source")
    if not target:
        raise _mount_error(kind, "field Target must not be empty")
    problem = _target_problem(target)
    if problem:
        raise _mount_error(kind, problem)
    if kind == "bind":
        if not source:
            raise _mount_error(kind, "field Source must not be empty")
        propagation = (spec.get("BindOptions") or {}).get("Propagation")
        if propagation and propagation not in _PROPAGATION_MODES:
            raise _mount_error(kind, f"invalid propagation mode: {propagation}")
        if spec.get("VolumeOptions") is not None:
            raise _mount_error(kind, "field VolumeOptions must not be specified")
        if not source.startswith("/"):
            raise _mount_error(kind, f"invalid mount path: '{source}' mount path must be absolute")
        if not os.path.exists(source):  # unlike -v, --mount never creates the source
            raise _mount_error(kind, f"bind source path does not exist: {source}")
    elif kind == "volume":
        if spec.get("BindOptions") is not None:
            raise _mount_error(kind, "field BindOptions must not be specified")
        if not source and spec.get("ReadOnly"):
            raise _mount_error(kind, "must not set ReadOnly mode when using anonymous volumes")
        options = spec.get("VolumeOptions") or {}
        driver = (options.get("DriverConfig") or {}).get("Name") or "local"
        if driver != "local":
            raise InvalidParameter(
                f'error looking up volume plugin {driver}: plugin "{driver}" not found'
            )
    elif kind == "tmpfs":
        if spec.get("BindOptions") is not None:
            raise _mount_error(kind, "field BindOptions must not be specified")
        if source:
            raise _mount_error(kind, "field Source must not be specified")
    else:
        raise _mount_error(kind, "mount type unknown")


def tmpfs_data(spec: dict[str, Any]) -> str:
    """``ConvertTmpfsOptions``: the size in the largest unit that divides it, the mode in
    octal (``ro`` travels as the mount point's RW)."""
    options = spec.get("TmpfsOptions") or {}
    out = []
    if options.get("Mode"):
        out.append(f"mode={options['Mode']:o}")
    size = options.get("SizeBytes") or 0
    if size:
        for suffix, divisor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % divisor == 0:
                out.append(f"size={size // divisor}{suffix}")
                break
        else:
            out.append(f"size={size}")
    return ",".join(out)


def mount_points(
    paths: Paths,
    config: dict[str, Any],
    host: dict[str, Any],
    volumes_from: list[tuple[list[dict[str, Any]], bool]] | None = None,
) -> list[dict[str, Any]]:
    """Docker's Mounts, in the daemon's order: ``--volumes-from`` (``volumes_from``: each
    container's MountPoints and whether this one may write), then ``-v`` binds, then
    ``--mount`` (both override the first; a ``--mount`` on a destination a bind or another
    ``--mount`` has, or a bind on a ``--tmpfs`` one, is refused), then the image's VOLUMEs
    where nothing is mounted (creating named volumes)."""
    from dockerlab.engine.containers.volumes import VolumeStore

    for spec in host.get("Mounts") or []:  # every refusal before any volume is made
        check_mount(spec)
    volumes = VolumeStore(paths)
    points: dict[str, dict[str, Any]] = {}
    for theirs, writable in volumes_from or []:
        for m in theirs:
            copy = {k: v for k, v in m.items() if k not in ("Anonymous", "NoCopy")}
            copy["RW"] = bool(m.get("RW")) and writable
            if m.get("Type") == "volume":
                copy["Mode"] = ""  # Docker's copy keeps no mode
                copy["NoCopy"] = True  # and copies nothing into it
            elif m.get("Type") == "bind":
                copy["Mode"] = ""
            points[m["Destination"]] = copy
    binds: set[str] = set()
    tmpfs = {clean_path(d) for d in host.get("Tmpfs") or {}}
    for spec in host.get("Binds") or []:
        parts = spec.split(":")
        if len(parts) == 1:
            source, dest, mode = "", parts[0], ""
        elif len(parts) == 2:
            source, dest, mode = parts[0], parts[1], ""
        elif len(parts) == 3:
            source, dest, mode = parts
        else:
            raise InvalidParameter(f"invalid volume specification: '{spec}'")
        if not dest.startswith("/"):
            raise InvalidParameter(
                f"invalid volume specification: '{spec}': invalid mount "
                'config for type "bind": invalid mount path: '
                f"'{dest}' mount path must be absolute"
            )
        if mode and not _mode_kinds(mode):
            raise InvalidParameter(f"invalid mode: {mode}")
        rw = "ro" not in mode.split(",")
        dest = clean_path(dest)
        if dest in tmpfs:
            raise InvalidParameter(f"Duplicate mount point: {dest}")
        binds.add(dest)
        if source.startswith("/"):
            if not os.path.exists(source):
                os.makedirs(source)  # Docker creates a missing host folder
            points[dest] = {
                "Type": "bind",
                "Source": source,
                "Destination": dest,
                "Mode": mode,
                "RW": rw,
                "Propagation": next(
                    (m for m in mode.split(",") if m in _PROPAGATION_MODES), "rprivate"
                ),
            }
        else:
            vol = volumes.create(source or None)
            points[dest] = {
                "Type": "volume",
                "Name": vol["Name"],
                "Source": vol["Mountpoint"],
                "Destination": dest,
                "Driver": "local",
                "Mode": mode or "z",
                "RW": rw,
                "Propagation": "",
                "Anonymous": not source,
            }
            if "nocopy" in mode.split(","):
                points[dest]["NoCopy"] = True
            if vol.get("Options"):
                points[dest]["LocalMount"] = vol["Options"]
    for spec in host.get("Mounts") or []:
        dest = clean_path(spec["Target"])
        if dest in binds:
            raise InvalidParameter(f"Duplicate mount point: {spec['Target']}")
        binds.add(dest)
        rw = not spec.get("ReadOnly")
        kind = spec["Type"]
        if kind == "bind":
            propagation = (spec.get("BindOptions") or {}).get("Propagation")
            points[dest] = {
                "Type": "bind",
                "Source": clean_path(spec["Source"]),
                "Destination": dest,
                "Mode": "",
                "RW": rw,
                "Propagation": propagation or "rprivate",
            }
            if (spec.get("BindOptions") or {}).get("NonRecursive"):
                points[dest]["NonRecursive"] = True  # its submounts left out
        elif kind == "volume":
            options = spec.get("VolumeOptions") or {}
            vol = volumes.create(
                spec.get("Source") or None,
                options.get("Labels") or None,
                options=(options.get("DriverConfig") or {}).get("Options") or None,
            )
            points[dest] = {
                "Type": "volume",
                "Name": vol["Name"],
                "Source": vol["Mountpoint"],
                "Destination": dest,
                "Driver": "local",
                "Mode": "z",
                "RW": rw,
                "Propagation": "",
                "Anonymous": not spec.get("Source"),
            }
            if options.get("NoCopy"):
                points[dest]["NoCopy"] = True
            if vol.get("Options"):  # mounted by the local driver while in use
                points[dest]["LocalMount"] = vol["Options"]
        else:
            points[dest] = {
                "Type": "tmpfs",
                "Source": "",
                "Destination": dest,
                "Mode": "",
                "RW": rw,
                "Propagation": "",
                "Data": tmpfs_data(spec),
            }
    for dest in map(clean_path, config.get("Volumes") or {}):
        if dest in tmpfs:
            continue  # Docker mounts the tmpfs there, not a volume
        if dest not in points:
            vol = volumes.create(None)
            points[dest] = {
                "Type": "volume",
                "Name": vol["Name"],
                "Source": vol["Mountpoint"],
                "Destination": dest,
                "Driver": "local",
                "Mode": "",
                "RW": True,
                "Propagation": "",
                "Anonymous": True,
            }
    return list(points.values())


INIT_BINARIES = ("/usr/bin/tini-static", "/usr/bin/docker-init", "/usr/bin/tini")


def init_binary() -> str:
    """The host's static tini, bind-mounted as the container's /sbin/docker-init (``--init``)."""
    for path in INIT_BINARIES:
        if os.access(path, os.X_OK):
            return path
    raise InvalidParameter(
        "--init needs tini on the host: install Debian's tini (apt-get install tini)"
    )


def _materialize(
    images: ImageStore,
    paths: Paths,
    record: dict[str, Any],
    staging: str,
    owner: str = "",
    volumes_from: list[tuple[list[dict[str, Any]], bool]] | None = None,
    driver: str = "overlay2",
) -> None:
    """(registry-locked) The container's folders and layers, made in ``staging`` and then
    renamed into place: until that rename nobody sees it, and the next load removes it.
    ``driver``: the state root's storage driver (vfs copies the image's layers here)."""
    cid = record["Id"]
    os.makedirs(staging)
    init_link, _ = make_layers(paths, cid)
    final = paths.container(cid)
    record["MountPoints"] = mount_points(
        paths, record["Config"], record["HostConfig"], volumes_from
    )
    lowers = images.lowerdirs(record["Image"], relative=True)
    record["Runtime"] = {"Layer": cid, "LowerLinks": [init_link, *lowers]}
    if driver != "overlay2":
        record["Runtime"]["Driver"] = driver
    if driver == "vfs":  # the container's root: a full copy of its layers, made now
        from dockerlab.engine.storage import vfs

        vfs.populate(
            [os.path.join(paths.overlay, link) for link in record["Runtime"]["LowerLinks"]],
            os.path.join(paths.layer(cid), "merged"),
        )
    if owner:  # the work (a build) it belongs to: removed with it if that dies
        record["Runtime"]["Owner"] = owner
    if record["HostConfig"].get("Init"):
        record["Runtime"]["InitPath"] = init_binary()
    if record["HostConfig"]["NetworkMode"] in ("default", "bridge"):
        from dockerlab.engine.network import record as network

        record["BridgeNetwork"] = network.default_bridge(paths)  # what its monitor attaches to
    record["ResolvConfPath"] = os.path.join(final, "resolv.conf")
    record["HostnamePath"] = os.path.join(final, "hostname")
    record["HostsPath"] = os.path.join(final, "hosts")
    if record["HostConfig"]["NetworkMode"].startswith("container:"):  # the other's, at start
        record["ResolvConfPath"] = record["HostnamePath"] = record["HostsPath"] = ""
    record["LogPath"] = os.path.join(final, f"{cid}-json.log")
    # Only the config is durable; state.json appears at the first change (absent means
    # fresh) and hosts/hostname/resolv.conf are written by the monitor at each start.
    write_new(os.path.join(staging, "config.v2.json"), json.dumps(record).encode())
    os.rename(staging, final)
    fsync_dir(paths.containers)


def create(
    store: ContainerStore,
    images: ImageStore,
    body: dict[str, Any],
    name: str | None,
    owner: str = "",
) -> dict[str, Any]:
    body, name = wire_strings(body), wire_strings(name)
    from dockerlab.engine.network import sandbox

    sandbox.check_mode(body, body.get("HostConfig") or {})  # the daemon's first check
    if not body.get("Image"):
        raise InvalidParameter("No image specified")
    image_id = images.resolve(body["Image"])
    image = images.config(image_id)
    if name:
        name = check_name(name)
    cid = new_id()
    from dockerlab.engine.network import networks as user_networks

    attach = user_networks.plan_attachments(store.paths, body)  # [] off user networks
    record = compose({**body, "UserNetworkChecked": True}, image_id, image, cid)
    record.pop("UserNetworkChecked", None)
    if attach:
        record["UserNetworks"] = attach
    warnings = verify_host_config(record["HostConfig"])
    if os.geteuid() != 0 or os.environ.get("DOCKERLAB_ROOTLESS") == "1":
        warnings += rootless_limits(record)  # (before ports: -p is refused there)
    if record["HostConfig"].get("PortBindings"):
        from dockerlab.engine.network import ports

        warnings += ports.warnings(record["HostConfig"])
    paths = store.paths
    sandbox.resolve_joined(store, record["HostConfig"])  # container:<ref> by its full ID
    if record["HostConfig"].get("Links"):
        from dockerlab.engine.network import links

        record["LinkIds"] = links.register(
            store, record["HostConfig"]["Links"], record["HostConfig"]["NetworkMode"]
        )
        from dockerlab.engine.network.runfiles import mark

        mark(paths, cid, record["LinkIds"])  # (a mark without its parent is ignored)
    from dockerlab.engine.storage import drivers

    driver = drivers.current(paths)["Driver"]  # chosen once per state root
    volumes_from = []
    for spec in record["HostConfig"].get("VolumesFrom") or []:
        ref, writable = volumes_from_spec(spec)
        volumes_from.append((list(store.find(ref).config.get("MountPoints") or []), writable))
    with store.registry():
        if name:
            store.claim_name(name, cid)
        else:
            name = random_name(set(store.names()))
        record["Name"] = "/" + name
        staging = os.path.join(paths.containers, f".creating-{cid}")
        try:
            _materialize(images, paths, record, staging, owner, volumes_from, driver)
        except BaseException as exc:  # nothing half-made is left, whatever went wrong
            store.discard(cid, staging)
            if isinstance(exc, OSError):
                raise SystemFailure(
                    f"failed to create container {cid[:12]}: {describe(exc)}", exc.errno
                ) from exc
            raise
    from dockerlab.engine import events

    events.container(paths, record, "create")
    return {"Id": cid, "Warnings": warnings}


_CGROUP_KEYS = (
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "KernelMemory",
    "NanoCpus",
    "CpuShares",
    "CpuPeriod",
    "CpuQuota",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CpusetCpus",
    "CpusetMems",
    "BlkioWeight",
    "BlkioWeightDevice",
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
    "OomKillDisable",
)


def rootless_limits(record: dict[str, Any]) -> list[str]:
    """Rootless mode (engine/rootless.py): no cgroup limits (one message says why), no
    bridge network yet (the default falls back to none, said in a warning); returns the
    warnings, the user namespace's own first."""
    from dockerlab.engine import rootless

    host = record["HostConfig"]
    asked = [k for k in _CGROUP_KEYS if host.get(k)]
    if host.get("PidsLimit") not in (None, 0, -1):
        asked.append("PidsLimit")
    if asked:
        raise InvalidParameter(f"{rootless.CGROUP_ADVICE} (asked: {', '.join(asked)})")
    warnings = rootless.preflight()
    network = host.get("NetworkMode")
    why = rootless.network_stack()
    if not why:  # engine/network/usermode: bridges in the user's network namespace
        return warnings
    if record.get("UserNetworks") or network == "bridge" or host.get("PortBindings"):
        raise InvalidParameter(f"{why}: use --network none or --network host")
    if network == "default":
        host["NetworkMode"] = "none"
        warnings.append(f"{why}: {rootless.NETWORK_FALLBACK}")
    return warnings


def verify_host_config(host: dict[str, Any], update: bool = False) -> list[str]:
    """The daemon's checks of a HostConfig (moby ``verifyContainerSettings``) in its order
    and words: restart policy, then resources. Returns its warnings; may drop what this
    host cannot do (OomKillDisable on cgroup v2), as Docker does."""
    from dockerlab.engine.runtime.cgroups import (
        Resources,
        host_cpusets,
        validate,
        version,
    )
    from dockerlab.engine.runtime.cgroups.resources import check_cpusets
    from dockerlab.engine.runtime.restarts import policy_error

    policy = host.get("RestartPolicy") or {}
    name, count = policy.get("Name") or "", policy.get("MaximumRetryCount") or 0
    if not update and host.get("AutoRemove") and name not in ("", "no"):
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    if not isinstance(name, str) or not isinstance(count, int):
        raise InvalidParameter(f"invalid restart policy '{name}'")
    problem = policy_error(name, count)
    if problem:
        raise InvalidParameter(problem)
    warnings = []
    if host.get("OomKillDisable") and version() == 2:
        warnings.append("Your kernel does not support OomKillDisable. OomKillDisable discarded.")
        host["OomKillDisable"] = False
    res = Resources.from_host_config(host)
    validate(res, len(os.sched_getaffinity(0)), update=update)
    if res.cpuset_cpus or res.cpuset_mems:
        check_cpusets(res, *host_cpusets())
    if host.get("OomKillDisable") and not res.memory:
        warnings.append(
            "OOM killer is disabled for the container, but no memory limit is set, this can "
            "result in the system running out of resources."
        )
    return warnings
