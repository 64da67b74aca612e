"""No cgroup: a rootless container on a host that delegates none (cgroup v1).

Limits were refused when the container was made (engine/rootless.py says why); what is
left is what a cgroup gave the monitor for free: its processes, for signals and clean-up.
The container's first process is PID 1 of its own PID namespace, so killing it ends all.
"""

from __future__ import annotations

from dockerlab.engine.runtime.cgroups.base import Cgroup
from dockerlab.errors import Forbidden

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.runtime.cgroups.devices import Rule
    from dockerlab.engine.runtime.cgroups.resources import Resources


_NO_CGROUP = (
    "rootless containers on this host have no cgroup (cgroup v1 cannot delegate one to an "
    "unprivileged user; an administrator can boot with cgroup v2 and delegate the user's "
    "slice, or run dockerlab as root)"
)


class NoCgroup(Cgroup):
    def __init__(self, name: str, pid: int = 0) -> None:
        self.name = name
        self.pid = pid  # the container's first process (PID 1 of its namespace)

    def create(self, res: Resources) -> None:
        pass  # (limits were refused at create)

    def add(self, pid: int) -> None:
        self.pid = pid

    def update(self, res: Resources) -> None:
        raise Forbidden(_NO_CGROUP + " to update")

    def freeze(self) -> None:
        raise Forbidden(_NO_CGROUP + " to freeze (pause)")

    def thaw(self) -> None:
        pass

    def frozen(self) -> bool:
        return False

    def pids(self) -> list[int]:
        if not self.pid:
            return []
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                alive = f.read().rpartition(")")[2].split()[0] != "Z"
        except OSError:
            return []
        return [self.pid] if alive else []

    def oom_killed(self) -> bool:
        return False

    def stats(self) -> dict[str, Any]:
        return {}

    def destroy(self) -> None:
        pass

    def set_devices(self, rules: list[Rule]) -> bool:
        return False  # no device cgroup: the user namespace forbids mknod'd devices anyway

    def ns_mounts(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        return []

    def _can_freeze(self) -> bool:
        return False
