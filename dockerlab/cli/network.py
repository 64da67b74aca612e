"""``dockerlab network …``: Docker's ``network`` verbs (user-defined bridge networks).

Loaded only when a ``network`` verb runs (commands.py dispatches here lazily).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.cli.commands import Context
    from dockerlab.cli.parser import Namespace

NETWORKS_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
NETWORKS_HEADER = {
    "ID": "NETWORK ID",
    "Name": "NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "IPv6": "IPV6",
    "Internal": "INTERNAL",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}


def go_time(rfc3339: str) -> str:
    """Go's ``time.Time.String()`` of a UTC RFC 3339 time with nanoseconds, as the
    network formatter prints ``CreatedAt``: ``2026-12-03 02:05:42.418574675 +0000 UTC``."""
    date, _, rest = rfc3339.partition("T")
    clock = rest.rstrip("Z")
    whole, dot, frac = clock.partition(".")
    frac = frac.rstrip("0")
    return f"{date} {whole}{'.' + frac if frac else ''} +0000 UTC"


class NetworkRow:
    """The ``docker network ls --format`` context of one network (formatter.networkContext)."""

    go_type = "*formatter.networkContext"

    def __init__(self, n: dict[str, Any], trunc: bool = True) -> None:
        self.n = n
        self.ID = n["Id"][:12] if trunc else n["Id"]
        self.Name = n["Name"]
        self.Driver = n["Driver"]
        self.Scope = n.get("Scope", "local")
        self.IPv6 = "true" if n.get("EnableIPv6") else "false"
        self.Internal = "true" if n.get("Internal") else "false"
        self.Labels = ",".join(f"{k}={v}" for k, v in (n.get("Labels") or {}).items())
        self.CreatedAt = go_time(n.get("Created", ""))

    def Label(self, name: str) -> str:
        return str((self.n.get("Labels") or {}).get(name, ""))


def cmd_network_create(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.options import labels
    from dockerlab.errors import ClientError, InvalidParameter

    subnets, gateways = ns.subnet or [], ns.gateway or []
    if len(subnets) > 1 or len(gateways) > 1:
        raise InvalidParameter("dockerlab networks have one IPv4 subnet (one --subnet)")
    body: dict[str, Any] = {
        "Name": ns.name,
        "CheckDuplicate": True,
        "Driver": ns.driver or "bridge",
        "Internal": bool(ns.internal),
        "Options": labels(ns.opt or []),
        "Labels": labels(ns.label or []),
    }
    if gateways and not subnets:  # the CLI's own checks (no "Error response from daemon")
        raise ClientError("every ip-range or gateway must have a corresponding subnet")
    if gateways:
        from dockerlab.engine.network.networks import in_subnet

        if not in_subnet(gateways[0], subnets[0]):
            raise ClientError(f"no matching subnet for gateway {gateways[0]}")
    if subnets or gateways:
        entry = {"Subnet": subnets[0] if subnets else ""}
        if gateways:
            entry["Gateway"] = gateways[0]
        body["IPAM"] = {"Driver": "default", "Config": [entry]}
    ctx.print(ctx.engine.network_create(body)["Id"])
    return 0


def cmd_network_ls(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli import render
    from dockerlab.cli.commands import _filters
    from dockerlab.format.rendered import Lines

    nets = ctx.engine.networks(_filters(ns.filter or []))
    if ns.quiet:
        ctx.show(Lines(n["Id"] if ns.no_trunc else n["Id"][:12] for n in nets))
        return 0
    rows = [NetworkRow(n, not ns.no_trunc) for n in nets]
    ctx.show(render.listing(ns.format, NETWORKS_FORMAT, NETWORKS_HEADER, rows))
    return 0


def cmd_network_inspect(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.commands import _inspect_output
    from dockerlab.errors import NotFound

    found, missing = [], []
    for name in ns.names:
        try:
            found.append(ctx.engine.network_inspect(name))
        except NotFound:
            missing.append(name)
    _inspect_output(ctx, ns, found)
    for name in missing:
        ctx.error(f"Error: No such network: {name}")
    return 1 if missing else 0


def cmd_network_rm(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.commands import _each

    return _each(ctx, ns.names, ctx.engine.network_remove, "network rm")


def cmd_network_connect(ctx: Context, ns: Namespace) -> int:
    ctx.engine.network_connect(ns.network, ns.container, list(ns.alias or []), ns.ip or "")
    return 0


def cmd_network_disconnect(ctx: Context, ns: Namespace) -> int:
    ctx.engine.network_disconnect(ns.network, ns.container, bool(ns.force))
    return 0


def cmd_network_prune(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.commands import _confirm, _filters

    if not ns.force and not _confirm(
        ctx, "This will remove all custom networks not used by at least one container."
    ):
        return 0
    deleted = ctx.engine.network_prune(_filters(ns.filter or [])).get("NetworksDeleted") or []
    if deleted:
        ctx.print("Deleted Networks:")
        for name in deleted:
            ctx.print(name)
        ctx.print()
    return 0


HANDLERS = {
    "network connect": cmd_network_connect,
    "network create": cmd_network_create,
    "network disconnect": cmd_network_disconnect,
    "network inspect": cmd_network_inspect,
    "network ls": cmd_network_ls,
    "network prune": cmd_network_prune,
    "network rm": cmd_network_rm,
}
