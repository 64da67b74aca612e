"""Container cgroups on cgroup v1 and v2: limits, freezer, OOM, stats.

    res = Resources.from_host_config(host_config)
    cg = open_cgroup(f"dockerlab/{cid}")     # CgroupV2 if /sys/fs/cgroup is cgroup2, else V1
    cg.create(res); cg.add(pid)
    cg.freeze(); cg.thaw(); cg.stats(); cg.oom_killed()
    cg.kill_all(signal.SIGKILL); cg.destroy()

Layout: ``resources`` (what a container asks, Docker's checks), ``files`` (pure translation
between values and the kernel's file formats), ``mounts`` (where hierarchies live), ``base``
(the contract and file I/O with typed errors), ``v1.CgroupV1`` and ``v2.CgroupV2`` (imported
only when used).

Cgroups are made at ``<hierarchy root>/<name>`` whatever cgroup the caller is in, so the
monitor, the CLI and the API server all find the same directory (Docker's cgroupfs driver
does the same with ``/docker/<id>``).
"""

from __future__ import annotations

from dockerlab.engine.runtime.cgroups.base import Cgroup
from dockerlab.engine.runtime.cgroups.mounts import (
    cgroup_version,
    parse_mountinfo,
    v1_hierarchies,
    v1_named,
    v1_options,
)
from dockerlab.engine.runtime.cgroups.resources import Resources, validate

__all__ = [
    "Cgroup",
    "Resources",
    "device_control",
    "host_cpusets",
    "open_cgroup",
    "validate",
    "version",
]

_mounts: list[tuple[str, str, str]] | None = None


def _host_mounts() -> list[tuple[str, str, str]]:
    global _mounts
    if _mounts is None:
        with open("/proc/self/mountinfo") as f:
            _mounts = parse_mountinfo(f.read())
    return _mounts


_version: int | None = None


def version() -> int:
    """2 when ``/sys/fs/cgroup`` itself is cgroup2, else 1 (hybrid hosts are v1)."""
    global _version
    if _version is None:
        _version = cgroup_version(_host_mounts())
    return _version


def open_cgroup(name: str) -> Cgroup:
    """The cgroup ``name`` (e.g. ``dockerlab/<container id>``) on this host; nothing is
    created until :meth:`Cgroup.create`."""
    if version() == 2:
        from dockerlab.engine.runtime.cgroups.v2 import CgroupV2

        return CgroupV2(name)
    from dockerlab.engine.runtime.cgroups.v1 import CgroupV1

    return CgroupV1(name, *_v1_layout())


_v1: tuple[dict[str, str], dict[str, str]] | None = None


def _v1_layout() -> tuple[dict[str, str], dict[str, str]]:
    """(hierarchy -> mount point, mount point -> its options), from the mounts read once:
    a listing opens a cgroup per container (read-only, shared)."""
    global _v1
    if _v1 is None:
        mounts = _host_mounts()
        _v1 = ({**v1_hierarchies(mounts), **v1_named(mounts)}, v1_options(mounts))
    return _v1


def device_control() -> bool:
    """Can this host hold containers to device rules: a v1 devices hierarchy, or (v2) a
    kernel that loads cgroup device programs for us?"""
    if version() == 2:
        from dockerlab.engine.runtime.cgroups import bpf

        return bpf.supported()
    return "devices" in v1_hierarchies(_host_mounts())


def host_cpusets() -> tuple[str, str]:
    """The CPUs and memory nodes containers may be given (``"0-1"``, ``"0"``): the root
    cpuset's, as Docker's sysinfo reads them, else what the kernel has online."""
    from dockerlab.engine.runtime.cgroups.base import read_text

    if version() == 2:
        folder, suffix = "/sys/fs/cgroup", ".effective"
    else:
        folder, suffix = v1_hierarchies(_host_mounts()).get("cpuset", ""), ""
    found = []
    for name, fallback in (
        ("cpuset.cpus", "/sys/devices/system/cpu/online"),
        ("cpuset.mems", "/sys/devices/system/node/online"),
    ):
        text = read_text(f"{folder}/{name}{suffix}") if folder else None
        if not (text or "").strip():
            text = read_text(fallback)
        found.append((text or "").strip())
    return found[0], found[1]
