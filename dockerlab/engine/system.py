"""``version`` and ``info``: what this engine is and what it runs on."""

from __future__ import annotations

import os
import platform
from typing import Any

from dockerlab import __version__
from dockerlab.engine.paths import Paths

API_VERSION = "1.44"


def version() -> dict[str, Any]:
    return {
        "Platform": {"Name": "dockerlab"},
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": "1.24",
        "GitCommit": "",
        "GoVersion": "python" + platform.python_version(),
        "Os": "linux",
        "Arch": _arch(),
        "KernelVersion": platform.release(),
        "BuildTime": "",
        "Components": [
            {"Name": "Engine", "Version": __version__, "Details": {"ApiVersion": API_VERSION}}
        ],
    }


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
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"
