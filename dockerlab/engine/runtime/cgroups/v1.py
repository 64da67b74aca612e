"""cgroup v1: one directory per hierarchy, ``<mount point>/<name>``.

    /sys/fs/cgroup/memory/dockerlab/<id>/    memory.limit_in_bytes, memory.memsw.*, oom_control
    /sys/fs/cgroup/cpu/dockerlab/<id>/       cpu.shares, cpu.cfs_{period,quota}_us, cpu.stat
    /sys/fs/cgroup/cpuacct/dockerlab/<id>/   cpuacct.usage{,_percpu}, cpuacct.stat
    /sys/fs/cgroup/pids/… freezer/… blkio/…  pids.max, freezer.state, blkio.throttle.*
    /sys/fs/cgroup/devices/dockerlab/<id>/   devices.deny "a", then devices.allow lines
    /sys/fs/cgroup/cpuset/dockerlab/<id>/    cpuset.cpus/mems copied down (else no one joins)
    /sys/fs/cgroup/systemd/dockerlab/<id>/   (named hierarchy: joined, nothing written)

Mount points come from mountinfo, so ``cpu,cpuacct`` co-mounted share one directory. A
container joins every hierarchy the host has, as Docker's cgroupfs driver does, so its cgroup
namespace shows its own folder in each and nothing of the host's tree.
"""

from __future__ import annotations

import os
import time

from dockerlab.engine.runtime.cgroups import files as F
from dockerlab.engine.runtime.cgroups.base import (
    FREEZE_TIMEOUT,
    Cgroup,
    check_name,
    host_figures,
    make_dir,
    parse_procs,
    read_text,
    remove_dirs,
    usable_cpus,
    write_text,
)
from dockerlab.engine.runtime.cgroups.devices import v1_lines
from dockerlab.engine.runtime.cgroups.resources import Resources, validate
from dockerlab.errors import DockerlabError, Forbidden

TYPE_CHECKING = False  # typing costs ~5 ms on the monitor's start path
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.runtime.cgroups.devices import Rule

# The hierarchies a container joins, where the host has them.
CONTROLLERS = (
    "memory",
    "cpu",
    "cpuacct",
    "pids",
    "freezer",
    "blkio",
    "devices",
    "cpuset",
    "net_cls",
    "net_prio",
    "perf_event",
    "hugetlb",
    "rdma",
    "misc",
    "name=systemd",
)

_STAT_FILES = {
    "cpuacct": ("cpuacct.usage", "cpuacct.usage_percpu", "cpuacct.stat"),
    "cpu": ("cpu.stat",),
    "memory": (
        "memory.usage_in_bytes",
        "memory.max_usage_in_bytes",
        "memory.limit_in_bytes",
        "memory.failcnt",
        "memory.stat",
    ),
    "pids": ("pids.current", "pids.max"),
    "blkio": tuple(f"blkio.{s}" for s in F.V1_BLKIO_KEYS.values())
    + tuple(f"blkio.throttle.{s}" for s in F.V1_BLKIO_THROTTLE),
}


