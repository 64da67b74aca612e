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
        "BuildTime": build_time(),
    }
    out["GitCommit"] = git_commit()
    details = {
        "ApiVersion": API_VERSION,
        "Arch": out["Arch"],
        "BuildTime": out["BuildTime"],
        "Experimental": "false",
        "GitCommit": out["GitCommit"],
        "GoVersion": out["GoVersion"],
        "KernelVersion": out["KernelVersion"],
        "MinAPIVersion": MIN_API_VERSION,
        "Os": "linux",
    }  # what `docker version` prints under "Engine:"
    out["Components"] = [{"Name": "Engine", "Version": __version__, "Details": details}]
    # where Docker names containerd, runc and docker-init: what runs containers here
    out["Components"].append(
        {
            "Name": "dockerlab-monitor",
            "Version": __version__,
            "Details": {"GitCommit": out["GitCommit"]},
        }
    )
    init = init_version()
    if init is not None:
        out["Components"].append(
            {"Name": "docker-init", "Version": init[0], "Details": {"GitCommit": init[1]}}
        )
    return out


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def git_commit() -> str:
    """The commit of the dockerlab checkout this code runs from (short, as Docker's
    ``Git commit``), read from its ``.git`` without running git; "unknown" elsewhere."""
    top = os.path.dirname(_PACKAGE)
    gitdir = os.path.join(top, ".git")
    try:
        if os.path.isfile(gitdir):  # a worktree: "gitdir: PATH"
            with open(gitdir) as f:
                gitdir = os.path.join(top, f.read().split(":", 1)[1].strip())
        with open(os.path.join(gitdir, "HEAD")) as f:
            head = f.read().strip()
        if not head.startswith("ref: "):
            return head[:7]
        ref = head[5:]
        common = gitdir
        if os.path.exists(os.path.join(gitdir, "commondir")):
            with open(os.path.join(gitdir, "commondir")) as f:
                common = os.path.join(gitdir, f.read().strip())
        for folder in (gitdir, common):
            try:
                with open(os.path.join(folder, ref)) as f:
                    return f.read().strip()[:7]
            except FileNotFoundError:
                continue
        with open(os.path.join(common, "packed-refs")) as f:
            for line in f:
                if line.rstrip().endswith(" " + ref):
                    return line[:7]
    except (OSError, IndexError):
        pass
    return "unknown"


def build_time() -> str:
    """When this dockerlab was installed or last changed (its package's newest module),
    RFC 3339 as Docker's ``BuildTime`` (the docker CLI reformats it)."""
    from dockerlab.format.units import rfc3339nano

    try:
        newest = max(
            os.stat(os.path.join(_PACKAGE, n)).st_mtime
            for n in os.listdir(_PACKAGE)
            if n.endswith(".py")
        )
    except (OSError, ValueError):
        return ""
    return str(rfc3339nano(newest))


_INIT: list[tuple[str, str] | None] = []


def init_version() -> tuple[str, str] | None:
    """(version, git commit) of the host's tini that ``--init`` mounts as docker-init
    (``tini version 0.19.0 - git.de40ad0``), asked once per process; None without one."""
    if _INIT:
        return _INIT[0]
    import subprocess

    from dockerlab.engine.containers.create import INIT_BINARIES

    found: tuple[str, str] | None = None
    for path in INIT_BINARIES:
        if os.access(path, os.X_OK):
            try:
                done = subprocess.run(
                    [path, "--version"], capture_output=True, text=True, timeout=5
                )
            except (OSError, subprocess.SubprocessError):
                continue
            words = done.stdout.split()
            if len(words) >= 3 and words[0] == "tini":
                commit = words[4][4:] if len(words) >= 5 and words[4].startswith("git.") else ""
                found = (words[2], commit)
                break
    _INIT.append(found)
    return found


def engine_id(root: str) -> str:
    """A stable ID of this engine (its state root on this machine), in the shape of
    Docker 20.10's key-based ID (``XXXX:XXXX:…``, twelve groups of base32)."""
    import base64
    import hashlib

    try:
        with open("/etc/machine-id") as f:
            machine = f.read().strip()
    except OSError:
        machine = platform.node()
    digest = hashlib.sha256(f"{machine}:{os.path.realpath(root)}".encode()).digest()
    text = base64.b32encode(digest[:30]).decode()[:48]
    return ":".join(text[i : i + 4] for i in range(0, 48, 4))


def registry_config(settings: Any) -> dict[str, Any]:
    """``RegistryConfig`` from the registry settings (mirrors, insecure registries), as
    dockerd reports its ``daemon.json``: loopback is always insecure (127.0.0.0/8)."""
    import ipaddress

    cidrs, names = ["127.0.0.0/8"], []
    for item in getattr(settings, "insecure", []) or []:
        try:
            cidrs.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            names.append(item)
    mirrors = [m if m.endswith("/") else m + "/" for m in getattr(settings, "mirrors", []) or []]
    configs: dict[str, Any] = {
        "docker.io": {"Mirrors": mirrors, "Name": "docker.io", "Official": True, "Secure": True}
    }
    for name in names:
        configs[name] = {"Mirrors": [], "Name": name, "Official": False, "Secure": False}
    return {"IndexConfigs": configs, "InsecureRegistryCIDRs": cidrs, "Mirrors": mirrors}


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
    from dockerlab.engine.storage import drivers

    _, backing = storage_driver(paths.root)
    record = drivers.current(paths)  # the state root's (chosen now if it has none)
    driver = record["Driver"]
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    cg = cgroup_version()
    info: dict[str, Any] = {
        "ID": engine_id(paths.root),
        "Containers": len(states),
        "ContainersRunning": states.count("running"),
        "ContainersPaused": states.count("paused"),
        "ContainersStopped": len(states) - states.count("running") - states.count("paused"),
        "Images": image_count,
        "Driver": driver,
        "DriverStatus": drivers.status(paths, record, backing.split(": ", 1)[1]),
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
    from dockerlab.engine import rootless

    if rootless.enabled():  # what rootless mode leaves out here, as Docker's info warns
        info["CgroupDriver"] = "none"
        info["Warnings"] = [*(info["Warnings"] or []), *rootless.INFO_WARNINGS]
        info["Warnings"].insert(0, rootless.NO_CGROUP_WARNINGS.get(str(cg), ""))
        info.update(dict.fromkeys(rootless.NO_CGROUP_FEATURES, False))
    return info


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
    init_commit = (init_version() or ("", ""))[1]
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
        "BridgeNfIptables": _proc_flag("/proc/sys/net/bridge/bridge-nf-call-iptables"),
        "BridgeNfIp6tables": _proc_flag("/proc/sys/net/bridge/bridge-nf-call-ip6tables"),
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
        # dockerlab has no containerd; its monitor is its runtime, tini its docker-init
        "InitBinary": "docker-init" if init_version() is not None else "",
        "ContainerdCommit": {"ID": "none", "Expected": "none"},
        "RuncCommit": {
            "ID": f"dockerlab-monitor {__version__}",
            "Expected": f"dockerlab-monitor {__version__}",
        },
        "InitCommit": {"ID": init_commit, "Expected": init_commit},  # Debian's tini: ""
        "CDISpecDirs": None,
    }


def _proc_flag(path: str) -> bool:
    try:
        with open(path) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


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
