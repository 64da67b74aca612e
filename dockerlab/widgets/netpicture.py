"""The picture NetworkView draws, as pure functions of Docker-shaped documents.

:func:`build` takes containers' inspect documents (``NetworkSettings.Networks``,
``NetworkSettings.Ports``, ``HostConfig.Links``, ``HostConfig.NetworkMode``) and network
records (the engine's ``network/<name>.json`` or Docker's ``network inspect`` shape) and
gives a :class:`Picture`; :func:`svg` draws it, :func:`text_lines` says it in words. The
same documents give the same bytes, so tests compare values. Everything read from a
document is bounded (counts, string widths) and escaped: a document is data, not markup.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from html import escape
from typing import Any

from dockerlab.widgets.svg import FONT, _num

MAX_CONTAINERS = 48  # boxes drawn; the rest are counted in a note
MAX_NETWORKS = 12  # buses drawn
MAX_IFACES = 6  # interfaces listed per container
MAX_ARROWS = 4  # published-port arrows per container
MAX_EXPOSED = 3  # exposed, unpublished ports listed per container
MAX_LINKS = 4  # links listed per container
MAX_REMOVED = 8  # removed containers kept on show
WIDTH = 28  # characters of a name, an address, a port shown

COL, BOX_W, LEFT = 230, 210, 200
LINE = 14
BUS_GAP = 34
PALETTE = ("#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#5d4037")
STATE_COLOURS = {"running": "#2e7d32", "paused": "#b8860b", "restarting": "#b8860b"}
SPECIAL = ("host", "none")  # network modes without an interface of their own


def clip(value: Any, width: int = WIDTH) -> str:
    text = value if isinstance(value, str) else str(value if value is not None else "")
    text = "".join(ch if ch.isprintable() else "?" for ch in text[: width + 1])
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class Net:
    name: str
    id: str = ""
    driver: str = "bridge"
    subnet: str = ""
    gateway: str = ""
    device: str = ""  # the host's interface holding the gateway (dockerlab0, br-…)
    colour: str = "#555"


@dataclass
class Iface:
    network: str
    ip: str
    prefix: int
    mac: str = ""
    aliases: list[str] = field(default_factory=list)


@dataclass
class Port:
    port: str  # the container's side, "80/tcp"
    host_ip: str = ""  # "" when exposed but not published
    host_port: str = ""
    also: str = ""  # the [::] binding of the same port folded into this arrow

    @property
    def host(self) -> str:
        ip = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
        return f"{ip}:{self.host_port}"


@dataclass
class Box:
    id: str
    name: str
    image: str = ""
    state: str = "created"
    mode: str = "bridge"
    ifaces: list[Iface] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (alias, container name)

    @property
    def removed(self) -> bool:
        return self.state == "removed"


@dataclass
class Picture:
    nets: list[Net]
    boxes: list[Box]
    hidden: int = 0  # containers not drawn (over MAX_CONTAINERS)
    hidden_nets: int = 0


# ---- documents -> picture ---------------------------------------------------------------------
def _ip(text: str) -> int | None:
    try:
        value: int = struct.unpack("!I", socket.inet_aton(text))[0]
    except (OSError, TypeError, ValueError):
        return None
    return value


def subnet_of(ip: str, prefix: int) -> str:
    """``172.18.0.0/16`` for ``172.18.0.5`` and 16; "" for what is not an IPv4 address."""
    value = _ip(ip)
    if value is None or not 0 <= prefix <= 32:
        return ""
    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0
    return f"{socket.inet_ntoa(struct.pack('!I', value & mask))}/{prefix}"


def network_of(doc: dict[str, Any]) -> Net:
    """A network from the engine's record (``Subnet``, ``Gateway``, ``Bridge`` at the top)
    or from Docker's ``network inspect`` (``IPAM.Config[0]``, the bridge's name in
    ``Options``)."""
    ipam = ((doc.get("IPAM") or {}).get("Config") or [{}])[0] or {}
    options = doc.get("Options") or {}
    return Net(
        name=clip(doc.get("Name") or "", 64),
        id=str(doc.get("Id") or "")[:64],
        driver=clip(doc.get("Driver") or "bridge"),
        subnet=clip(doc.get("Subnet") or ipam.get("Subnet") or ""),
        gateway=clip(doc.get("Gateway") or ipam.get("Gateway") or ""),
        device=clip(doc.get("Bridge") or options.get("com.docker.network.bridge.name") or ""),
    )


def parse_link(text: str) -> tuple[str, str] | None:
    """``/db:/web/aliasdb`` (Docker's ``HostConfig.Links``) -> ``("aliasdb", "db")``."""
    child, sep, name = str(text).partition(":")
    if not sep:
        return None
    return name.rsplit("/", 1)[-1], child.lstrip("/")


def _port_key(port: str) -> tuple[int, str]:
    number, _, proto = port.partition("/")
    return (int(number) if number.isdigit() else 1 << 20, proto or "tcp")


def ports_of(doc: dict[str, Any]) -> list[Port]:
    """``NetworkSettings.Ports`` as arrows, by port number: one per binding, except that a
    ``[::]`` binding of the same host port as a ``0.0.0.0`` one is folded into it (Docker
    20.10 lists both for every unspecified host IP); an exposed port mapped to null has no
    binding."""
    table = (doc.get("NetworkSettings") or {}).get("Ports") or {}
    if not isinstance(table, dict):
        return []
    out: list[Port] = []
    for port in sorted(map(str, table), key=_port_key)[:64]:
        bindings = table.get(port)
        if not isinstance(bindings, list) or not bindings:
            out.append(Port(clip(port)))
            continue
        mine: list[Port] = []
        for b in bindings[:16]:
            if not isinstance(b, dict):
                continue
            ip, hp = clip(b.get("HostIp") or "0.0.0.0"), clip(b.get("HostPort") or "")
            twin = [p for p in mine if ip == "::" and p.host_ip == "0.0.0.0" and p.host_port == hp]
            if twin:
                twin[0].also = f"[::]:{hp}"
            else:
                mine.append(Port(clip(port), ip, hp))
        out.extend(mine)
    return out


def box_of(doc: dict[str, Any]) -> Box:
    """One container's box from its inspect document."""
    host = doc.get("HostConfig") or {}
    settings = doc.get("NetworkSettings") or {}
    mode = str(host.get("NetworkMode") or "default")
    mode = "bridge" if mode == "default" else mode
    state = (doc.get("State") or {}).get("Status") or "created"
    ifaces = []
    networks = settings.get("Networks") or {}
    for name, entry in list(networks.items() if isinstance(networks, dict) else [])[:32]:
        if name in SPECIAL or not isinstance(entry, dict):
            continue
        try:
            prefix = int(entry.get("IPPrefixLen") or 0)
        except (TypeError, ValueError):
            prefix = 0
        aliases = entry.get("Aliases") or []
        ifaces.append(
            Iface(
                clip(name, 64),
                clip(entry.get("IPAddress") or ""),
                prefix,
                clip(entry.get("MacAddress") or ""),
                [clip(a) for a in aliases[:8]] if isinstance(aliases, list) else [],
            )
        )
    given = host.get("Links")
    links = [parse_link(t) for t in given[:64]] if isinstance(given, list) else []
    return Box(
        id=str(doc.get("Id") or "")[:64],
        name=clip(str(doc.get("Name") or "").lstrip("/") or str(doc.get("Id") or "")[:12], 64),
        image=clip((doc.get("Config") or {}).get("Image") or doc.get("Image") or ""),
        state=clip(state),
        mode=clip(mode, 64),
        ifaces=ifaces,
        ports=ports_of(doc),
        links=[(clip(a), clip(c, 64)) for a, c in (x for x in links if x)],
    )


def build(
    containers: list[dict[str, Any]],
    networks: list[dict[str, Any]] = (),  # type: ignore[assignment]
    removed: list[Box] = (),  # type: ignore[assignment]
) -> Picture:
    """The picture of ``containers`` (inspect documents) on ``networks`` (records); those in
    ``removed`` (boxes kept from before) are drawn greyed, without interfaces. Networks named
    only by a container's endpoint are drawn too, their subnet taken from its address."""
    pairs = sorted(((box_of(d), d) for d in containers), key=lambda bd: (bd[0].name, bd[0].id))
    boxes = [b for b, _ in pairs]
    gone = [
        Box(b.id, b.name, b.image, "removed", b.mode)
        for b in list(removed)[-MAX_REMOVED:]
        if b.id not in {x.id for x in boxes}
    ]
    boxes += sorted(gone, key=lambda b: (b.name, b.id))
    nets: dict[str, Net] = {}
    for doc in networks:
        net = network_of(doc)
        if net.name and net.name not in SPECIAL and net.driver not in ("host", "null"):
            nets.setdefault(net.name, net)
    for b, doc in pairs:
        entries = (doc.get("NetworkSettings") or {}).get("Networks") or {}
        for iface in b.ifaces:
            net = nets.setdefault(iface.network, Net(iface.network))
            entry = entries.get(iface.network) or {}
            if not net.subnet and iface.ip:
                net.subnet = subnet_of(iface.ip, iface.prefix)
            if not net.gateway:
                net.gateway = clip(entry.get("Gateway") or "")
    order = sorted(nets.values(), key=lambda n: (n.name != "bridge", n.name))
    shown = order[:MAX_NETWORKS]
    for i, net in enumerate(shown):
        net.colour = PALETTE[i % len(PALETTE)]
    return Picture(
        nets=shown,
        boxes=boxes[:MAX_CONTAINERS],
        hidden=max(0, len(boxes) - MAX_CONTAINERS),
        hidden_nets=max(0, len(order) - MAX_NETWORKS),
    )


# ---- words --------------------------------------------------------------------------------------
def iface_lines(b: Box) -> list[str]:
    """The interfaces in a box: ``lo`` (but on the host's network), then one per network."""
    if b.removed:
        return []
    if b.mode == "host":
        return ["the host's own interfaces"]
    lines = ["lo 127.0.0.1/8"]
    for i, f in enumerate(b.ifaces[:MAX_IFACES]):
        where = f"{f.ip}/{f.prefix}" if f.ip else "no address"
        lines.append(f"eth{i} {where}" if len(b.ifaces) == 1 else f"{clip(f.network, 10)} {where}")
    if len(b.ifaces) > MAX_IFACES:
        lines.append(f"… {len(b.ifaces) - MAX_IFACES} more")
    return lines


def text_lines(p: Picture) -> list[str]:
    """The picture in words, one line per network and per container."""
    lines = []
    for n in p.nets:
        on = [b.name for b in p.boxes if any(f.network == n.name for f in b.ifaces)]
        dev = f" ({n.device})" if n.device else ""
        lines.append(
            f"network {n.name}{dev} {n.subnet or '?'} gateway {n.gateway or '?'}: "
            + (", ".join(on) or "no containers")
        )
    if p.hidden_nets:
        lines.append(f"… {p.hidden_nets} more networks")
    for b in p.boxes:
        parts = [f"{b.name} ({b.state}, --network {b.mode})"]
        if not b.removed:
            parts += [
                f"{f.network} {f.ip}/{f.prefix}" if f.ip else f"{f.network} no address"
                for f in b.ifaces
            ]
            parts += [
                f"{x.host} -> {x.port}" if x.host_port else f"{x.port} exposed" for x in b.ports
            ]
            parts += [f"link {a} -> {c}" for a, c in b.links]
        lines.append("; ".join(parts))
    if p.hidden:
        lines.append(f"… {p.hidden} more containers")
    return lines


# ---- drawing ------------------------------------------------------------------------------------
def _t(x: float, y: float, text: str, extra: str = "") -> str:
    return f'<text x="{_num(x)}" y="{_num(y)}"{extra}>{escape(text)}</text>'


def _box_rows(b: Box) -> tuple[list[str], list[Port], list[Port], list[str]]:
    arrows = [x for x in b.ports if x.host_port][:MAX_ARROWS] if not b.removed else []
    exposed = [x for x in b.ports if not x.host_port][:MAX_EXPOSED] if not b.removed else []
    more = len(b.ports) - len(arrows) - len(exposed)
    tail = [f"… {more} more ports"] if more > 0 and not b.removed else []
    links = [] if b.removed else [f"link {a} → {c}" for a, c in b.links[:MAX_LINKS]]
    if not b.removed and len(b.links) > MAX_LINKS:
        links.append(f"… {len(b.links) - MAX_LINKS} more links")
    return iface_lines(b) + links, arrows, exposed, tail


def _box_height(b: Box) -> int:
    rows, arrows, exposed, tail = _box_rows(b)
    return 40 + LINE * (len(rows) + len(arrows) + len(exposed) + len(tail))


def svg(p: Picture, per_row: int = 4) -> str:
    """The picture: per row of ``per_row`` containers, the host on top with its published
    ``ip:port``, the networks as buses (name, device, subnet, gateway), the containers'
    boxes wired to their networks, arrows from host ports to container ports, links as
    dashed arcs between boxes of the same row."""
    per_row = max(1, min(per_row, 12))
    cols = max(1, min(per_row, len(p.boxes)))
    width = LEFT + cols * COL
    parts: list[str] = []
    y = 0
    rows = [p.boxes[i : i + per_row] for i in range(0, len(p.boxes), per_row)] or [[]]
    for row in rows:
        y = _block(parts, p, row, y, width) + 16
    if p.hidden or p.hidden_nets:
        more = [f"{p.hidden} more containers"] if p.hidden else []
        more += [f"{p.hidden_nets} more networks"] if p.hidden_nets else []
        note = f"… {' and '.join(more)} not drawn"
        parts.append(_t(6, y + 4, note, ' fill="#888"'))
        y += 20
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dl-network" width="{width}" '
        f'height="{y}" viewBox="0 0 {width} {y}" style="{FONT}">'
        '<defs><marker id="dl-net-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#ef6c00"/></marker>'
        '<marker id="dl-net-link" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#6d4c41"/></marker></defs>'
    )
    return head + "".join(parts) + "</svg>"


