"""Files <-> values: what to write for a :class:`Resources`, and what the kernel's files mean.

Pure functions only (text in, values out), so every format is unit-tested without a kernel.
Formats follow Documentation/admin-guide/cgroup-v1/*.rst and cgroup-v2.rst; the stats dicts
follow Docker's ``types.StatsJSON`` field names, units and ``omitempty`` rules (moby
``daemon/stats_unix.go`` fed by containerd's cgroup readers).

    v1                                    v2
    memory.limit_in_bytes    M            memory.max          M | max
    memory.memsw.limit_in_bytes M+S       memory.swap.max     S | max
    cpu.shares               2..262144    cpu.weight          1..10000 (runc/crun formula)
    cpu.cfs_period_us / cfs_quota_us      cpu.max             "quota period" | "max period"
    pids.max                 N | max      pids.max            N | max
    memory.soft_limit_in_bytes R          memory.low          R   (--memory-reservation)
    memory.oom_control       1            (none: v2 cannot turn the OOM killer off)
    cpuset.cpus / cpuset.mems             cpuset.cpus / cpuset.mems
"""

from __future__ import annotations

import math

from dockerlab.engine.runtime.cgroups.resources import (
    DEFAULT_CPU_PERIOD,
    MAX_CPU_SHARES,
    Resources,
    clamp_cpu_shares,
    nano_cpus_to_quota,
)
from dockerlab.errors import InvalidParameter

TYPE_CHECKING = False  # typing costs ~5 ms on the monitor's start path
if TYPE_CHECKING:
    from typing import Any

UINT64_MAX = 2**64 - 1
CLOCK_TICKS = 100  # USER_HZ, as Docker and containerd assume
NS_PER_SEC = 10**9

# Docker's blkio_stats keys <- v1 blkio file suffixes (CFQ/BFQ names).
V1_BLKIO_KEYS = {
    "io_service_bytes_recursive": "io_service_bytes_recursive",
    "io_serviced_recursive": "io_serviced_recursive",
    "io_queue_recursive": "io_queued_recursive",
    "io_service_time_recursive": "io_service_time_recursive",
    "io_wait_time_recursive": "io_wait_time_recursive",
    "io_merged_recursive": "io_merged_recursive",
    "io_time_recursive": "time_recursive",
    "sectors_recursive": "sectors_recursive",
}
# The two the throttling policy always provides (CFQ/BFQ may be absent or unused).
V1_BLKIO_THROTTLE = ("io_service_bytes_recursive", "io_serviced_recursive")


# ---- limits -----------------------------------------------------------------------------


def controller_of(filename: str) -> str:
    """``memory.limit_in_bytes`` -> ``memory``."""
    return filename.split(".", 1)[0]


def _effective_memsw(res: Resources) -> int:
    """Docker's memory+swap: -1 unlimited, 0 -> twice the memory (``adaptContainerSettings``)."""
    if res.memory_swap == 0 and res.memory > 0:
        return 2 * res.memory
    return res.memory_swap


