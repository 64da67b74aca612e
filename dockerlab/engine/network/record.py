"""A network's record in the state root: ``<root>/network/<name>.json``.

The predefined networks' are made on first use under ``network/.lock`` (:func:`predefined`);
the default ``bridge``'s subnet is chosen once, then kept, so a bridge deleted by hand comes
back with the same addresses. Later user networks add their own files here; the monitor
gets the record in the container's spec, so it never reads JSON.
"""

from __future__ import annotations

import os

from dockerlab.engine.atomic import locked, read_json, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockerlab.engine.network.ipam import Allocator
    from dockerlab.engine.paths import Paths

BRIDGE_NAME = "dockerlab0"  # never docker0: a real Docker may share the host
MTU = 1500


def names(paths: Paths) -> tuple[str, str]:
    """The bridge's and the nftables table's names for this state root: ``dockerlab0`` and
    ``dockerlab`` for the default one, ``dl<tag>`` for any other (the runtime folder's
    tag), so two roots (tests, a second install) never share addresses or rules."""
    from dockerlab.engine.paths import DEFAULT_ROOT

    if paths.root == DEFAULT_ROOT:
        return BRIDGE_NAME, "dockerlab"
    from binascii import crc32

    tag = f"dl{crc32(paths.root.encode()):08x}"  # 10 characters: IFNAMSIZ is 16
    return tag, tag


def netns_path(paths: Paths) -> str:
    """Where the bridge's namespace is kept (a bind mount; gone with the run dir at boot)."""
    return os.path.join(paths.run, "bridge.netns")


def folder(paths: Paths) -> str:
    return os.path.join(paths.root, "network")


def predefined(paths: Paths, name: str, fields: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``<name>.json``'s record, made on first use under the network lock: its name, a new
    ID and creation time, then ``fields()`` (called only then)."""
    path = os.path.join(folder(paths), f"{name}.json")
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
        import secrets  # (here: the CLI's start path reads the record, never makes it)
        import time

        from dockerlab.engine.basics import rfc3339_ns

        rec = {"Name": name, "Id": secrets.token_hex(32), "Created": rfc3339_ns(time.time_ns())}
        rec.update(fields())
        write_json(path, rec, mode=0o600)
        return rec


def default_bridge(paths: Paths) -> dict[str, Any]:
    """The default ``bridge`` network's record, made on first use."""

    def fields() -> dict[str, Any]:
        from dockerlab.engine.network import ipam

        name, table = names(paths)
        subnet = ipam.pick_subnet(ipam.host_routes(skip=name))
        return {
            "Driver": "bridge",
            "Subnet": subnet,
            "Gateway": ipam.gateway_of(subnet),
            "Bridge": name,
            "MTU": MTU,
            "Table": table,
            "NetNS": netns_path(paths),
        }

    return predefined(paths, "bridge", fields)


def allocator(paths: Paths, rec: dict[str, Any]) -> Allocator:
    from dockerlab.engine.network.ipam import Allocator

    return Allocator(folder(paths), rec["Name"], rec["Subnet"])


def remove_default_bridge(paths: Paths) -> None:
    """Delete this root's bridge network from the host (a test's or a discarded root's);
    containers still on it lose their network."""
    from dockerlab.engine.network import bridge

    name, table = names(paths)  # (derived: the root may be gone already)
    bridge.remove({"Bridge": name, "Table": table, "NetNS": netns_path(paths)})