class CgroupV1(Cgroup):
    def __init__(
        self, name: str, hierarchies: dict[str, str], options: dict[str, str] | None = None
    ) -> None:
        """``hierarchies``: controller (or ``name=…``) -> mount point (see
        :func:`mounts.v1_hierarchies`); ``options``: mount point -> its super options."""
        self.name = check_name(name)
        self.mounts = {c: hierarchies[c] for c in CONTROLLERS if c in hierarchies}
        self.options = options or {}
        self.paths = {c: os.path.join(point, self.name) for c, point in self.mounts.items()}

    def _dirs(self) -> list[str]:
        return list(dict.fromkeys(self.paths.values()))  # co-mounted hierarchies once

    def _path(self, controller: str, filename: str) -> str:
        return os.path.join(self.paths[controller], filename)

    def _require(self, controller: str) -> str:
        if controller not in self.paths:
            raise Forbidden(f"cgroup controller '{controller}' is not available on this host")
        return self.paths[controller]

    # ---- limits -----------------------------------------------------------------------
    def create(self, res: Resources) -> None:
        validate(res, usable_cpus())
        if not self.paths:
            raise Forbidden("no cgroup v1 hierarchy is mounted on this host")
        for controller in sorted(res.needs()):
            self._require(controller)
        for path in self._dirs():
            make_dir(path)
        try:
            if "cpuset" in self.paths:
                self._fill_cpuset()
            self._write_limits(res, current_memory=None)
        except BaseException:
            try:
                self.destroy()
            except DockerlabError:
                pass
            raise

    def update(self, res: Resources) -> None:
        validate(res, usable_cpus(), update=True)
        for controller in sorted(res.needs()):
            self._require(controller)
        current = None
        if "memory" in self.paths:
            current = F.parse_int(read_text(self._path("memory", "memory.limit_in_bytes")))
        self._write_limits(res, current_memory=current)

    def _write_limits(self, res: Resources, current_memory: int | None) -> None:
        memsw = "memory" in self.paths and os.path.exists(
            self._path("memory", "memory.memsw.limit_in_bytes")
        )
        for filename, value in F.v1_limit_files(
            res, memsw=memsw, current_memory=current_memory
        ).items():
            write_text(self._path(F.controller_of(filename), filename), value)

    def _fill_cpuset(self) -> None:
        """A new cpuset cgroup has no CPUs and no memory nodes, and no process can join it
        (ENOSPC): copy both down from the parent, top to bottom."""
        root = self.mounts["cpuset"]
        chain = []
        path = self.paths["cpuset"]
        while len(path) > len(root):
            chain.append(path)
            path = os.path.dirname(path)
        for path in reversed(chain):
            for filename in ("cpuset.cpus", "cpuset.mems"):
                own = read_text(os.path.join(path, filename))
                if own is None:
                    return  # a cpuset mounted without the prefix: not ours to handle
                if not own.strip():
                    parent = read_text(os.path.join(os.path.dirname(path), filename)) or ""
                    write_text(os.path.join(path, filename), parent.strip() or "\n")

    def set_devices(self, rules: list[Rule]) -> bool:
        if "devices" not in self.paths:
            return False
        for filename, line in v1_lines(rules):
            write_text(self._path("devices", filename), line)
        return True

    def ns_mounts(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        out = []
        for point in dict.fromkeys(self.mounts.values()):
            folder = os.path.basename(point)
            joined = [c for c, p in self.mounts.items() if p == point]
            data = self.options.get(point) or ",".join(joined)
            links = tuple(c for c in joined if c != folder and "=" not in c)
            out.append((folder, "cgroup", data, links))
        return out

    def add(self, pid: int) -> None:
        for path in self._dirs():
            write_text(os.path.join(path, "cgroup.procs"), str(pid))

    # ---- freezer ------------------------------------------------------------------------
    def _can_freeze(self) -> bool:
        return "freezer" in self.paths and os.path.isdir(self.paths["freezer"])

    def freeze(self) -> None:
        state = os.path.join(self._require("freezer"), "freezer.state")
        deadline = time.monotonic() + FREEZE_TIMEOUT
        delay = 0.0005
        while True:
            # Writing FROZEN again retries the tasks that were busy in the kernel.
            write_text(state, "FROZEN")
            if F.is_v1_frozen(read_text(state)):
                return
            if time.monotonic() >= deadline:
                self.thaw()
                raise DockerlabError(
                    f"unable to freeze cgroup {self.name}: still FREEZING after {FREEZE_TIMEOUT:g}s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def thaw(self) -> None:
        write_text(os.path.join(self._require("freezer"), "freezer.state"), "THAWED")

    def frozen(self) -> bool:
        if "freezer" not in self.paths:
            return False
        return F.is_v1_frozen(read_text(self._path("freezer", "freezer.state")))

    # ---- reading ------------------------------------------------------------------------
    def pids(self) -> list[int]:
        for controller in ("freezer", "pids", "memory", *CONTROLLERS):
            if controller in self.paths:
                return parse_procs(read_text(self._path(controller, "cgroup.procs")))
        return []

    def oom_killed(self) -> bool:
        if "memory" not in self.paths:
            return False
        return F.v1_oom_kills(read_text(self._path("memory", "memory.oom_control"))) > 0

    def stats(self) -> dict[str, Any]:
        files: F.Files = {}
        for controller, names in _STAT_FILES.items():
            for filename in names:
                files[filename] = (
                    read_text(self._path(controller, filename))
                    if controller in self.paths
                    else None
                )
        system, ncpus, memory = host_figures()
        return F.v1_stats(files, system_cpu_usage=system, online_cpus=ncpus, machine_memory=memory)

    def destroy(self) -> None:
        remove_dirs(self._dirs())