def v1_limit_files(
    res: Resources, *, memsw: bool = True, current_memory: int | None = None
) -> dict[str, str]:
    """Files and values to write for ``res`` on cgroup v1, in the order to write them.

    ``memsw``: whether ``memory.memsw.limit_in_bytes`` exists (swap accounting on); without it
    the swap limit is dropped, as Docker does. ``current_memory`` is today's
    ``memory.limit_in_bytes`` (``None`` for a new cgroup): the kernel wants memory <=
    memory+swap at every step, so a raise writes memsw first and a cut writes it last.
    """
    out: dict[str, str] = {}
    if res.memory or res.memory_swap:
        total = _effective_memsw(res)
        pairs: list[tuple[str, str]] = []
        if res.memory:
            pairs.append(("memory.limit_in_bytes", str(res.memory)))
        if memsw and total:
            swap = ("memory.memsw.limit_in_bytes", str(total))
            current = UINT64_MAX if current_memory is None else current_memory
            if total == -1 or current < total:
                pairs.insert(0, swap)
            else:
                pairs.append(swap)
        out.update(pairs)
    shares = clamp_cpu_shares(res.cpu_shares)
    if shares:
        out["cpu.shares"] = str(shares)
    if res.nano_cpus:
        out["cpu.cfs_period_us"] = str(DEFAULT_CPU_PERIOD)
        out["cpu.cfs_quota_us"] = str(nano_cpus_to_quota(res.nano_cpus))
    else:
        if res.cpu_period:
            out["cpu.cfs_period_us"] = str(res.cpu_period)
        if res.cpu_quota:
            out["cpu.cfs_quota_us"] = str(max(res.cpu_quota, -1))
    if res.pids_limit:
        out["pids.max"] = str(res.pids_limit) if res.pids_limit > 0 else "max"
    if res.memory_reservation:
        out["memory.soft_limit_in_bytes"] = str(res.memory_reservation)
    if res.oom_kill_disable:
        out["memory.oom_control"] = "1"
    out.update(_cpusets(res))
    return out


def _cpusets(res: Resources) -> dict[str, str]:
    out = {}
    if res.cpuset_cpus:
        out["cpuset.cpus"] = res.cpuset_cpus
    if res.cpuset_mems:
        out["cpuset.mems"] = res.cpuset_mems
    return out


def cpu_shares_to_weight(shares: int) -> int:
    """v1 ``cpu.shares`` -> v2 ``cpu.weight`` with the quadratic of runc >= 1.3.2 and
    crun >= 1.23: it maps 2 -> 1, 1024 (default) -> 100 (default), 262144 -> 10000."""
    if shares <= 0:
        return 0
    if shares <= 2:
        return 1
    if shares >= MAX_CPU_SHARES:
        return 10000
    lg = math.log2(shares)
    exponent = (lg * lg + 125 * lg) / 612.0 - 7.0 / 34.0
    return math.ceil(10**exponent)


def v2_limit_files(res: Resources) -> dict[str, str]:
    """Files and values to write for ``res`` on cgroup v2 (runc's v1->v2 conversions).

    ``memory.swap.max`` is swap alone: Docker's memory+swap minus memory.
    """
    out: dict[str, str] = {}
    if res.memory:
        out["memory.max"] = str(res.memory)
    if res.memory_swap:
        total = _effective_memsw(res)
        if total == -1:
            out["memory.swap.max"] = "max"
        elif res.memory <= 0:
            raise InvalidParameter("unable to set swap limit without memory limit")
        else:
            out["memory.swap.max"] = str(total - res.memory)
    elif res.memory:
        out["memory.swap.max"] = str(_effective_memsw(res) - res.memory)
    weight = cpu_shares_to_weight(clamp_cpu_shares(res.cpu_shares))
    if weight:
        out["cpu.weight"] = str(weight)
    if res.nano_cpus:
        out["cpu.max"] = f"{nano_cpus_to_quota(res.nano_cpus)} {DEFAULT_CPU_PERIOD}"
    elif res.cpu_quota or res.cpu_period:
        value = str(res.cpu_quota) if res.cpu_quota > 0 else "max"
        if res.cpu_period:
            value += f" {res.cpu_period}"
        out["cpu.max"] = value
    if res.pids_limit:
        out["pids.max"] = str(res.pids_limit) if res.pids_limit > 0 else "max"
    if res.memory_reservation:
        out["memory.low"] = str(res.memory_reservation)
    out.update(_cpusets(res))
    return out


# ---- parsing ----------------------------------------------------------------------------


def parse_int(text: str | None, max_value: int = UINT64_MAX) -> int:
    """A one-value file: ``"1234\\n"`` -> 1234, ``"max"`` -> ``max_value``, missing -> 0."""
    if text is None:
        return 0
    text = text.strip()
    if text == "max":
        return max_value
    try:
        return max(int(text), 0)
    except ValueError:
        return 0


