"""A container's HostConfig as Docker 20.10 keeps it: every one of its 63 keys, defaulted.

:func:`defaults` is the one table; ``compose`` fills the request's HostConfig from it with
``setdefault``, so a flag only sets its key in the request body (as the Docker CLI does) and
``inspect`` shows all the others with Docker's values. Where dockerlab runs a container
differently the value says what it does (``Runtime``, ``CgroupnsMode``, the masked paths).

:func:`check` is the daemon's validation of the process-level keys (ulimits, sysctls, group
additions), with its messages.
"""

from __future__ import annotations

from dockerlab.errors import InvalidParameter

TYPE_CHECKING = False  # typing costs the CLI's start milliseconds
if TYPE_CHECKING:
    from typing import Any

SHM_SIZE = 64 * 1024 * 1024  # Docker's default /dev/shm (rootfs mounts it so)


def defaults() -> dict[str, Any]:
    """A fresh copy of Docker 20.10's HostConfig for ``docker create IMAGE`` (its key order)."""
    from dockerlab.engine.runtime.rootfs import MASKED_PATHS, READONLY_PATHS

    return {
        "Binds": None,
        "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "default",
        "PortBindings": {},
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": False,
        "VolumeDriver": "",
        "VolumesFrom": None,
        "ConsoleSize": [0, 0],
        "CapAdd": None,
        "CapDrop": None,
        "CgroupnsMode": "private",  # every container gets its own cgroup namespace here
        "Dns": [],
        "DnsOptions": [],
        "DnsSearch": [],
        "ExtraHosts": None,
        "GroupAdd": None,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": False,
        "PublishAllPorts": False,
        "ReadonlyRootfs": False,
        "SecurityOpt": None,
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": SHM_SIZE,
        "Runtime": "dockerlab",  # info's DefaultRuntime
        "Isolation": "",
        "CpuShares": 0,
        "Memory": 0,
        "NanoCpus": 0,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [],
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": "",
        "CpusetMems": "",
        "Devices": [],
        "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "MemoryReservation": 0,
        "MemorySwap": 0,
        "MemorySwappiness": None,
        "OomKillDisable": False,
        "PidsLimit": None,
        "Ulimits": [],
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": list(MASKED_PATHS),
        "ReadonlyPaths": list(READONLY_PATHS),
    }


def fill(host: dict[str, Any]) -> dict[str, Any]:
    """``host`` (the request's) completed with the defaults, in Docker's key order; keys the
    table lacks (Init, Mounts, Tmpfs, ... when set) follow, and are left out when null, as
    Docker's omitempty does. A null for a key Docker shows as ``[]`` becomes ``[]``."""
    out = defaults()
    if host.get("Privileged"):  # Docker masks nothing in a privileged container
        out["MaskedPaths"] = out["ReadonlyPaths"] = None
    for key, value in host.items():
        if value is None and key not in _NULL_OK and (key not in out or isinstance(out[key], list)):
            continue  # Docker omits an unset Init (omitempty) and shows [] for a null list
        out[key] = value
    return out


# lists whose null Docker keeps as null
_NULL_OK = frozenset({"MaskedPaths", "ReadonlyPaths"})


def check(host: dict[str, Any]) -> None:
    """The daemon's checks of Ulimits, Sysctls and GroupAdd from any client (the CLI has
    refused most of this already, with its own words)."""
    from dockerlab.engine.runtime.linux import RLIMITS

    for u in host.get("Ulimits") or []:
        if not isinstance(u, dict) or u.get("Name") not in RLIMITS:
            name = u.get("Name") if isinstance(u, dict) else u
            raise InvalidParameter(f"invalid ulimit type: {name}")
        for key in ("Soft", "Hard"):
            if not isinstance(u.get(key), int) or isinstance(u.get(key), bool):
                raise InvalidParameter(f"invalid ulimit {key.lower()} value for {u['Name']}")
    sysctls = host.get("Sysctls")
    if sysctls is not None and (
        not isinstance(sysctls, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in sysctls.items())
    ):
        raise InvalidParameter("Sysctls must map names to strings")
    groups = host.get("GroupAdd")
    if groups is not None and (
        not isinstance(groups, list) or not all(isinstance(g, str) for g in groups)
    ):
        raise InvalidParameter("GroupAdd must be a list of group names or ids")
