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
    "Network",  # the endpoint, shown in NetworkSettings
    "Sandbox",
    "Networks",  # the user networks' endpoints, ditto
    "Ports",  # the published ports of this run, shown in NetworkSettings.Ports
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
    driver = (c.config.get("Runtime") or {}).get("Driver") or "overlay2"  # (engine/storage)
    if driver == "vfs":
        return {"Data": None, "Name": "vfs"}  # Docker's vfs shows no folders
    layer = c.layer_dir
    lowers = [
        c.paths.overlay + "/" + link if not link.startswith("/") else link
        for link in c.config["Runtime"]["LowerLinks"]
    ]
    return {
        "Name": driver,
        "Data": {
            "LowerDir": ":".join(lowers),
            "MergedDir": f"{layer}/merged",
            "UpperDir": f"{layer}/diff",
            "WorkDir": f"{layer}/work",
        },
    }


def network_settings(c: Container) -> dict[str, Any]:
    """Docker 20.10's NetworkSettings (raw API order). The default network is stored as
    ``default`` in HostConfig.NetworkMode and shown as ``bridge``; the top-level address
    fields are filled for the default bridge only, and only while it runs."""
    mode = c.config["HostConfig"].get("NetworkMode", "none")
    name = "bridge" if mode == "default" else mode
    net = c.config.get("BridgeNetwork") or {}
    live = (c.state.get("Network") or {}) if c.state.get("Running") else {}
    users = c.config.get("UserNetworks") or []
    if mode not in ("default", "bridge", "host", "none") and not mode.startswith("container:"):
        name = ""  # a user network's (UserNetworks, below): no legacy top-level fields
    top = {
        "EndpointID": live.get("EndpointID", ""),
        "Gateway": live.get("Gateway", ""),
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": live.get("IPAddress", ""),
        "IPPrefixLen": live.get("IPPrefixLen", 0),
        "IPv6Gateway": "",
        "MacAddress": live.get("MacAddress", ""),
    }
    sandbox = c.state.get("Sandbox") or {}  # the last run's, as Docker keeps them
    doc: dict[str, Any] = {
        "Bridge": "",
        "SandboxID": sandbox.get("SandboxID", ""),
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports(c),
        "SandboxKey": sandbox.get("SandboxKey", ""),
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        **top,
        "Networks": {
            name: {
                "IPAMConfig": None,
                "Links": None,
                "Aliases": None,
                "NetworkID": net.get("Id", ""),
                "EndpointID": top["EndpointID"],
                "Gateway": top["Gateway"],
                "IPAddress": top["IPAddress"],
                "IPPrefixLen": top["IPPrefixLen"],
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "MacAddress": top["MacAddress"],
                "DriverOpts": None,
            }
        }
        if name
        else {},
    }
    if users:
        doc["Networks"].update(user_networks(c, users))
    if mode.startswith("container:"):  # no network of its own
        doc["Networks"] = {}
    return doc


def user_networks(c: Container, users: list[dict[str, Any]]) -> dict[str, Any]:
    """``Networks.<name>`` of its user networks (Docker 20.10: the short ID among the
    aliases; the addresses while it runs)."""
    running = c.state.get("Running")
    out = {}
    for att in users:
        live = ((c.state.get("Networks") or {}).get(att["Name"]) or {}) if running else {}
        out[att["Name"]] = {
            "IPAMConfig": att.get("IPAMConfig"),
            "Links": None,
            "Aliases": [*(att.get("Aliases") or []), c.id[:12]],
            "NetworkID": att.get("NetworkID", ""),
            "EndpointID": live.get("EndpointID", ""),
            "Gateway": live.get("Gateway", ""),
            "IPAddress": live.get("IPAddress", ""),
            "IPPrefixLen": live.get("IPPrefixLen", 0),
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "MacAddress": live.get("MacAddress", ""),
            "DriverOpts": att.get("DriverOpts"),
        }
    return out


def _host_config(c: Container) -> dict[str, Any]:
    """HostConfig, its Links as Docker's link index shows them (names of now)."""
    host: dict[str, Any] = c.config["HostConfig"]
    if not host.get("Links"):
        return host
    from dockerlab.engine.network.links import inspect_links

    return {**host, "Links": inspect_links(c)}


def ports(c: Container) -> dict[str, Any]:
    """NetworkSettings.Ports: while it runs on a bridge, every exposed port (null when not
    published) and the monitor's bindings; ``{}`` otherwise, as Docker's."""
    if not c.state.get("Running") or not (c.state.get("Network") or c.state.get("Networks")):
        return {}
    merged: dict[str, Any] = dict.fromkeys(c.config["Config"].get("ExposedPorts") or {})
    merged.update(c.state.get("Ports") or (c.state.get("Network") or {}).get("Ports") or {})
    return {k: merged[k] for k in sorted(merged)}


def _api_ports(c: Container) -> list[dict[str, Any]]:
    found = ports(c)
    if not found:
        return []
    from dockerlab.format.ports import api_ports

    return api_ports(found)


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
        "Driver": (c.config.get("Runtime") or {}).get("Driver") or "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": _host_config(c),
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
        "Ports": _api_ports(c),
        "Labels": cfg["Config"].get("Labels") or {},
        "State": c.state["Status"],
        "Status": status_string(c.state, time.time()),
        "HostConfig": {"NetworkMode": cfg["HostConfig"].get("NetworkMode")},
        "NetworkSettings": {"Networks": network_settings(c)["Networks"]},
        "Mounts": _mounts(c),
    }