def parse_flat_keyed(text: str | None) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, memory.events, cgroup.events,
    cpuacct.stat, memory.oom_control) -> dict; lines that are not ``key int`` are skipped."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def parse_nested_keyed(text: str | None) -> list[tuple[int, int, dict[str, int]]]:
    """v2 ``io.stat``: ``8:0 rbytes=1 wbytes=2 rios=3 ...`` -> [(8, 0, {...}), ...]."""
    out = []
    for line in (text or "").splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        fields: dict[str, int] = {}
        for item in parts[1:]:
            key, sep, value = item.partition("=")
            if sep:
                try:
                    fields[key] = int(value)
                except ValueError:
                    continue
        out.append((int(major), int(minor), fields))
    return out


def parse_v1_blkio(text: str | None) -> list[dict[str, Any]]:
    """v1 blkio recursive files -> Docker's ``BlkioStatEntry`` list.

    ``8:0 Read 4096`` gives op "Read"; ``8:0 4096`` (time, sectors) gives op ""; the
    ``Total N`` summary line is dropped, as containerd does.
    """
    out: list[dict[str, Any]] = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) < 2 or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        op, value = ("", parts[1]) if len(parts) == 2 else (parts[1], parts[2])
        try:
            out.append({"major": int(major), "minor": int(minor), "op": op, "value": int(value)})
        except ValueError:
            continue
    return out


def parse_proc_stat(text: str) -> tuple[int, int]:
    """``/proc/stat`` -> (host CPU time in ns, online CPUs), as Docker's
    ``getSystemCPUUsage``: the first 7 fields of the ``cpu`` line, in USER_HZ ticks."""
    total = ncpus = 0
    for line in text.splitlines():
        if not line.startswith("cpu"):
            break
        if line.startswith("cpu "):
            ticks = sum(int(v) for v in line.split()[1:8])
            total = ticks * NS_PER_SEC // CLOCK_TICKS
        elif line[3:4].isdigit():
            ncpus += 1
    return total, ncpus


def parse_meminfo_total(text: str) -> int:
    """``/proc/meminfo`` MemTotal in bytes (Docker's ``machineMemory``)."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _omitempty(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Drop zero/empty values like Go's ``json:",omitempty"``."""
    for key in keys:
        if not d.get(key):
            d.pop(key, None)
    return d


# ---- stats ------------------------------------------------------------------------------

Files = dict[str, "str | None"]  # file name -> text, None when the file is missing


def v1_stats(
    files: Files, *, system_cpu_usage: int, online_cpus: int, machine_memory: int
) -> dict[str, Any]:
    """Docker's stats parts from v1 files (``files`` keyed by bare file name)."""
    acct = parse_flat_keyed(files.get("cpuacct.stat"))
    cpu = parse_flat_keyed(files.get("cpu.stat"))
    percpu = [int(v) for v in (files.get("cpuacct.usage_percpu") or "").split()]
    cpu_usage = _omitempty(
        {
            "total_usage": parse_int(files.get("cpuacct.usage")),
            "percpu_usage": percpu,
            "usage_in_kernelmode": acct.get("system", 0) * NS_PER_SEC // CLOCK_TICKS,
            "usage_in_usermode": acct.get("user", 0) * NS_PER_SEC // CLOCK_TICKS,
        },
        "percpu_usage",
    )
    cpu_stats = _omitempty(
        {
            "cpu_usage": cpu_usage,
            "system_cpu_usage": system_cpu_usage,
            "online_cpus": online_cpus,
            "throttling_data": {
                "periods": cpu.get("nr_periods", 0),
                "throttled_periods": cpu.get("nr_throttled", 0),
                "throttled_time": cpu.get("throttled_time", 0),
            },
        },
        "system_cpu_usage",
        "online_cpus",
    )
    limit = parse_int(files.get("memory.limit_in_bytes"))
    if machine_memory and limit > machine_memory:
        limit = machine_memory
    memory_stats = _omitempty(
        {
            "usage": parse_int(files.get("memory.usage_in_bytes")),
            "max_usage": parse_int(files.get("memory.max_usage_in_bytes")),
            "stats": parse_flat_keyed(files.get("memory.stat")),
            "failcnt": parse_int(files.get("memory.failcnt")),
            "limit": limit,
        },
        "usage",
        "max_usage",
        "stats",
        "failcnt",
        "limit",
    )
    pids_stats = _omitempty(
        {
            "current": parse_int(files.get("pids.current")),
            "limit": parse_int(files.get("pids.max"), max_value=0),
        },
        "current",
        "limit",
    )
    blkio: dict[str, Any] = {}
    for key, suffix in V1_BLKIO_KEYS.items():
        entries = parse_v1_blkio(files.get("blkio." + suffix))
        if not entries and key in V1_BLKIO_THROTTLE:
            entries = parse_v1_blkio(files.get("blkio.throttle." + suffix))
        blkio[key] = entries
    return {
        "cpu_stats": cpu_stats,
        "memory_stats": memory_stats,
        "pids_stats": pids_stats,
        "blkio_stats": blkio,
    }


