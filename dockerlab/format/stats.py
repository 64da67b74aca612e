"""The docker CLI's stats arithmetic (``cli/command/container/stats_helpers.go``) over one
``GET /containers/{id}/stats`` sample: CPU % from the delta to ``precpu_stats``, memory
without the inactive page cache, network and block IO summed. Shared by ``docker stats``
and the resource-monitor widget.
"""

from __future__ import annotations

from typing import Any

__all__ = ["block_io", "cpu_percent", "memory_usage", "network_io"]


def cpu_percent(s: dict[str, Any]) -> float:
    """calculateCPUPercentUnix."""
    cpu = s.get("cpu_stats") or {}
    pre = s.get("precpu_stats") or {}
    cpu_delta = float((cpu.get("cpu_usage") or {}).get("total_usage", 0)) - float(
        (pre.get("cpu_usage") or {}).get("total_usage", 0)
    )
    system_delta = float(cpu.get("system_cpu_usage", 0)) - float(pre.get("system_cpu_usage", 0))
    online = float(cpu.get("online_cpus") or 0)
    if online == 0.0:
        online = float(len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []))
    if system_delta > 0.0 and cpu_delta > 0.0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_usage(s: dict[str, Any]) -> float:
    """calculateMemUsageUnixNoCache: usage minus inactive file pages (v1 total_, v2 plain)."""
    mem = s.get("memory_stats") or {}
    usage = mem.get("usage", 0)
    stats = mem.get("stats") or {}
    if "total_inactive_file" in stats and stats["total_inactive_file"] < usage:
        return float(usage - stats["total_inactive_file"])
    if stats.get("inactive_file", 0) < usage:
        return float(usage - stats.get("inactive_file", 0))
    return float(usage)


def block_io(s: dict[str, Any]) -> tuple[int, int]:
    read = write = 0
    for entry in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = (entry.get("op") or " ")[0]
        if op in "rR":
            read += entry.get("value", 0)
        elif op in "wW":
            write += entry.get("value", 0)
    return read, write


def network_io(s: dict[str, Any]) -> tuple[int, int]:
    rx = tx = 0
    for net in (s.get("networks") or {}).values():
        rx += net.get("rx_bytes", 0)
        tx += net.get("tx_bytes", 0)
    return rx, tx
