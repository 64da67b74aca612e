"""A network's record in the state root: ``<root>/network/<name>.json``.

The default ``bridge`` network's is made on first use (its subnet chosen once, then kept, so
a bridge deleted by hand comes back with the same addresses) under ``network/.lock``. Later
user networks add their own files here; the monitor gets the record in the container's
spec, so it never reads JSON.
"""

from __future__ import annotations

import os
import secrets
import time

from dockerlab.engine.atomic import locked, read_json, write_json
from dockerlab.engine.basics import rfc3339_ns
from dockerlab.engine.network import ipam

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.paths import Paths

BRIDGE_NAME = "dockerlab0"  # never docker0: a real Docker may share the host
MTU = 1500


def folder(paths: Paths) -> str:
    return os.path.join(paths.root, "network")


def default_bridge(paths: Paths) -> dict[str, Any]:
    """The default ``bridge`` network's record, made on first use."""
    path = os.path.join(folder(paths), "bridge.json")
    try:
        rec: dict[str, Any] = read_json(path)
        return rec
    except (FileNotFoundError, ValueError):
        pass
    os.makedirs(folder(paths), mode=0o700, exist_ok=True)
    with locked(os.path.join(folder(paths), ".lock")):
        try:
            rec = read_json(path)
            return rec
        except (FileNotFoundError, ValueError):
            pass
        subnet = ipam.pick_subnet(ipam.host_routes(skip=BRIDGE_NAME))
        rec = {
            "Name": "bridge",
            "Id": secrets.token_hex(32),
            "Created": rfc3339_ns(time.time_ns()),
            "Driver": "bridge",
            "Subnet": subnet,
            "Gateway": ipam.gateway_of(subnet),
            "Bridge": BRIDGE_NAME,
            "MTU": MTU,
        }
        write_json(path, rec, mode=0o600)
        return rec


def allocator(paths: Paths, rec: dict[str, Any]) -> ipam.Allocator:
    return ipam.Allocator(folder(paths), rec["Name"], rec["Subnet"])