def _block(parts: list[str], p: Picture, row: list[Box], top: int, width: int) -> int:
    """One row of boxes with the host strip and the buses above it; returns its bottom."""
    most = max([len(_box_rows(b)[1]) for b in row] + [0])
    host_h = 22 + LINE * most
    parts.append(
        f'<g class="dl-host"><rect x="1" y="{top + 1}" width="{width - 2}" height="{host_h}" '
        f'rx="6" fill="#fafafa" stroke="#bbb"/>'
        + _t(8, top + 15, "host", ' font-weight="bold"')
        + "</g>"
    )
    bus_y = {n.name: top + host_h + 26 + i * BUS_GAP for i, n in enumerate(p.nets)}
    for k, n in enumerate(p.nets):  # the host's side of each bridge: its gateway address
        ux = LEFT - 12 - 8 * k
        parts.append(
            f'<line class="dl-uplink" x1="{ux}" y1="{top + host_h + 1}" x2="{ux}" '
            f'y2="{bus_y[n.name]}" stroke="{n.colour}" stroke-width="1.5"/>'
            f'<circle cx="{ux}" cy="{bus_y[n.name]}" r="3.5" fill="{n.colour}"/>'
        )
    for n in p.nets:
        by = bus_y[n.name]
        dev = f" ({n.device})" if n.device else ""
        parts.append(
            f'<g class="dl-net" data-network="{escape(n.name)}">'
            f"<title>{escape(n.name)}: {escape(n.subnet)} gateway {escape(n.gateway)}"
            f"{escape(dev)}</title>"
            f'<line x1="4" y1="{by}" x2="{width - 4}" y2="{by}" stroke="{n.colour}" '
            'stroke-width="3"/>'
            + _t(8, by - 5, clip(n.name + dev, 30), f' font-weight="bold" fill="{n.colour}"')
            + _t(8, by + 13, clip(f"{n.subnet or '?'} gw {n.gateway or '?'}", 32))
            + "</g>"
        )
    box_top = top + host_h + 26 + len(p.nets) * BUS_GAP
    box_h = max([_box_height(b) for b in row] + [0])
    names = {b.name: i for i, b in enumerate(row)}
    for i, b in enumerate(row):
        _box(parts, b, LEFT + i * COL + 10, box_top, box_h, top, bus_y)
    bottom = box_top + box_h
    arcs = [(names[b.name], names[c], a) for b in row for a, c in b.links[:MAX_LINKS] if c in names]
    for src, dst, alias in arcs:
        if src == dst:
            continue
        x1 = LEFT + src * COL + 10 + BOX_W // 2
        x2 = LEFT + dst * COL + 10 + BOX_W // 2 + (6 if dst > src else -6)
        parts.append(
            f'<g class="dl-link"><path d="M {x1} {bottom} Q {(x1 + x2) // 2} {bottom + 44} '
            f'{x2} {bottom}" fill="none" stroke="#6d4c41" stroke-dasharray="5 3" '
            'marker-end="url(#dl-net-link)"/>'
            + _t((x1 + x2) / 2, bottom + 30, alias, ' text-anchor="middle" fill="#6d4c41"')
            + "</g>"
        )
    return bottom + (40 if arcs else 0)


