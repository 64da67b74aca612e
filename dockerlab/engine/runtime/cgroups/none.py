"""No cgroup: a rootless container on a host that delegates none (cgroup v1).

Limits were refused when the container was made (engine/rootless.py says why); what is
left is what a cgroup gave the monitor for free: its processes, for signals and clean-up.
The container's first process is PID 1 of its own PID namespace, so killing it ends all.
Its processes are those of that namespace (``exec``'s too), found in ``/proc`` by the
namespace's link; ``stats`` sums their ``/proc`` figures (see :meth:`NoCgroup.stats`).
"""

from __future__ import annotations

import os

from dockerlab.engine.runtime.cgroups.base import Cgroup
from dockerlab.errors import Forbidden

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.runtime.cgroups.devices import Rule
    from dockerlab.engine.runtime.cgroups.resources import Resources


class NoCgroup(Cgroup):
    def __init__(self, name: str, pid: int = 0) -> None:
        self.name = name
        self.pid = pid  # the container's first process (PID 1 of its namespace)

    def create(self, res: Resources) -> None:
        pass  # (limits were refused at create)

    def add(self, pid: int) -> None:
        self.pid = pid

    def update(self, res: Resources) -> None:
        from dockerlab.engine import rootless
        from dockerlab.engine.runtime.cgroups.resources import Resources

        if res != Resources():  # (update.py refuses limits first, in its words)
            raise Forbidden(rootless.CGROUP_ADVICE)

    def freeze(self) -> None:
        from dockerlab.engine import rootless

        cid = self.name.rpartition("/")[2]
        raise Forbidden(f"Cannot pause container {cid}: {rootless.NO_PAUSE}")

    def thaw(self) -> None:
        pass

    def frozen(self) -> bool:
        return False

    def _first_alive(self) -> bool:
        if not self.pid:
            return False
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                return f.read().rpartition(")")[2].split()[0] != "Z"
        except OSError:
            return False

    def pids(self) -> list[int]:
        """The live processes of the first process's PID namespace. The user owns the
        container's user namespace, so it may read the namespace links of its processes of
        every (subordinate) uid."""
        if not self._first_alive():
            return []
        try:
            ns = os.readlink(f"/proc/{self.pid}/ns/pid")
            if ns == os.readlink("/proc/self/ns/pid"):
                return [self.pid]  # (a namespace of ours: never list the host's processes)
        except OSError:
            return [self.pid]
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{name}/ns/pid") == ns:
                    found.append(int(name))
            except OSError:
                continue  # ended meanwhile
        return found or [self.pid]

    def oom_killed(self) -> bool:
        return False

    def stats(self) -> dict[str, Any]:
        """Docker's stats parts from ``/proc``, summed over the container's processes: CPU
        from utime+stime (with cutime+cstime, so what exited and was waited for still
        counts), memory as summed RSS against the host's memory (Docker's limit when none is
        set), pids as threads, block I/O from ``/proc/<pid>/io`` where readable: the user
        may read it for processes of its own uid (container root) only, not of subordinate
        uids (the file is 0400 of the process's uid; only a capability in the host's
        namespace passes that), so their bytes are left out."""
        from dockerlab.engine.runtime.cgroups import files as F
        from dockerlab.engine.runtime.cgroups.base import host_figures

        system, ncpus, memory = host_figures()
        page = os.sysconf("SC_PAGE_SIZE")
        user = kernel = rss = threads = read = written = 0
        io_seen = False
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    v = f.read().rpartition(")")[2].split()
            except OSError:
                continue  # ended meanwhile
            if v[0] == "Z":
                continue
            user += int(v[11]) + int(v[13])
            kernel += int(v[12]) + int(v[14])
            threads += int(v[17])
            rss += int(v[21]) * page
            try:
                with open(f"/proc/{pid}/io") as f:
                    io = F.parse_flat_keyed(f.read().replace(":", ""))
            except OSError:
                continue  # another uid's (see above)
            io_seen = True
            read += io.get("read_bytes", 0)
            written += io.get("write_bytes", 0)
        tick = F.NS_PER_SEC // F.CLOCK_TICKS
        blkio: dict[str, Any] = {key: [] for key in F.V1_BLKIO_KEYS}
        if io_seen:
            blkio["io_service_bytes_recursive"] = [
                {"major": 0, "minor": 0, "op": "Read", "value": read},
                {"major": 0, "minor": 0, "op": "Write", "value": written},
            ]
        cpu_usage = {
            "total_usage": (user + kernel) * tick,
            "usage_in_kernelmode": kernel * tick,
            "usage_in_usermode": user * tick,
        }
        return {
            "cpu_stats": {
                "cpu_usage": cpu_usage,
                "system_cpu_usage": system,
                "online_cpus": ncpus,
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
            },
            "memory_stats": {"usage": rss, "limit": memory} if rss else {"limit": memory},
            "pids_stats": {"current": threads} if threads else {},
            "blkio_stats": blkio,
        }

    def destroy(self) -> None:
        pass

    def set_devices(self, rules: list[Rule]) -> bool:
        return False  # no device cgroup: the user namespace forbids mknod'd devices anyway

    def ns_mounts(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        return []

    def _can_freeze(self) -> bool:
        return False
