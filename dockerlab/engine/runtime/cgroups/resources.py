"""Resource limits a container asks for (from Docker's ``HostConfig``) and their checks.

Pure: nothing here touches the kernel. :func:`validate` says no with Docker's own messages
before any cgroup file is written.
"""

from __future__ import annotations

from dockerlab.errors import InvalidParameter

TYPE_CHECKING = False  # typing itself costs ~5 ms on the monitor's start path
if TYPE_CHECKING:
    from typing import Any

MIN_MEMORY = 6 * 1024 * 1024  # Docker's linuxMinMemory
MIN_CPU_SHARES = 2  # kernel's MIN_SHARES
MAX_CPU_SHARES = 262144  # kernel's MAX_SHARES
DEFAULT_CPU_PERIOD = 100000  # microseconds, what --cpus uses
MIN_CPU_QUOTA = 1000  # 1 ms: the kernel refuses less
MAX_CPU_PERIOD = 1000000  # 1 s


_FIELDS = (
    "memory",
    "memory_swap",
    "nano_cpus",
    "cpu_shares",
    "cpu_quota",
    "cpu_period",
    "pids_limit",
    "memory_reservation",
    "oom_kill_disable",
    "cpuset_cpus",
    "cpuset_mems",
)


class Resources:
    """Limits from Docker's ``HostConfig``; 0 always means "not set".

    ``memory`` bytes (0 = unlimited). ``memory_swap`` is memory+swap like Docker's
    ``MemorySwap``: -1 = unlimited swap, 0 = default (as much swap as memory, i.e. twice
    ``memory`` in all). ``nano_cpus`` is ``--cpus`` in billionths of a CPU. ``cpu_shares`` is
    the v1 weight (1024 = default). ``cpu_quota``/``cpu_period`` are CFS microseconds
    (quota -1 = unlimited). ``pids_limit`` > 0 limits, < 0 lifts the limit, 0 leaves it.
    ``memory_reservation`` is the soft limit in bytes; ``oom_kill_disable`` 1 disables the
    OOM killer (0 leaves it); ``cpuset_cpus``/``cpuset_mems`` are lists such as ``"0-2,4"``
    ("" leaves them).

    Immutable and compared by value like a frozen dataclass, written by hand because
    ``dataclasses`` (and ``typing``) cost milliseconds of import on the container start path.
    """

    __slots__ = _FIELDS
    memory: int
    memory_swap: int
    nano_cpus: int
    cpu_shares: int
    cpu_quota: int
    cpu_period: int
    pids_limit: int
    memory_reservation: int
    oom_kill_disable: int
    cpuset_cpus: str
    cpuset_mems: str

    def __init__(
        self,
        memory: int = 0,
        memory_swap: int = 0,
        nano_cpus: int = 0,
        cpu_shares: int = 0,
        cpu_quota: int = 0,
        cpu_period: int = 0,
        pids_limit: int = 0,
        memory_reservation: int = 0,
        oom_kill_disable: int = 0,
        cpuset_cpus: str = "",
        cpuset_mems: str = "",
    ) -> None:
        values = (
            memory,
            memory_swap,
            nano_cpus,
            cpu_shares,
            cpu_quota,
            cpu_period,
            pids_limit,
            memory_reservation,
            oom_kill_disable,
            cpuset_cpus,
            cpuset_mems,
        )
        for name, value in zip(_FIELDS, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Resources is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Resources is immutable: cannot delete {name!r}")

    def _values(self) -> tuple[int | str, ...]:
        return tuple(getattr(self, name) for name in _FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resources):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={v!r}" for n, v in zip(_FIELDS, self._values(), strict=True))
        return f"Resources({inner})"

    def replace(self, **changes: int | str) -> Resources:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return Resources(**{**dict(zip(_FIELDS, self._values(), strict=True)), **changes})  # type: ignore[arg-type]

    @classmethod
    def from_host_config(cls, hc: dict[str, Any] | None) -> Resources:
        """Read Docker's ``HostConfig`` keys; absent or ``null`` values mean "not set"."""
        hc = hc or {}

        def num(key: str) -> int:
            value = hc.get(key)
            if value is None:
                return 0
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidParameter(f"invalid value for HostConfig.{key}: {value!r}")
            return int(value)

        def text(key: str) -> str:
            value = hc.get(key)
            if value is None:
                return ""
            if not isinstance(value, str):
                raise InvalidParameter(f"invalid value for HostConfig.{key}: {value!r}")
            return value

        return cls(
            memory=num("Memory"),
            memory_swap=num("MemorySwap"),
            nano_cpus=num("NanoCpus"),
            cpu_shares=num("CpuShares"),
            cpu_quota=num("CpuQuota"),
            cpu_period=num("CpuPeriod"),
            pids_limit=num("PidsLimit"),
            memory_reservation=num("MemoryReservation"),
            oom_kill_disable=1 if hc.get("OomKillDisable") else 0,
            cpuset_cpus=text("CpusetCpus"),
            cpuset_mems=text("CpusetMems"),
        )

    def needs(self) -> frozenset[str]:
        """The controllers these limits are written to (v1 names; v2 uses the same)."""
        wanted = set()
        if self.memory or self.memory_swap or self.memory_reservation or self.oom_kill_disable:
            wanted.add("memory")
        if self.cpuset_cpus or self.cpuset_mems:
            wanted.add("cpuset")
        if self.nano_cpus or self.cpu_shares or self.cpu_quota or self.cpu_period:
            wanted.add("cpu")
        if self.pids_limit:
            wanted.add("pids")
        return frozenset(wanted)


def validate(res: Resources, ncpus: int, update: bool = False) -> None:
    """Refuse what Docker's daemon refuses, with its messages (``verifyPlatformContainer
    Resources``). ``ncpus`` is the number of CPUs this process may run on."""
    if res.memory < 0 or (res.memory and res.memory < MIN_MEMORY):
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if res.memory_swap < -1:
        raise InvalidParameter(
            f"invalid memory swap limit {res.memory_swap}: use -1 for unlimited swap"
        )
    if res.memory > 0 and res.memory_swap > 0 and res.memory_swap < res.memory:
        raise InvalidParameter(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if res.memory_reservation < 0 or 0 < res.memory_reservation < MIN_MEMORY:
        raise InvalidParameter("Minimum memory reservation allowed is 6MB")
    if res.memory > 0 and res.memory_reservation > 0 and res.memory < res.memory_reservation:
        raise InvalidParameter(
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        )
    if res.memory == 0 and res.memory_swap > 0 and not update:
        raise InvalidParameter(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    if res.nano_cpus and res.cpu_period:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if res.nano_cpus and res.cpu_quota:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if (
        res.nano_cpus < 0
        or res.nano_cpus > ncpus * 10**9
        or (res.nano_cpus and nano_cpus_to_quota(res.nano_cpus) < MIN_CPU_QUOTA)
    ):
        raise InvalidParameter(
            f"Range of CPUs is from 0.01 to {ncpus}.00, as there are only {ncpus} CPUs available"
        )
    if res.cpu_period and not MIN_CPU_QUOTA <= res.cpu_period <= MAX_CPU_PERIOD:
        raise InvalidParameter(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        )
    if res.cpu_quota > 0 and res.cpu_quota < MIN_CPU_QUOTA:
        raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if res.cpu_quota < -1:
        raise InvalidParameter(f"invalid CPU cfs quota {res.cpu_quota}: use -1 for unlimited")


def nano_cpus_to_quota(nano_cpus: int) -> int:
    """``--cpus`` as a CFS quota over :data:`DEFAULT_CPU_PERIOD` (Docker's arithmetic)."""
    return nano_cpus * DEFAULT_CPU_PERIOD // 10**9


def clamp_cpu_shares(shares: int) -> int:
    """Docker clamps out-of-range shares instead of refusing them (0 stays "not set")."""
    if shares == 0:
        return 0
    return min(max(shares, MIN_CPU_SHARES), MAX_CPU_SHARES)


def parse_list(text: str) -> set[int]:
    """Go's ``parsers.ParseUintList``: ``"0-2,4"`` -> {0, 1, 2, 4}; ValueError "invalid
    format: …" for anything else."""
    out: set[int] = set()
    if text == "":
        return out
    for part in text.split(","):
        low, dash, high = part.partition("-")
        try:
            if not low.isdigit() or (dash and not high.isdigit()):
                raise ValueError
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            raise ValueError(f"invalid format: {text}") from None
        if last < first:
            raise ValueError(f"invalid format: {text}")
        out.update(range(first, last + 1))
    return out


def check_cpusets(res: Resources, cpus: str, mems: str) -> None:
    """Docker's cpuset checks against what the host offers (``cpus``/``mems``: lists such
    as ``"0-1"`` from the root cpuset), with its messages."""
    for asked, offered, what, label in (
        (res.cpuset_cpus, cpus, "cpus", "CPUs"),
        (res.cpuset_mems, mems, "mems", "memory nodes"),
    ):
        if not asked:
            continue
        try:
            wanted = parse_list(asked)
        except ValueError as exc:
            raise InvalidParameter(f"Invalid value {asked} for cpuset {what}: {exc}") from None
        try:
            available = parse_list(offered)
        except ValueError:
            continue  # the host's file is not ours to judge: let the kernel say
        if not wanted <= available:
            raise InvalidParameter(
                f"Requested {label} are not available - requested {asked}, available: {offered}"
            )