def _box(
    parts: list[str], b: Box, x: int, y: int, h: int, host_top: int, bus_y: dict[str, int]
) -> None:
    rows, arrows, exposed, tail = _box_rows(b)
    grey = b.removed
    colour = "#999" if grey else STATE_COLOURS.get(b.state, "#c62828")
    look = (
        ' fill="#f3f3f3" stroke="#aaa" stroke-dasharray="6 4"'
        if grey
        else (f' fill="#ffffff" stroke="{colour}"')
    )
    out = [
        f'<g class="dl-container" data-name="{escape(b.name)}" data-state="{escape(b.state)}">',
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{h}" rx="8"{look} stroke-width="1.5"/>',
        _t(
            x + 8,
            y + 15,
            clip(b.name, 26),
            ' font-weight="bold"' + (' fill="#999"' if grey else ""),
        ),
        _t(x + 8, y + 29, clip(f"{b.image} · {b.state}", 32), f' fill="{colour}"'),
    ]
    ty = y + 29
    for text in rows:
        ty += LINE
        out.append(_t(x + 8, ty, clip(text, 32)))
    if b.mode == "host" and not grey:  # in the host's namespace: wired to the host itself
        out.append(
            f'<line class="dl-wire" x1="{x + 14}" y1="{y}" x2="{x + 14}" y2="{host_top + 23}" '
            'stroke="#555" stroke-width="1.5" stroke-dasharray="2 3"/>'
        )
    if not grey:  # wires from the box up to each network's bus
        for k, f in enumerate(b.ifaces[:MAX_IFACES]):
            by = bus_y.get(f.network)
            if by is None:
                continue
            wx = x + 14 + 10 * k
            dash = "" if f.ip else ' stroke-dasharray="3 3"'
            colour_f = _net_colour(bus_y, f.network)
            out.append(
                f'<line class="dl-wire" x1="{wx}" y1="{y}" x2="{wx}" y2="{by}" '
                f'stroke="{colour_f}" stroke-width="1.5"{dash}/>'
                f'<circle cx="{wx}" cy="{by}" r="3.5" fill="{colour_f}"/>'
            )
    n = len(arrows)
    for j, port in enumerate(arrows):  # a staircase: the rightmost arrow goes deepest
        ax = x + BOX_W - 12 - 12 * j
        ly = host_top + 15 + LINE * (j + 1)
        row_y = ty + LINE * (n - j)
        title = f"{port.host}{' and ' + port.also if port.also else ''} -> {port.port}"
        out.append(
            f'<g class="dl-port"><title>{escape(title)}</title>'
            + _t(ax - 5, ly, port.host, ' text-anchor="end" fill="#ef6c00"')
            + f'<line x1="{ax}" y1="{ly - 4}" x2="{ax}" y2="{row_y - 4}" stroke="#ef6c00" '
            'stroke-width="1.5" marker-end="url(#dl-net-arrow)"/>'
            + _t(ax - 5, row_y, port.port, ' text-anchor="end" font-weight="bold"')
            + "</g>"
        )
    ty += LINE * n
    for port in exposed:
        ty += LINE
        out.append(_t(x + 8, ty, f"{port.port} (not published)", ' fill="#888"'))
    for text in tail:
        ty += LINE
        out.append(_t(x + 8, ty, text, ' fill="#888"'))
    out.append("</g>")
    parts.extend(out)


def _net_colour(bus_y: dict[str, int], name: str) -> str:
    return PALETTE[list(bus_y).index(name) % len(PALETTE)]
