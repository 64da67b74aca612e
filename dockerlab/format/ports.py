"""Published ports, pure parts: ``-p``/``--expose`` as Docker's client parses them, and the
strings ``ps`` (PORTS) and ``port`` print.

Parsing follows go-connections' ``nat.ParsePortSpecs`` (what the docker CLI calls), with its
words for each error; formatting follows docker CLI 28.2.2, the client installed on these
machines (network.md §2.6): IPv6 hosts in brackets (``[::]:8080``), ``port`` sorted in
natural order. Imported only when a container publishes or exposes a port.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROTOS = ("tcp", "udp", "sctp")


class PortSpecError(ValueError):
    """A ``-p``/``--expose`` value the client refuses; ``str`` is Docker's message."""


def _uint16(text: str) -> int:
    """Go's ``strconv.ParseUint(text, 10, 16)``: ASCII digits only, at most 65535."""
    if not text or not text.isdigit() or not text.isascii():
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    if int(text) > 65535:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return int(text)


def parse_range(text: str) -> tuple[int, int]:
    """``nat.ParsePortRange``: ``N`` or ``START-END`` (END not below START)."""
    if not text:
        raise ValueError("empty string specified for ports")
    if "-" not in text:
        port = _uint16(text)
        return port, port
    parts = text.split("-")
    start, end = _uint16(parts[0]), _uint16(parts[1])
    if end < start:
        raise ValueError(f"invalid range specified for port: {text}")
    return start, end


def split_proto(raw: str) -> tuple[str, str]:
    """``nat.SplitProtoPort``: (proto, port); ``80`` and ``80/`` are tcp."""
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1 or not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _split_parts(raw: str) -> tuple[str, str, str]:
    parts = raw.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def valid_ip(text: str) -> bool:
    """Go's ``net.ParseIP`` (no zone, no prefix)."""
    if "%" in text or "/" in text:
        return False
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_spec(raw: str) -> list[tuple[str, dict[str, str]]]:
    """One ``-p`` value -> [(``80/tcp``, {"HostIp", "HostPort"})] (``nat.ParsePortSpec``)."""
    ip, host_port, container_port = _split_parts(raw)
    proto, container_port = split_proto(container_port)
    if ip.startswith("["):
        if not ip.endswith("]"):
            raise PortSpecError(f"invalid IP address {ip}: missing ']' in address")
        ip = ip[1:-1]
    if ip and not valid_ip(ip):
        raise PortSpecError(f"invalid IP address: {ip}")
    if not container_port:
        raise PortSpecError(f"no port specified: {raw}<empty>")
    try:
        start, end = parse_range(container_port)
    except ValueError:
        raise PortSpecError(f"invalid containerPort: {container_port}") from None
    host_start = host_end = 0
    if host_port:
        try:
            host_start, host_end = parse_range(host_port)
        except ValueError:
            raise PortSpecError(f"invalid hostPort: {host_port}") from None
    if host_port and end - start != host_end - host_start and end != start:
        raise PortSpecError(
            "invalid ranges specified for container and host Ports: "
            f"{container_port} and {host_port}"
        )
    if proto.lower() not in PROTOS:
        raise PortSpecError(f"invalid proto: {proto}")
    out = []
    for i in range(end - start + 1):
        hp = str(host_start + i) if host_port else ""
        if start == end and host_start != host_end:  # a host range to pick one port from
            hp = f"{hp}-{host_end}"
        out.append((f"{start + i}/{proto.lower()}", {"HostIp": ip, "HostPort": hp}))
    return out


def _standard(value: str) -> str:
    """The CLI's ``convertToStandardNotation``: ``target=80,published=8080,protocol=udp``."""
    if "=" not in value:
        return value
    params = {"protocol": "tcp"}
    for param in value.split(","):
        key, eq, val = param.partition("=")
        if not eq or not key:
            raise PortSpecError(
                f"invalid publish opts format (should be name=value but got '{param}')"
            )
        params[key] = val
    return f"{params.get('published', '')}:{params.get('target', '')}/{params['protocol']}"


def parse_publish(
    specs: list[str], expose: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, str]]]]:
    """``-p`` values and ``--expose`` values -> (Config.ExposedPorts, HostConfig.PortBindings),
    keys sorted as Go's JSON encoder writes a map."""
    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for raw in [_standard(s) for s in specs]:
        for port, binding in parse_spec(raw):
            exposed.setdefault(port, {})
            bindings.setdefault(port, []).append(binding)
    for value in expose:
        if ":" in value:
            raise PortSpecError(f"invalid port format for --expose: {value}")
        proto, port = split_proto(value)
        try:
            start, end = parse_range(port)
        except ValueError as exc:
            raise PortSpecError(
                f"invalid range format for --expose: {value}, error: {exc}"
            ) from None
        for number in range(start, end + 1):
            exposed.setdefault(f"{number}/{proto}", {})
    return dict(sorted(exposed.items())), dict(sorted(bindings.items()))


