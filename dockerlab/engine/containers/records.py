"""Container records in the Docker Engine API's shapes (``/containers/json`` and ``/json``)."""

from __future__ import annotations

import time

from dockerlab.engine.containers.store import Container
from dockerlab.format.units import parse_rfc3339, status_string

TYPE_CHECKING = False  # typing costs the CLI's start milliseconds (`start -a` reads records)
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.images.store import ImageStore

# the monitor's, and Docker's own fields kept beside State (RestartCount shows at the top)
_PRIVATE_STATE = (
    "MonitorPid",
    "MonitorStart",
    "RestartCount",
    "HasBeenManuallyStopped",
    "HasBeenStartedBefore",
)


def _created(c: Container) -> int:
    return int(parse_rfc3339(c.config["Created"]))


def _state(c: Container) -> dict[str, Any]:
    return {k: v for k, v in c.state.items() if k not in _PRIVATE_STATE}


_PRIVATE_MOUNT = (
    "Anonymous",
    "NoCopy",
    "Data",
    "LocalMount",
    "NonRecursive",
)  # kept for the engine, not shown


def _mounts(c: Container) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in m.items() if k not in _PRIVATE_MOUNT}
        for m in c.config.get("MountPoints", [])
    ]


def graph_driver(c: Container) -> dict[str, Any]:
    layer = c.layer_dir
    lowers = [
        c.paths.overlay + "/" + link if not link.startswith("/") else link
        for link in c.config["Runtime"]["LowerLinks"]
    ]
    return {
        "Name": "overlay2",
        "Data": {
            "LowerDir": ":".join(lowers),
            "MergedDir": f"{layer}/merged",
            "UpperDir": f"{layer}/diff",
            "WorkDir": f"{layer}/work",
        },
    }


def network_settings(c: Container) -> dict[str, Any]:
    mode = c.config["HostConfig"].get("NetworkMode", "none")
    return {
        "Bridge": "",
        "SandboxID": "",
        "Ports": {},
        "SandboxKey": "",
        "Networks": {
            mode: {
                "IPAMConfig": None,
                "Links": None,
                "Aliases": None,
                "NetworkID": "",
                "EndpointID": "",
                "Gateway": "",
                "IPAddress": "",
                "IPPrefixLen": 0,
                "MacAddress": "",
            }
        },
    }


def inspect(c: Container) -> dict[str, Any]:
    cfg = c.config
    return {
        "Id": c.id,
        "Created": cfg["Created"],
        "Path": cfg["Path"],
        "Args": cfg["Args"],
        "State": _state(c),
        "Image": cfg["Image"],
        "ResolvConfPath": cfg["ResolvConfPath"],
        "HostnamePath": cfg["HostnamePath"],
        "HostsPath": cfg["HostsPath"],
        "LogPath": cfg["LogPath"],
        "Name": cfg["Name"],
        "RestartCount": c.state.get("RestartCount", 0),
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": cfg["HostConfig"],
        "GraphDriver": graph_driver(c),
        "Mounts": _mounts(c),
        "Config": cfg["Config"],
        "NetworkSettings": network_settings(c),
    }


def _quote(arg: str) -> str:
    """Docker's ps COMMAND wraps an argument holding white space in single quotes."""
    return f"'{arg}'" if not arg or any(ch.isspace() for ch in arg) else arg


def summary(c: Container, images: ImageStore) -> dict[str, Any]:
    cfg = c.config
    words = [cfg["Path"], *cfg["Args"]] if cfg["Path"] else []  # unknown for a dead one
    command = " ".join(_quote(a) for a in words)
    return {
        "Id": c.id,
        "Names": [cfg["Name"]],
        "Image": cfg["Config"].get("Image") or "",
        "ImageID": cfg["Image"],
        "Command": command,
        "Created": _created(c),
        "Ports": [],
        "Labels": cfg["Config"].get("Labels") or {},
        "State": c.state["Status"],
        "Status": status_string(c.state, time.time()),
        "HostConfig": {"NetworkMode": cfg["HostConfig"].get("NetworkMode")},
        "NetworkSettings": {"Networks": network_settings(c)["Networks"]},
        "Mounts": _mounts(c),
    }
