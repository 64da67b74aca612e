"""User-defined networks: the store of their records, and Docker's documents for them.

A user network is a bridge network like the default one (see :mod:`.bridge`): its own
network namespace (``<run>/net-<id12>.netns``) holding ``br0``, and an uplink whose host end
is ``br-<id12>`` (Docker's bridge name) with the gateway address; its own nftables table
(``<root table>_<id12>``) with its masquerade rule and the isolation rules (no forwarding
between two of the lab's networks, as Docker's ``DOCKER-ISOLATION`` chains). Its record is
``<root>/network/<name>.json``; addresses are in ``<name>.ipam`` as the default bridge's,
and the names its containers answer to (for the embedded DNS, see :mod:`.dns`) in
``<name>.names``. ``bridge``, ``host`` and ``none`` always exist (``host.json`` and
``none.json`` keep their IDs).
"""

from __future__ import annotations

import os
import re

from dockerlab.engine.atomic import locked, read_json, write_json
from dockerlab.engine.network import record
from dockerlab.errors import Conflict, DockerlabError, Forbidden, InvalidParameter, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.paths import Paths

PREDEFINED = ("bridge", "host", "none")
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
FILTERS = frozenset({"driver", "id", "label", "name", "scope", "type", "dangling"})


def folder(paths: Paths) -> str:
    return record.folder(paths)


def _predefined(paths: Paths, name: str) -> dict[str, Any]:
    if name == "bridge":
        return record.default_bridge(paths)
    return record.predefined(paths, name, lambda: {"Driver": "host" if name == "host" else "null"})


def user_records(paths: Paths) -> list[dict[str, Any]]:
    out = []
    try:
        files = sorted(os.listdir(folder(paths)))
    except FileNotFoundError:
        return []
    for file in files:
        if not file.endswith(".json") or file[:-5] in PREDEFINED:
            continue
        try:
            rec = read_json(os.path.join(folder(paths), file))
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and rec.get("User"):
            out.append(rec)
    return out


def all_records(paths: Paths, make_bridge: bool = True) -> list[dict[str, Any]]:
    """Every network, by name. ``make_bridge=False``: the default bridge only if its record
    was made already (its subnet is chosen when it is: ``create`` and look-ups by a user
    network's name need not choose it, nor fail where every pool is routed)."""
    recs = [_predefined(paths, n) for n in PREDEFINED if n != "bridge"] + user_records(paths)
    if make_bridge:
        recs.append(_predefined(paths, "bridge"))
    else:
        try:
            recs.append(read_json(os.path.join(folder(paths), "bridge.json")))
        except (OSError, ValueError):
            pass
    return sorted(recs, key=lambda r: r["Name"])


