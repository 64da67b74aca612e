"""``version`` and ``info``: what this engine is and what it runs on."""

from __future__ import annotations

import os
import platform
from typing import Any

from dockerlab import __version__
from dockerlab.engine.paths import Paths

API_VERSION = "1.44"  # the newest the daemon speaks (current docker CLIs need 1.44)
MIN_API_VERSION = "1.24"


def version() -> dict[str, Any]:
    out: dict[str, Any] = {
        "Platform": {"Name": "dockerlab"},
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "python" + platform.python_version(),
        "Os": "linux",
        "Arch": _arch(),
        "KernelVersion": platform.release(),
        "BuildTime": "",
    }
    details = {
        "ApiVersion": API_VERSION,
        "Arch": out["Arch"],
        "BuildTime": "",
        "Experimental": "false",
        "GitCommit": "",
        "GoVersion": out["GoVersion"],
        "KernelVersion": out["KernelVersion"],
        "MinAPIVersion": MIN_API_VERSION,
        "Os": "linux",
    }  # what `docker version` prints under "Engine:"
    out["Components"] = [{"Name": "Engine", "Version": __version__, "Details": details}]
    return out


def _arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def storage_driver(root: str) -> tuple[str, str]:
    """The storage driver in use and the filesystem under the state root."""
    fstype = ""
    best = ""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            mnt = parts[4]
            if (root == mnt or root.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, fstype = mnt, parts[parts.index("-") + 1]
    return "overlay2", f"Backing Filesystem: {fstype or 'unknown'}"


NO_DEVICE_CGROUP = (
    "WARNING: No device cgroup support: containers run without CAP_MKNOD, "
    "and device nodes in their images do not open"
)


def info(paths: Paths, states: list[str], image_count: int) -> dict[str, Any]:
    from dockerlab.engine.runtime.cgroups import device_control
    from dockerlab.engine.runtime.cgroups import version as cgroup_version
    from dockerlab.engine.runtime.security import info_options

    driver, backing = storage_driver(paths.root)
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    cg = cgroup_version()
    return {
        "ID": "",
        "Containers": len(states),
        "ContainersRunning": states.count("running"),
        "ContainersPaused": states.count("paused"),
        "ContainersStopped": len(states) - states.count("running") - states.count("paused"),
        "Images": image_count,
        "Driver": driver,
        "DriverStatus": [
            ["Backing Filesystem", backing.split(": ", 1)[1]],
            ["Supports d_type", "true"],
            ["Using metacopy", "false"],
            ["Native Overlay Diff", "true"],
            ["userxattr", "false"],
        ],
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": str(cg),
        "KernelVersion": platform.release(),
        "OperatingSystem": _os_name(),
        "OSType": "linux",
        "Architecture": platform.machine(),
        "NCPU": os.cpu_count() or 1,
        "MemTotal": mem,
        "DockerRootDir": paths.root,
        "Name": platform.node(),
        "ServerVersion": version()["Version"],
        "Runtimes": {"dockerlab": {"path": "dockerlab-monitor"}},
        "DefaultRuntime": "dockerlab",
        "Warnings": None if device_control() else [NO_DEVICE_CGROUP],
        "SecurityOptions": info_options(),
        **_more_info(cg),
    }


def _cgroup_has(cg: int, v1: str, v2: str) -> bool:
    """Whether the host's cgroups offer a control: a v1 controller's file, or a v2
    controller the root enables."""
    if cg == 2:
        try:
            with open("/sys/fs/cgroup/cgroup.controllers") as f:
                return v2 in f.read().split()
        except OSError:
            return False
    return os.path.exists(f"/sys/fs/cgroup/{v1}")


def _more_info(cg: int) -> dict[str, Any]:
    """The rest of Docker's ``GET /info`` keys, with what is true of this engine: cgroup
    features as the host offers them, no swarm, no plugins beyond the built-in ones, no
    registry mirrors, this process's descriptors and threads for NFd and NGoroutines."""
    import threading
    import time

    from dockerlab.format.units import rfc3339nano

    def flag(v1: str, v2: str) -> bool:
        return _cgroup_has(cg, v1, v2)

    try:
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            forwarding = f.read().strip() == "1"
    except OSError:
        forwarding = False
    memsw = "memory/memory.memsw.limit_in_bytes"
    return {
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "null"],  # (the drivers there are)
            "Authorization": None,
            "Log": ["json-file"],
        },
        "MemoryLimit": flag("memory/memory.limit_in_bytes", "memory"),
        "SwapLimit": flag(memsw, "memory"),
        "KernelMemory": cg == 1 and flag("memory/memory.kmem.limit_in_bytes", ""),
        "KernelMemoryTCP": cg == 1 and flag("memory/memory.kmem.tcp.limit_in_bytes", ""),
        "CpuCfsPeriod": flag("cpu/cpu.cfs_period_us", "cpu"),
        "CpuCfsQuota": flag("cpu/cpu.cfs_quota_us", "cpu"),
        "CPUShares": flag("cpu/cpu.shares", "cpu"),
        "CPUSet": flag("cpuset/cpuset.cpus", "cpuset"),
        "PidsLimit": flag("pids", "pids"),
        "IPv4Forwarding": forwarding,
        "Debug": False,
        "NFd": len(os.listdir("/proc/self/fd")),
        "OomKillDisable": cg == 1 and flag("memory/memory.oom_control", ""),
        "NGoroutines": threading.active_count(),
        "SystemTime": rfc3339nano(time.time()),
        "NEventsListener": 0,
        "OSVersion": _os_release("VERSION_ID"),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "IndexConfigs": {
                "docker.io": {"Mirrors": [], "Name": "docker.io", "Official": True, "Secure": True}
            },
            "InsecureRegistryCIDRs": [],
            "Mirrors": [],
        },
        "GenericResources": None,
        "HttpProxy": os.environ.get("HTTP_PROXY") or os.environ.get("http_proxy") or "",
        "HttpsProxy": os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy") or "",
        "NoProxy": os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or "",
        "Labels": [],
        "ExperimentalBuild": False,
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "Error": "",
            "RemoteManagers": None,
        },
        "LiveRestoreEnabled": False,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": ""},
        "CDISpecDirs": None,
    }


def _os_release(key: str) -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith(key + "="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"
