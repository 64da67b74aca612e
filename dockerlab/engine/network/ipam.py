"""Addresses: the subnet a network gets, and each container's address in it.

The subnet is chosen as Docker chooses its default bridge's: the first of its predefined
local pools (172.17-172.31.0.0/16, then 192.168.0.0/16 cut in /20s) that overlaps no route
of the host (Docker's own 172.17/16 included, so we never sit on docker0's).

Allocations live in ``<root>/network/<name>.ipam``, one ``IP ID`` line per container,
read and written under ``<name>.ipam.lock`` (lock, then read, then act, then write): the
lowest free address from .2 upward, as Docker's allocator. Plain text, not JSON: the
monitor allocates and releases, and its import set has no ``json``.
"""

from __future__ import annotations

import os
import socket
import struct

from dockerlab.engine.atomic import locked, write_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def _pools() -> list[tuple[int, int]]:
    """Docker's PredefinedLocalScopeDefaultNetworks, in its order: (network, prefix)."""
    out = [(_ip(f"172.{n}.0.0"), 16) for n in range(17, 32)]
    out += [(_ip("192.168.0.0") + (i << 12), 20) for i in range(16)]
    return out


def _ip(text: str) -> int:
    value: int = struct.unpack("!I", socket.inet_aton(text))[0]
    return value


def ip_text(value: int) -> str:
    return socket.inet_ntoa(struct.pack("!I", value))


def _mask(prefix: int) -> int:
    return (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    prefix = min(a[1], b[1])
    return (a[0] & _mask(prefix)) == (b[0] & _mask(prefix))


def host_routes(path: str = "/proc/net/route", skip: str = "") -> list[tuple[int, int]]:
    """The host's IPv4 routes as (network, prefix), the default route left out (Docker's
    overlap check ignores it too), and those of interface ``skip`` (our own bridge's).

    Rootless, the bridges' host is the user's network namespace, whose one route is
    slirp4netns's 10.0.2.0/24 (as Docker rootless's daemon, in RootlessKit's namespace,
    sees only that): the host's own routes (other users', root's) take nothing from it."""
    if path == "/proc/net/route" and (
        os.geteuid() != 0 or os.environ.get("DOCKERLAB_ROOTLESS") == "1"
    ):
        return [(0x0A000200, 24)]  # 10.0.2.0/24 (engine/network/usermode)
    routes = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) < 8 or fields[0] == skip:
            continue
        dest = struct.unpack("<I", bytes.fromhex(fields[1]))[0]
        mask = struct.unpack("<I", bytes.fromhex(fields[7]))[0]
        prefix = bin(mask).count("1")
        if prefix:
            routes.append((dest, prefix))  # the kernel's bytes read little-endian
    return routes


def pick_subnet(routes: Iterable[tuple[int, int]], taken: Iterable[str] = ()) -> str:
    """The first predefined pool overlapping neither a route nor a subnet in ``taken``."""
    busy = list(routes)
    for text in taken:
        net, _, plen = text.partition("/")
        busy.append((_ip(net), int(plen)))
    for pool in _pools():
        if not any(overlaps(pool, b) for b in busy):
            return f"{ip_text(pool[0])}/{pool[1]}"
    from dockerlab.errors import InvalidParameter

    raise InvalidParameter(
        "could not find an available, non-overlapping IPv4 address pool among the defaults "
        "to assign to the network"
    )


def gateway_of(subnet: str) -> str:
    net, _, _ = subnet.partition("/")
    return ip_text(_ip(net) + 1)


def broadcast_of(subnet: str) -> str:
    net, _, plen = subnet.partition("/")
    return ip_text(_ip(net) | (~_mask(int(plen)) & 0xFFFFFFFF))


def mac_for(ip: str) -> str:
    """Docker 20.10's MAC: 02:42 and the four bytes of the IPv4 address."""
    return "02:42:" + ":".join(f"{b:02x}" for b in socket.inet_aton(ip))


def lowest_free(subnet: str, used: Iterable[str]) -> str | None:
    net, _, plen = subnet.partition("/")
    base, size = _ip(net), 1 << (32 - int(plen))
    taken = {_ip(u) for u in used}
    for offset in range(2, size - 1):  # .0 network, .1 gateway, last broadcast
        if base + offset not in taken:
            return ip_text(base + offset)
    return None


class Allocator:
    """The addresses of one network (``<folder>/<name>.ipam``)."""

    def __init__(self, folder: str, name: str, subnet: str) -> None:
        self.path = os.path.join(folder, f"{name}.ipam")
        self.subnet = subnet

    def _read(self) -> dict[str, str]:
        try:
            with open(self.path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return {}
        out = {}
        for line in lines:
            ip, _, owner = line.partition(" ")
            if ip and owner:
                out[ip] = owner
        return out

    def _write(self, table: dict[str, str]) -> None:
        data = "".join(f"{ip} {owner}\n" for ip, owner in table.items())
        write_bytes(self.path, data.encode(), mode=0o600)

    def allocate(self, owner: str, alive: Callable[[str], bool] | None = None) -> str:
        """The lowest free address for ``owner`` (its own if it has one). ``alive`` tells
        whether a holder still exists; one that does not is dropped (a crash's leftover)."""
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        with locked(self.path + ".lock"):
            table = self._read()
            if alive is not None:
                table = {ip: o for ip, o in table.items() if o == owner or alive(o)}
            for ip, o in table.items():
                if o == owner:
                    return ip
            free = lowest_free(self.subnet, table)
            if free is None:
                from dockerlab.errors import DockerlabError

                raise DockerlabError(
                    "no available IPv4 addresses on this network's address pools: "
                    f"bridge ({self.subnet})"
                )
            table[free] = owner
            self._write(table)
            return free

    def reserve(self, owner: str, ip: str, alive: Callable[[str], bool] | None = None) -> str:
        """``ip`` for ``owner`` (``--ip``): Docker's "Address already in use" when another
        live holder has it."""
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        with locked(self.path + ".lock"):
            table = self._read()
            if alive is not None:
                table = {a: o for a, o in table.items() if o == owner or alive(o)}
            if table.get(ip, owner) != owner:
                from dockerlab.errors import Conflict

                raise Conflict("Address already in use")
            table = {a: o for a, o in table.items() if o != owner}
            table[ip] = owner
            self._write(table)
            return ip

    def release(self, owner: str) -> None:
        if not os.path.exists(self.path):
            return
        with locked(self.path + ".lock"):
            table = self._read()
            kept = {ip: o for ip, o in table.items() if o != owner}
            if kept != table:
                self._write(kept)

    def holders(self) -> dict[str, str]:
        return self._read()


def release_all(folder: str, owner: str) -> None:
    """Free ``owner``'s addresses on every network (its record may be unreadable: a dead
    container's)."""
    try:
        names = [n[: -len(".ipam")] for n in os.listdir(folder) if n.endswith(".ipam")]
    except FileNotFoundError:
        return
    for name in names:
        Allocator(folder, name, "").release(owner)
    from dockerlab.engine.network import dns  # and the names it answered to

    dns.unregister_all(folder, owner)