def find(paths: Paths, ref: str) -> dict[str, Any]:
    """By full ID, then name, then a unique ID prefix (Docker's FindNetwork)."""
    recs = all_records(paths, make_bridge=ref == "bridge") if ref else []
    for key in ("Id", "Name"):
        hits = [r for r in recs if r[key] == ref]
        if hits:
            return hits[0]
    hits = [r for r in recs if r["Id"].startswith(ref)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise NotFound(f"network {ref} is ambiguous ({len(hits)} matches found based on ID prefix)")
    raise NotFound(f"network {ref} not found")


# ---- create ---------------------------------------------------------------------------


def _cidr(text: str) -> tuple[int, int]:
    from dockerlab.engine.network import ipam

    net, slash, plen = text.partition("/")
    try:
        if not slash or not plen.isdigit() or not 0 <= int(plen) <= 32:
            raise ValueError
        value = ipam._ip(net)
        if net.count(".") != 3:
            raise ValueError
    except (OSError, ValueError):
        raise InvalidParameter(f"Invalid subnet {text} : invalid CIDR address: {text}") from None
    prefix = int(plen)
    return value & ipam._mask(prefix), prefix


def _addr(text: str, what: str) -> int:
    from dockerlab.engine.network import ipam

    try:
        if text.count(".") != 3:
            raise ValueError
        return ipam._ip(text)
    except (OSError, ValueError):
        raise InvalidParameter(f"invalid {what} address: {text}") from None


def plan_ipam(
    subnet: str, gateway: str, ip_range: str, routes: list[tuple[int, int]], taken: list[str]
) -> tuple[str, str, str]:
    """(subnet, gateway, ip range) for a new network, with Docker's refusals (pure)."""
    from dockerlab.engine.network import ipam

    if (gateway or ip_range) and not subnet:
        raise InvalidParameter("every ip-range or gateway must have a corresponding subnet")
    if not subnet:
        chosen = ipam.pick_subnet(routes, taken)
        return chosen, ipam.gateway_of(chosen), ""
    net, prefix = _cidr(subnet)
    subnet = f"{ipam.ip_text(net)}/{prefix}"
    for other in taken:
        onet, _, oplen = other.partition("/")
        if ipam.overlaps((net, prefix), (ipam._ip(onet), int(oplen))):
            raise Conflict("Pool overlaps with other one on this address space")
    if prefix > 30:
        raise InvalidParameter(f"Invalid subnet {subnet} : subnet too small")
    if gateway:
        gw = _addr(gateway, "gateway")
        if gw & ipam._mask(prefix) != net:
            raise InvalidParameter(f"no matching subnet for gateway {gateway}")
    else:
        gateway = ipam.gateway_of(subnet)
    if ip_range:
        rnet, rprefix = _cidr(ip_range)
        if rprefix < prefix or rnet & ipam._mask(prefix) != net:
            raise InvalidParameter(f"no matching subnet for range {ip_range}")
        ip_range = f"{ipam.ip_text(rnet)}/{rprefix}"
    return subnet, gateway, ip_range


def create(
    paths: Paths,
    name: str,
    driver: str = "bridge",
    subnet: str = "",
    gateway: str = "",
    ip_range: str = "",
    labels: dict[str, str] | None = None,
    options: dict[str, str] | None = None,
    internal: bool = False,
) -> dict[str, Any]:
    """``POST /networks/create`` for the bridge driver; returns the record."""
    driver = driver or "bridge"
    if name in PREDEFINED:
        raise Conflict(f"network with name {name} already exists")
    if driver in ("host", "null"):
        raise Forbidden(f'only one instance of "{driver}" network is allowed')
    if driver == "overlay":
        raise DockerlabError(
            'This node is not a swarm manager. Use "docker swarm init" or "docker swarm '
            'join" to connect this node to swarm and try again.'
        )
    if driver != "bridge":
        raise NotFound(f'plugin "{driver}" not found')
    if not _NAME.fullmatch(name or ""):
        raise InvalidParameter(
            f'invalid network name "{name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed'
        )
    options = dict(options or {})
    bridge_name = options.get("com.docker.network.bridge.name", "")
    if bridge_name and (len(bridge_name) > 15 or not re.fullmatch(r"[A-Za-z0-9_.-]+", bridge_name)):
        raise InvalidParameter(f"invalid bridge name: {bridge_name}")
    os.makedirs(folder(paths), mode=0o700, exist_ok=True)
    import secrets
    import time

    from dockerlab.engine.basics import rfc3339_ns
    from dockerlab.engine.network import ipam

    with locked(os.path.join(folder(paths), ".create.lock")):
        recs = all_records(paths, make_bridge=False)
        if any(r["Name"] == name for r in recs):
            raise Conflict(f"network with name {name} already exists")
        default_name, table = record.names(paths)
        taken = [r["Subnet"] for r in recs if r.get("Subnet")]
        plan = plan_ipam(subnet, gateway, ip_range, ipam.host_routes(), taken)
        nid = secrets.token_hex(32)
        rec = {
            "Name": name,
            "Id": nid,
            "Created": rfc3339_ns(time.time_ns()),
            "Driver": "bridge",
            "Subnet": plan[0],
            "Gateway": plan[1],
            "IPRange": plan[2],
            "UserGateway": bool(gateway),
            "Bridge": bridge_name or f"br-{nid[:12]}",
            "MTU": record.MTU,
            "Table": f"{table}_{nid[:12]}",
            "NetNS": os.path.join(paths.run, f"net-{nid[:12]}.netns"),
            "Internal": bool(internal),
            "Labels": dict(labels or {}),
            "Options": options,
            "User": True,
            "DefaultBridge": default_name,
        }
        path = os.path.join(folder(paths), f"{name}.json")
        write_json(path, rec, mode=0o600)
        from dockerlab.engine.network import bridge

        try:  # now, as Docker's: its route keeps the subnet from other roots' choices
            if _rootless():  # its bridge is in the user's netns: made at its first use
                return rec
            bridge.ensure(rec, folder(paths))
        except BaseException:
            bridge.remove(rec)
            os.unlink(path)
            raise
    return rec


# ---- containers on it -----------------------------------------------------------------


def in_subnet(ip: str, subnet: str) -> bool:
    from dockerlab.engine.network import ipam

    try:
        net, prefix = _cidr(subnet)
        value = _addr(ip, "IPv4")
    except InvalidParameter:
        return False
    return value & ipam._mask(prefix) == net


def plan_attachments(paths: Paths, body: dict[str, Any]) -> list[dict[str, Any]]:
    """``create``'s user network (``--network NAME``, ``--network-alias``, ``--ip``) as the
    container's first attachment; [] on the predefined networks, with Docker's refusals."""
    host = body.get("HostConfig") or {}
    mode = host.get("NetworkMode") or "default"
    eps = (body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    ep = eps.get(mode) or {}
    ip = (ep.get("IPAMConfig") or {}).get("IPv4Address") or ""
    aliases = list(ep.get("Aliases") or [])
    if mode in ("default", "bridge", "host", "none") or mode.startswith("container:"):
        if ip:
            raise InvalidParameter(
                "user specified IP address is supported on user defined networks only"
            )
        if aliases:
            raise InvalidParameter(
                "network-scoped alias is supported only for containers in user defined networks"
            )
        return []
    rec = find(paths, mode)
    if not rec.get("User"):
        return []
    if ip and not in_subnet(ip, rec["Subnet"]):
        raise InvalidParameter(
            f"Invalid address {ip}: It does not belong to any of this network's subnets"
        )
    return [_attachment(rec, aliases, {"IPv4Address": ip} if ip else None, None)]


def _attachment(
    rec: dict[str, Any], aliases: list[str], ipam_config: Any, driver_opts: Any
) -> dict[str, Any]:
    return {
        "Name": rec["Name"],
        "NetworkID": rec["Id"],
        "Aliases": aliases,
        "IPAMConfig": ipam_config,
        "DriverOpts": driver_opts,
    }


def for_start(paths: Paths, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The records the monitor attaches to (with each endpoint's aliases and ``--ip``);
    Docker's "network X not found" when one was removed meanwhile."""
    recs = {r["Id"]: r for r in user_records(paths)}
    out = []
    for att in attachments(config):
        rec = recs.get(att.get("NetworkID", ""))
        if rec is None:
            raise NotFound(f"network {att['Name']} not found")
        ip = (att.get("IPAMConfig") or {}).get("IPv4Address") or ""
        out.append({**rec, "Aliases": list(att.get("Aliases") or []), "IPv4Address": ip})
    return out


def attachments(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The container's user networks, in attach order (``eth0`` first when its mode is one)."""
    found: list[dict[str, Any]] = config.get("UserNetworks") or []
    return found


def users_of(paths: Paths, rec: dict[str, Any]) -> list[str]:
    """IDs of the containers with an address on the network (its active endpoints)."""
    from dockerlab.engine.network import ipam

    holders = ipam.Allocator(folder(paths), rec["Name"], rec.get("Subnet", "")).holders()
    return sorted({cid for cid in holders.values() if os.path.isdir(paths.container(cid))})


def remove(paths: Paths, ref: str) -> str:
    """``DELETE /networks/{id}``; returns the name."""
    rec = find(paths, ref)
    if rec["Name"] in PREDEFINED:
        raise Forbidden(f"{rec['Name']} is a pre-defined network and cannot be removed")
    with locked(os.path.join(folder(paths), ".create.lock")):
        if users_of(paths, rec):
            raise Forbidden(
                f"error while removing network: network {rec['Name']} id {rec['Id']} has "
                "active endpoints"
            )
        from dockerlab.engine.network import bridge

        if not _rootless():
            bridge.remove(rec)
        else:  # in the user's netns: a helper goes in (none runs: gone with the holder)
            from dockerlab.engine.network import usermode

            if usermode.holder(paths.run):
                usermode.delegate(paths.root, paths.run, "drop_bridge", [rec])
        base = os.path.join(folder(paths), rec["Name"])
        for suffix in (".json", ".ipam", ".ipam.lock", ".names", ".names.lock"):
            try:
                os.unlink(base + suffix)
            except FileNotFoundError:
                pass
    return str(rec["Name"])


def drop_bridge(store: Any, rec: dict[str, Any]) -> None:
    """(rootless: the helper in the user's netns, see usermode.delegate) ``rec``'s bridge:
    uplink, namespace, nftables table."""
    from dockerlab.engine.network import bridge

    bridge.remove(rec)


def remove_all(paths: Paths) -> None:
    """Delete every user network of a root from the host (tests; a discarded root)."""
    from dockerlab.engine.network import bridge

    for rec in user_records(paths):
        bridge.remove(rec)


# ---- documents --------------------------------------------------------------------------


def inspect(paths: Paths, rec: dict[str, Any], containers: list[Any]) -> dict[str, Any]:
    """Docker 20.10's network document (network.md §1.2 and §4.5); ``containers`` are the
    store's containers (their live endpoints fill ``Containers``)."""
    user = bool(rec.get("User"))
    name = rec["Name"]
    attached: dict[str, Any] = {}
    for c in containers:
        if not c.state.get("Running"):
            continue
        ep = _endpoint(c, rec)
        if ep:
            attached[c.id] = {
                "Name": c.config["Name"].lstrip("/"),
                "EndpointID": ep.get("EndpointID", ""),
                "MacAddress": ep.get("MacAddress", ""),
                "IPv4Address": f"{ep.get('IPAddress', '')}/{ep.get('IPPrefixLen', 0)}",
                "IPv6Address": "",
            }
    cfg: list[dict[str, str]] = []
    if rec.get("Subnet"):
        entry = {"Subnet": rec["Subnet"]}
        if rec.get("IPRange"):
            entry["IPRange"] = rec["IPRange"]
        if user:
            entry["Gateway"] = rec["Gateway"]
        cfg.append(entry)
    if name == "bridge":
        options: dict[str, str] = {
            "com.docker.network.bridge.default_bridge": "true",
            "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
            "com.docker.network.bridge.name": rec.get("Bridge", ""),
            "com.docker.network.driver.mtu": str(rec.get("MTU") or 1500),
        }
    else:
        options = dict(rec.get("Options") or {})
    return {
        "Name": name,
        "Id": rec["Id"],
        "Created": rec["Created"],
        "Scope": "local",
        "Driver": rec["Driver"],
        "EnableIPv6": False,
        "IPAM": {
            "Driver": "default",
            "Options": {} if user else None,
            "Config": cfg,
        },
        "Internal": bool(rec.get("Internal")),
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": dict(sorted(attached.items())),
        "Options": options,
        "Labels": dict(rec.get("Labels") or {}),
    }


def _endpoint(c: Any, rec: dict[str, Any]) -> dict[str, Any] | None:
    if rec["Name"] == "bridge":
        if c.config["HostConfig"].get("NetworkMode") in ("default", "bridge"):
            found: dict[str, Any] | None = c.state.get("Network")
            return found
        return None
    if rec["Name"] in ("host", "none"):
        return {} if c.config["HostConfig"].get("NetworkMode") == rec["Name"] else None
    live = (c.state.get("Networks") or {}).get(rec["Name"])
    if live and live.get("NetworkID") == rec["Id"]:
        return dict(live)
    return None


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """What ``network ls`` works from (``GET /networks`` gives the same documents)."""
    return doc


def filter_networks(docs: list[dict[str, Any]], filters: dict[str, list[str]]) -> list[Any]:
    """``GET /networks?filters=``: driver, id, label, name, scope, type (custom|builtin),
    dangling; unknown keys refused with the daemon's words (pure)."""
    from dockerlab.engine.filters import _label_match, _match

    for key in filters:
        if key not in FILTERS:
            raise InvalidParameter(f"Invalid filter '{key}'")
    out = list(docs)
    for kind in filters.get("type") or []:
        if kind not in ("custom", "builtin"):
            raise InvalidParameter(f"invalid filter: 'type'='{kind}'")
    if filters.get("type"):
        kinds = set(filters["type"])
        out = [d for d in out if ("builtin" if d["Name"] in PREDEFINED else "custom") in kinds]
    if filters.get("driver"):
        out = [d for d in out if _match(filters["driver"], d["Driver"])]
    if filters.get("name"):
        out = [d for d in out if _match(filters["name"], d["Name"])]
    if filters.get("id"):
        out = [d for d in out if _match(filters["id"], d["Id"])]
    if filters.get("scope"):
        out = [d for d in out if "local" in filters["scope"]]
    for label in filters.get("label") or []:
        out = [d for d in out if _label_match(d.get("Labels") or {}, label)]
    if filters.get("dangling"):
        values = filters["dangling"]
        want = "true" in values or "1" in values
        # a custom network no container is on (the predefined ones never dangle)
        out = [d for d in out if (d["Name"] not in PREDEFINED and not d["Containers"]) == want]
    return out


# ---- connect / disconnect / prune ----------------------------------------------------------


def _user_rec(paths: Paths, ref: str) -> dict[str, Any]:
    rec = find(paths, ref)
    if rec["Name"] == "host":
        raise Forbidden(
            "container cannot be disconnected from host network or connected to host network"
        )
    if not rec.get("User"):
        raise InvalidParameter(
            f"dockerlab connects and disconnects containers on user-defined networks only "
            f"(not {rec['Name']})"
        )
    return rec


def _free_ifname(c: Any) -> str:
    used = {n.get("IfName") for n in (c.state.get("Networks") or {}).values()}
    if c.config.get("BridgeNetwork"):
        used.add("eth0")
    i = 0
    while f"eth{i}" in used:
        i += 1
    return f"eth{i}"


def connect(
    store: Any, ref: str, container: str, aliases: list[str] | None = None, ip: str = ""
) -> None:
    """``POST /networks/{id}/connect``: a running container gets its interface and DNS
    names now, a stopped one at its next start."""
    paths = store.paths
    rec = _user_rec(paths, ref)
    c = store.find(container)
    if _rootless() and c.running:  # its bridges are in the user's netns: a helper goes in
        from dockerlab.engine.network import usermode

        usermode.delegate(paths.root, paths.run, "connect", [ref, container, aliases, ip])
        return
    with c.lock():
        c.refresh(locked=True)
        mode = c.config["HostConfig"].get("NetworkMode") or "default"
        if mode in ("host", "none") or mode.startswith("container:"):
            raise Forbidden(
                "container sharing network namespace with another container or host cannot "
                "be connected to any other network"
            )
        name = c.config["Name"].lstrip("/")
        if any(a.get("NetworkID") == rec["Id"] for a in attachments(c.config)):
            raise Forbidden(f"endpoint with name {name} already exists in network {rec['Name']}")
        if ip and not in_subnet(ip, rec["Subnet"]):
            raise InvalidParameter(
                f"Invalid address {ip}: It does not belong to any of this network's subnets"
            )
        att = _attachment(rec, list(aliases or []), {"IPv4Address": ip} if ip else {}, {})
        if c.running:
            _plug(store, c, rec, att, ip)
        c.config["UserNetworks"] = [*attachments(c.config), att]
        c.save_config()


def _rootless() -> bool:
    return os.geteuid() != 0 or os.environ.get("DOCKERLAB_ROOTLESS") == "1"


def _plug(store: Any, c: Any, rec: dict[str, Any], att: dict[str, Any], ip: str) -> None:
    from dockerlab.engine.network import dns, etcfiles
    from dockerlab.engine.network.endpoint import Endpoint

    fold = folder(store.paths)
    from dockerlab.engine.network import bridge

    bridge.ensure(rec, fold)
    ep = Endpoint(rec, fold, c.id, store.paths.containers, _free_ifname(c), ip)
    with bridge.Inside(f"/proc/{c.state['Pid']}/ns/net"):
        ep.join()
    names = [c.config["Name"].lstrip("/"), c.id[:12], *att["Aliases"]]
    dns.register(fold, rec["Name"], ep.ip, c.id, names)
    nets = [a["Name"] for a in attachments(c.config)] + [rec["Name"]]
    if os.path.exists(dns.networks_file(c.rundir)):
        # it has a DNS server (it started on a user network): point at it, as Docker does;
        # one started on the default bridge alone gets one at its next start
        dns.set_networks(c.rundir, nets)
        with open(os.path.join(c.dir, "resolv.conf"), "wb") as f:  # in place: bind-mounted
            f.write(etcfiles.embedded_resolv_conf())
    c.state.setdefault("Networks", {})
    c.state["Networks"] = {**(c.state["Networks"] or {}), rec["Name"]: ep.settings()}
    c.save_state(durable=False)


def disconnect(store: Any, ref: str, container: str, force: bool = False) -> None:
    """``POST /networks/{id}/disconnect``: the interface goes now if it runs."""
    from dockerlab.engine.network import dns, ipam

    paths = store.paths
    rec = _user_rec(paths, ref)
    c = store.find(container)
    if _rootless() and c.running:  # (see connect)
        from dockerlab.engine.network import usermode

        usermode.delegate(paths.root, paths.run, "disconnect", [ref, container, force])
        return
    with c.lock():
        c.refresh(locked=True)
        atts = attachments(c.config)
        if not any(a.get("NetworkID") == rec["Id"] for a in atts):
            raise Forbidden(f"container {c.id} is not connected to network {rec['Name']}")
        if c.running:
            live = (c.state.get("Networks") or {}).get(rec["Name"]) or {}
            if live.get("IfName"):
                from dockerlab.engine.network import bridge
                from dockerlab.engine.network.netlink import Netlink

                with bridge.Inside(f"/proc/{c.state['Pid']}/ns/net"):
                    nl = Netlink()
                    try:
                        nl.delete_link(live["IfName"])
                    except OSError:
                        pass  # gone already
                    finally:
                        nl.close()
            rest = [a["Name"] for a in atts if a.get("NetworkID") != rec["Id"]]
            if os.path.exists(dns.networks_file(c.rundir)):
                dns.set_networks(c.rundir, rest)
            nets = dict(c.state.get("Networks") or {})
            nets.pop(rec["Name"], None)
            c.state["Networks"] = nets
            c.save_state(durable=False)
        ipam.Allocator(folder(paths), rec["Name"], rec["Subnet"]).release(c.id)
        dns.unregister(folder(paths), rec["Name"], c.id)
        c.config["UserNetworks"] = [a for a in atts if a.get("NetworkID") != rec["Id"]]
        c.save_config()


PRUNE_FILTERS = frozenset({"label", "label!", "until"})


def prune(store: Any, filters: dict[str, list[str]] | None = None) -> list[str]:
    """``POST /networks/prune``: user networks no running container is on (as Docker's: a
    stopped container's network goes too, and its next start says "network X not found")."""
    from dockerlab.engine.filters import prune_matcher
    from dockerlab.format.units import parse_rfc3339

    match = prune_matcher(filters or {}, PRUNE_FILTERS)
    deleted = []
    for rec in user_records(store.paths):
        if users_of(store.paths, rec):
            continue
        if not match(rec.get("Labels"), parse_rfc3339(rec["Created"])):
            continue
        try:
            deleted.append(remove(store.paths, rec["Id"]))
        except DockerlabError:
            continue
    return sorted(deleted)
