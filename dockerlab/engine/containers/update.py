"""``update``: change a container's limits and restart policy (``POST /containers/{id}/update``).

A running (or paused) container's cgroup is written at once; any container's HostConfig is
recorded, so a stopped one starts with the new values and a restarting one gets them at its
next restart (the monitor reads the config again). A new restart policy reaches a live
monitor through ``<run dir>/<id>/restart-policy`` (see :mod:`dockerlab.engine.runtime.restarts`).

Docker's rules (moby ``container.UpdateContainer``): a field left at 0 (or "") keeps its
value; ``--cpus`` and ``--cpu-period``/``--cpu-quota`` exclude each other across updates; a
memory limit above the recorded memory+swap needs ``--memory-swap`` too; an ``--rm``
container keeps ``no``. Its errors name the container: ``Cannot update container <id>: …``.
"""

from __future__ import annotations

import os
from typing import Any

from dockerlab.engine.containers.create import verify_host_config
from dockerlab.engine.containers.store import ContainerStore
from dockerlab.errors import Conflict, InvalidParameter

_KEYS = (
    "CpuShares",
    "NanoCpus",
    "CpuPeriod",
    "CpuQuota",
    "CpusetCpus",
    "CpusetMems",
    "Memory",
    "MemorySwap",
    "MemoryReservation",
)


def merged_host_config(host: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """``host`` with the update ``body`` applied (pure); InvalidParameter with Docker's words
    (without the "Cannot update container" prefix) for a conflicting update."""
    new = dict(host)
    if body.get("NanoCpus") and host.get("CpuPeriod"):
        raise InvalidParameter(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set"
        )
    if body.get("NanoCpus") and host.get("CpuQuota"):
        raise InvalidParameter(
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"
        )
    if body.get("CpuPeriod") and host.get("NanoCpus"):
        raise InvalidParameter(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"
        )
    if body.get("CpuQuota") and host.get("NanoCpus"):
        raise InvalidParameter(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
        )
    memory = body.get("Memory") or 0
    if memory and memory > (host.get("MemorySwap") or 0) and not body.get("MemorySwap"):
        raise InvalidParameter(
            "Memory limit should be smaller than already set memoryswap limit, update the "
            "memoryswap at the same time"
        )
    for key in _KEYS:
        if body.get(key):
            new[key] = body[key]
    if body.get("PidsLimit") is not None:
        new["PidsLimit"] = body["PidsLimit"]
    policy = body.get("RestartPolicy") or {}
    if policy.get("Name"):
        if host.get("AutoRemove") and policy["Name"] != "no":
            raise InvalidParameter(
                "Restart policy cannot be updated because AutoRemove is enabled for the container"
            )
        new["RestartPolicy"] = {
            "Name": policy["Name"],
            "MaximumRetryCount": policy.get("MaximumRetryCount") or 0,
        }
    return new


def _rootless_refusal(body: dict[str, Any]) -> str:
    """A rootless container has no cgroup (engine/rootless.py): limits are refused in one
    message, as at create; a restart policy alone is fine."""
    from dockerlab.engine import rootless

    if not rootless.enabled():
        return ""
    asked = [k for k in _KEYS if body.get(k)]
    if body.get("PidsLimit") not in (None, 0, -1):
        asked.append("PidsLimit")
    return f"{rootless.CGROUP_ADVICE} (asked: {', '.join(asked)})" if asked else ""


def update(store: ContainerStore, ref: str, body: dict[str, Any]) -> dict[str, Any]:
    from dockerlab.engine import rootless
    from dockerlab.engine.atomic import write_bytes
    from dockerlab.engine.runtime.cgroups import Resources
    from dockerlab.engine.runtime.restarts import POLICY_FILE, encode

    c = store.find(ref)
    warnings = verify_host_config(dict(body), update=True)
    with c.lock():
        c.refresh(locked=True)
        if c.dead:
            raise Conflict(
                f"Cannot update container {c.id}: container is marked for removal and cannot "
                'be "update"'
            )
        host = c.config["HostConfig"]
        refusal = _rootless_refusal(body)
        if refusal:
            raise InvalidParameter(f"Cannot update container {c.id}: {refusal}")
        try:
            new = merged_host_config(host, body)
        except InvalidParameter as exc:
            raise InvalidParameter(f"Cannot update container {c.id}: {exc}") from None
        live = c.state["Status"] in ("running", "paused")  # a restarting one: at restart
        if live and not rootless.enabled():  # (rootless: no cgroup, no limits to write)
            changes = {k: v for k, v in body.items() if k in _KEYS or k == "PidsLimit"}
            if changes.get("Memory") and not changes.get("MemorySwap"):
                changes["MemorySwap"] = new.get("MemorySwap") or 0  # v1 writes both in order
            c.cgroup().update(Resources.from_host_config(changes))
        c.config["HostConfig"] = new
        c.save_config()
        if new.get("RestartPolicy") != host.get("RestartPolicy") and os.path.isdir(c.rundir):
            policy = new["RestartPolicy"]
            text = encode(policy["Name"], policy["MaximumRetryCount"])
            write_bytes(os.path.join(c.rundir, POLICY_FILE), text.encode(), durable=False)
    return {"Warnings": warnings or None}