# ---- output -----------------------------------------------------------------------------


def join_host_port(host: str, port: str | int) -> str:
    """Go's ``net.JoinHostPort``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def port_key(port: str) -> tuple[int, str]:
    number, _, proto = port.partition("/")
    return int(number), proto or "tcp"


def api_ports(ports: dict[str, list[dict[str, str]] | None]) -> list[dict[str, Any]]:
    """NetworkSettings.Ports -> the ``Ports`` list of ``GET /containers/json`` (Docker 20.10's
    daemon: one item per binding, an unpublished port without IP and PublicPort)."""
    out: list[dict[str, Any]] = []
    for port, bindings in ports.items():
        number, proto = port_key(port)
        if not bindings:
            out.append({"PrivatePort": number, "Type": proto})
            continue
        for b in bindings:
            out.append(
                {
                    "IP": b["HostIp"],
                    "PrivatePort": number,
                    "PublicPort": int(b["HostPort"] or 0),
                    "Type": proto,
                }
            )
    return out


def displayable_ports(ports: list[dict[str, Any]]) -> str:
    """The PORTS column of ``ps`` (docker CLI 28's ``DisplayablePorts``)."""

    def order(p: dict[str, Any]) -> tuple[int, str, int, str]:
        return (p["PrivatePort"], p.get("IP") or "", p.get("PublicPort") or 0, p["Type"])

    groups: dict[str, list[int]] = {}
    result: list[str] = []
    mappings: list[str] = []
    for p in sorted(ports, key=order):
        current, key = p["PrivatePort"], p["Type"]
        if p.get("IP"):
            if p.get("PublicPort", 0) != current:
                host = join_host_port(p["IP"], p.get("PublicPort", 0))
                mappings.append(f"{host}->{current}/{p['Type']}")
                continue
            key = f"{p['IP']}/{p['Type']}"
        group = groups.get(key)
        if group is None:
            groups[key] = [current, current]  # (dicts keep their keys' creation order)
            continue
        if current == group[1] + 1:
            group[1] = current
            continue
        result.append(_form_group(key, *group))
        groups[key] = [current, current]  # (keeps its place among the groups, as in Go)
    result += [_form_group(key, *g) for key, g in groups.items()]
    return ", ".join(result + mappings)


def _form_group(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{join_host_port(ip, group)}->{group}"
    return f"{group}/{proto}"


def natural_less(a: str, b: str) -> bool:
    """``sortorder.NaturalLess``: digit runs compared as numbers, digits before the rest."""
    i = j = 0
    while i < len(a) and j < len(b):
        da, db = a[i].isdigit(), b[j].isdigit()
        if da != db:
            return da
        if not da:
            if a[i] != b[j]:
                return a[i] < b[j]
            i += 1
            j += 1
            continue
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        zi, zj = i, j
        while i < len(a) and a[i].isdigit():
            i += 1
        while j < len(b) and b[j].isdigit():
            j += 1
        if i - zi != j - zj:
            return i - zi < j - zj
        if a[zi:i] != b[zj:j]:
            return a[zi:i] < b[zj:j]
        if zi != zj:
            return zi < zj
    return len(a) < len(b)


def natural_sorted(lines: list[str]) -> list[str]:
    from functools import cmp_to_key

    def compare(x: str, y: str) -> int:
        return -1 if natural_less(x, y) else (1 if x != y else 0)

    return sorted(lines, key=cmp_to_key(compare))


def port_lines(
    ports: dict[str, list[dict[str, str]] | None], name: str, wanted: str | None = None
) -> list[str]:
    """What ``docker port NAME [PRIVATE_PORT[/PROTO]]`` prints (CLI 28); PortSpecError with
    its message (``Error: `` included) when the port is not published."""
    if wanted is None:
        out = [
            f"{port} -> {join_host_port(b['HostIp'], b['HostPort'])}"
            for port, bindings in ports.items()
            for b in bindings or []
        ]
        return natural_sorted(out)
    number, _, proto = wanted.partition("/")
    if not (number.isdigit() and number.isascii()):
        raise PortSpecError(
            f'Error: invalid port ({number}): strconv.ParseUint: parsing "{number}": invalid syntax'
        )
    if int(number) > 65535:
        raise PortSpecError(
            f'Error: invalid port ({number}): strconv.ParseUint: parsing "{number}": '
            "value out of range"
        )
    bindings = ports.get(f"{number}/{proto or 'tcp'}")
    if bindings:
        return natural_sorted([join_host_port(b["HostIp"], b["HostPort"]) for b in bindings])
    raise PortSpecError(f"Error: No public port '{wanted}' published for {name}")
