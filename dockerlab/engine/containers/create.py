"""``create``: translate a Docker create body plus the image's config into a container.

Pure translation first (:func:`compose`), the kernel and disk last (:func:`create`).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from dockerlab.engine.atomic import fsync_dir, write_new
from dockerlab.engine.basics import time_now
from dockerlab.engine.containers.store import make_layers
from dockerlab.engine.ids import check_name, new_id, random_name
from dockerlab.engine.runtime.security import normalize_host_config
from dockerlab.errors import InvalidParameter, SystemFailure, describe

if TYPE_CHECKING:
    from dockerlab.engine.containers.store import ContainerStore
    from dockerlab.engine.images.store import ImageStore
    from dockerlab.engine.paths import Paths

_NETWORKS = {"none", "host", "bridge", "default", ""}


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
    network = host.get("NetworkMode") or "default"
    if network not in _NETWORKS:
        raise InvalidParameter(f"network {network} not found")
    if network in ("bridge", "default"):
        network = "none"  # no bridge yet: an isolated network namespace with loopback only
    host["NetworkMode"] = network
    env = merge_env(icfg.get("Env") or [], cfg.get("Env") or [])
    hostname = cfg.get("Hostname") or (cid[:12] if network != "host" else os.uname().nodename)
    if cfg.get("Tty") and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    if not any(e.startswith("HOSTNAME=") for e in env):
        env.insert(1 if env and env[0].startswith("PATH=") else 0, f"HOSTNAME={hostname}")
    labels = {**(icfg.get("Labels") or {}), **(cfg.get("Labels") or {})}
    volumes = {**(icfg.get("Volumes") or {}), **(cfg.get("Volumes") or {})}
    config = {
        "Hostname": hostname,
        "Domainname": "",
        "User": cfg.get("User") or icfg.get("User", ""),
        "AttachStdin": bool(cfg.get("AttachStdin")),
        "AttachStdout": bool(cfg.get("AttachStdout", True)),
        "AttachStderr": bool(cfg.get("AttachStderr", True)),
        "ExposedPorts": icfg.get("ExposedPorts"),
        "Tty": bool(cfg.get("Tty")),
        "OpenStdin": bool(cfg.get("OpenStdin")),
        "StdinOnce": bool(cfg.get("StdinOnce")),
        "Env": env,
        "Cmd": cmd,
        "Image": cfg.get("Image"),
        "Volumes": volumes or None,
        "WorkingDir": cfg.get("WorkingDir") or icfg.get("WorkingDir", ""),
        "Entrypoint": entrypoint,
        "OnBuild": None,
        "Labels": labels,
    }
    for key in ("StopSignal", "StopTimeout"):
        value = cfg.get(key) or icfg.get(key)
        if value:
            config[key] = value
    host.setdefault("Binds", None)
    host.setdefault("AutoRemove", False)
    host.setdefault("RestartPolicy", {"Name": "no", "MaximumRetryCount": 0})
    for key in ("Memory", "MemorySwap", "NanoCpus", "CpuShares", "CpuQuota", "CpuPeriod"):
        host.setdefault(key, 0)
    host.setdefault("PidsLimit", None)
    host["Devices"] = host.get("Devices") or []  # Docker shows [] when none
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


def mount_points(
    paths: Paths, config: dict[str, Any], host: dict[str, Any]
) -> list[dict[str, Any]]:
    """Docker's Mounts from ``-v`` binds and the image's VOLUMEs (creating named volumes)."""
    from dockerlab.engine.containers.volumes import VolumeStore

    volumes = VolumeStore(paths)
    points: dict[str, dict[str, Any]] = {}
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
        if mode and any(m not in ("ro", "rw", "z", "Z") for m in mode.split(",")):
            raise InvalidParameter(f"invalid mode: {mode}")
        rw = "ro" not in mode.split(",")
        if source.startswith("/"):
            if not os.path.exists(source):
                os.makedirs(source)  # Docker creates a missing host folder
            points[dest] = {
                "Type": "bind",
                "Source": source,
                "Destination": dest,
                "Mode": mode,
                "RW": rw,
                "Propagation": "rprivate",
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
    for dest in config.get("Volumes") or {}:
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
    images: ImageStore, paths: Paths, record: dict[str, Any], staging: str, owner: str = ""
) -> None:
    """(registry-locked) The container's folders and layers, made in ``staging`` and then
    renamed into place: until that rename nobody sees it, and the next load removes it."""
    cid = record["Id"]
    os.makedirs(staging)
    init_link, _ = make_layers(paths, cid)
    final = paths.container(cid)
    record["MountPoints"] = mount_points(paths, record["Config"], record["HostConfig"])
    lowers = images.lowerdirs(record["Image"], relative=True)
    record["Runtime"] = {"Layer": cid, "LowerLinks": [init_link, *lowers]}
    if owner:  # the work (a build) it belongs to: removed with it if that dies
        record["Runtime"]["Owner"] = owner
    if record["HostConfig"].get("Init"):
        record["Runtime"]["InitPath"] = init_binary()
    record["ResolvConfPath"] = os.path.join(final, "resolv.conf")
    record["HostnamePath"] = os.path.join(final, "hostname")
    record["HostsPath"] = os.path.join(final, "hosts")
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
    if not body.get("Image"):
        raise InvalidParameter("No image specified")
    image_id = images.resolve(body["Image"])
    image = images.config(image_id)
    if name:
        name = check_name(name)
    cid = new_id()
    record = compose(body, image_id, image, cid)
    from dockerlab.engine.runtime.cgroups import Resources, validate

    validate(Resources.from_host_config(record["HostConfig"]), len(os.sched_getaffinity(0)))
    paths = store.paths
    with store.registry():
        if name:
            store.claim_name(name, cid)
        else:
            name = random_name(set(store.names()))
        record["Name"] = "/" + name
        staging = os.path.join(paths.containers, f".creating-{cid}")
        try:
            _materialize(images, paths, record, staging, owner)
        except BaseException as exc:  # nothing half-made is left, whatever went wrong
            store.discard(cid, staging)
            if isinstance(exc, OSError):
                raise SystemFailure(
                    f"failed to create container {cid[:12]}: {describe(exc)}", exc.errno
                ) from exc
            raise
    from dockerlab.engine import events

    events.container(paths, record, "create")
    return {"Id": cid, "Warnings": []}
