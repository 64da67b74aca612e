"""Resource figures of a container: ``stats`` samples and ``top``'s process table."""

from __future__ import annotations

import subprocess
import time
from typing import Any

from dockerlab.engine.containers.store import Container
from dockerlab.errors import DockerlabError


def _net(pid: int) -> dict[str, Any]:
    """Per-interface counters from inside the container's network namespace (lo excluded)."""
    nets: dict[str, Any] = {}
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return nets
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        if name == "lo":
            continue
        v = [int(x) for x in rest.split()]
        nets[name] = {
            "rx_bytes": v[0],
            "rx_packets": v[1],
            "rx_errors": v[2],
            "rx_dropped": v[3],
            "tx_bytes": v[8],
            "tx_packets": v[9],
            "tx_errors": v[10],
            "tx_dropped": v[11],
        }
    return nets


def sample(c: Container, previous: dict[str, Any] | None) -> dict[str, Any]:
    """One Docker ``/containers/{id}/stats`` sample; zeros for a stopped container."""
    from dockerlab.engine.basics import time_now

    out: dict[str, Any] = {
        "read": time_now(),
        "preread": (previous or {}).get("read", "0001-01-01T00:00:00Z"),
        "id": c.id,
        "name": "/" + c.name,
    }
    if c.running and c.state["Pid"]:  # a restarting one has no process (nor cgroup)
        out.update(c.cgroup().stats())
        if c.config["HostConfig"].get("NetworkMode") != "host":
            nets = _net(c.state["Pid"])  # eth0's counters (the shared one for container:)
            if nets:  # none: loopback only, and Docker sends no "networks" then
                out["networks"] = nets
    else:
        out.update(
            {
                "cpu_stats": {
                    "cpu_usage": {"total_usage": 0},
                    "system_cpu_usage": 0,
                    "online_cpus": 0,
                },
                "memory_stats": {},
                "pids_stats": {},
                "blkio_stats": {},
            }
        )
    out["precpu_stats"] = (previous or {}).get("cpu_stats") or {
        "cpu_usage": {"total_usage": 0},
        "system_cpu_usage": 0,
    }
    out["_monotonic"] = time.monotonic()
    return out


def top(pids: list[int], ps_args: str = "-ef") -> dict[str, Any]:
    """Docker's ``top``: the host's ``ps`` output, kept to the container's processes."""
    args = ps_args.split() or ["-ef"]
    try:
        text = subprocess.run(["ps", *args], capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        raise DockerlabError("ps is not installed on the host (Debian package procps)")
    except subprocess.CalledProcessError as exc:
        raise DockerlabError(
            f"Error running ps: exit status {exc.returncode}: {exc.stderr.strip()}"
        )
    lines = text.splitlines()
    titles = lines[0].split()
    try:
        pid_col = titles.index("PID")
    except ValueError:
        raise DockerlabError("Couldn't find PID field in ps output")
    wanted = set(pids)
    processes = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in wanted:
            processes.append(fields)
    return {"Titles": titles, "Processes": processes}