def v2_stats(
    files: Files, *, system_cpu_usage: int, online_cpus: int, machine_memory: int
) -> dict[str, Any]:
    """Docker's stats parts from v2 files (``statsV2``): no per-CPU usage, no max_usage,
    failcnt is ``memory.events`` oom, io.stat becomes read/write byte entries."""
    cpu = parse_flat_keyed(files.get("cpu.stat"))
    cpu_stats = _omitempty(
        {
            "cpu_usage": {
                "total_usage": cpu.get("usage_usec", 0) * 1000,
                "usage_in_kernelmode": cpu.get("system_usec", 0) * 1000,
                "usage_in_usermode": cpu.get("user_usec", 0) * 1000,
            },
            "system_cpu_usage": system_cpu_usage,
            "online_cpus": online_cpus,
            "throttling_data": {
                "periods": cpu.get("nr_periods", 0),
                "throttled_periods": cpu.get("nr_throttled", 0),
                "throttled_time": cpu.get("throttled_usec", 0) * 1000,
            },
        },
        "system_cpu_usage",
        "online_cpus",
    )
    limit = parse_int(files.get("memory.max"))
    if machine_memory and limit > machine_memory:
        limit = machine_memory
    memory_stats = _omitempty(
        {
            "usage": parse_int(files.get("memory.current")),
            "stats": parse_flat_keyed(files.get("memory.stat")),
            "failcnt": parse_flat_keyed(files.get("memory.events")).get("oom", 0),
            "limit": limit,
        },
        "usage",
        "stats",
        "failcnt",
        "limit",
    )
    pids_stats = _omitempty(
        {
            "current": parse_int(files.get("pids.current")),
            "limit": parse_int(files.get("pids.max")),
        },
        "current",
        "limit",
    )
    service_bytes = []
    for major, minor, fields in parse_nested_keyed(files.get("io.stat")):
        service_bytes.append(
            {"major": major, "minor": minor, "op": "read", "value": fields.get("rbytes", 0)}
        )
        service_bytes.append(
            {"major": major, "minor": minor, "op": "write", "value": fields.get("wbytes", 0)}
        )
    blkio: dict[str, Any] = dict.fromkeys(V1_BLKIO_KEYS)
    blkio["io_service_bytes_recursive"] = service_bytes or None
    return {
        "cpu_stats": cpu_stats,
        "memory_stats": memory_stats,
        "pids_stats": pids_stats,
        "blkio_stats": blkio,
    }


def is_v1_frozen(freezer_state: str | None) -> bool:
    return (freezer_state or "").strip() == "FROZEN"


def is_v2_frozen(events: str | None) -> bool:
    return parse_flat_keyed(events).get("frozen", 0) == 1


def v1_oom_kills(oom_control: str | None) -> int:
    return parse_flat_keyed(oom_control).get("oom_kill", 0)


def v2_oom_kills(memory_events: str | None) -> int:
    return parse_flat_keyed(memory_events).get("oom_kill", 0)
