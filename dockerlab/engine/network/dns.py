"""The embedded DNS server at 127.0.0.11:53, as Docker's for containers on user networks.

Each container on a bridge network gets a UDP socket bound to ``127.0.0.11:53`` *in its own
network namespace*, made by its monitor before the container's code runs (the monitor is
there then, see :mod:`.endpoint`) and served from the monitor's loop; it dies with the
monitor. Docker's dockerd holds such sockets in every container's namespace too (on random
ports, with DNAT from 53): we own the namespace, so we bind 53 directly.

Names (network.md §4.3): container names, ``--network-alias``/``connect --alias`` aliases,
short IDs, and ``name.network``, of containers on the same network(s) as the asker: ``A``
gets their addresses, ``AAAA`` (and other types) an empty NOERROR. Other names are forwarded
to the host's non-local nameservers *from the container's namespace* (as Docker 20.10) when
the host has some, else NXDOMAIN.

Who answers to what lives in ``<root>/network/<net>.names``: one line per endpoint,
``IP CID name...``, written by the monitor (or ``network connect``) and dropped when the
address is released; an entry whose address the network's IPAM no longer gives to that
container is ignored (a crashed monitor's). Plain text: the monitor has no ``json``.

Threat model: the serving process is the monitor, which is in none of the container's
namespaces but its network one (where only this socket and the forwarding one live), so a
query can reach nothing but this parser: it reads a packet of at most 512 bytes, follows no
compression pointer, never uses the name as a path, and answers only the sender, in the
container's namespace. A packet it cannot parse is dropped.
"""

from __future__ import annotations

import os
import socket
import struct

from dockerlab.engine.atomic import locked, write_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

ADDRESS = "127.0.0.11"
TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP = 0, 1, 2, 3, 4
TTL = 600  # Docker's
_HDR = struct.Struct("!HHHHHH")


# ---- packets (pure) -----------------------------------------------------------------------


class Query:
    def __init__(self, ident: int, flags: int, name: str, qtype: int, qclass: int, raw: bytes):
        self.id, self.flags, self.name, self.qtype, self.qclass = ident, flags, name, qtype, qclass
        self.question = raw  # the question section, echoed in the answer


def parse_query(data: bytes) -> Query | None:
    """A standard query with one question, else None (dropped). No compression pointers
    (a question has no earlier name to point to), labels of 1-63 bytes, a name of at most
    255 bytes."""
    if len(data) < _HDR.size + 5 or len(data) > 512:
        return None
    ident, flags, qd, _an, _ns, _ar = _HDR.unpack_from(data)
    if flags & 0x8000 or (flags >> 11) & 0xF or qd != 1:
        return None
    off, labels, size = _HDR.size, [], 0
    while True:
        if off >= len(data):
            return None
        length = data[off]
        off += 1
        if length == 0:
            break
        if length > 63:  # 0xC0 pointers and the reserved 0x40/0x80 forms
            return None
        label = data[off : off + length]
        if len(label) != length:
            return None
        size += length + 1
        if size > 255:
            return None
        labels.append(label)
        off += length
    if off + 4 > len(data):
        return None
    qtype, qclass = struct.unpack_from("!HH", data, off)
    name = b".".join(labels).decode("ascii", "replace").lower()
    return Query(ident, flags, name, qtype, qclass, data[_HDR.size : off + 4])


def response(q: Query, addresses: Iterable[str] = (), rcode: int = NOERROR) -> bytes:
    """The answer: QR, the asker's RD, RA (recursion is offered, as Docker's), not
    authoritative (nslookup prints "Non-authoritative answer"), A records for
    ``addresses``."""
    ips = list(addresses)
    flags = 0x8000 | (q.flags & 0x0100) | 0x0080 | rcode
    out = _HDR.pack(q.id, flags, 1, len(ips), 0, 0) + q.question
    for ip in ips:
        out += struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4) + socket.inet_aton(ip)
    return out


def resolve(q: Query, table: list[tuple[str, str, list[str]]]) -> list[str] | None:
    """The addresses ``q.name`` has in ``table`` (``(network, ip, names)`` the asker can
    see), None when unknown: a name, or ``name.network``."""
    found = []
    for network, ip, names in table:
        known = q.name in names or any(q.name == f"{n}.{network.lower()}" for n in names)
        if known and ip not in found:
            found.append(ip)
    return found or None


# ---- who answers to what (the ``.names`` files) -----------------------------------------


def names_path(folder: str, network: str) -> str:
    return os.path.join(folder, f"{network}.names")


def _read(path: str) -> list[list[str]]:
    try:
        with open(path) as f:
            return [line.split() for line in f.read().splitlines() if line.strip()]
    except OSError:
        return []


def register(folder: str, network: str, ip: str, cid: str, names: Iterable[str]) -> None:
    path = names_path(folder, network)
    words = [w.lower() for w in names if w and not any(c.isspace() for c in w)]
    with locked(path + ".lock"):
        rows = [r for r in _read(path) if len(r) >= 2 and r[1] != cid]
        rows.append([ip, cid, *words])
        write_bytes(path, "".join(" ".join(r) + "\n" for r in rows).encode(), durable=False)


def unregister(folder: str, network: str, cid: str) -> None:
    path = names_path(folder, network)
    if not os.path.exists(path):
        return
    with locked(path + ".lock"):
        rows = _read(path)
        kept = [r for r in rows if len(r) >= 2 and r[1] != cid]
        if kept != rows:
            write_bytes(path, "".join(" ".join(r) + "\n" for r in kept).encode(), durable=False)


def unregister_all(folder: str, cid: str) -> None:
    try:
        files = [n[: -len(".names")] for n in os.listdir(folder) if n.endswith(".names")]
    except FileNotFoundError:
        return
    for network in files:
        unregister(folder, network, cid)


def table(folder: str, networks: Iterable[str]) -> list[tuple[str, str, list[str]]]:
    """``(network, ip, names)`` of the live endpoints on ``networks`` (an entry whose address
    the IPAM no longer gives to its container is a leftover: ignored)."""
    out = []
    for network in networks:
        held = {}
        for r in _read(os.path.join(folder, f"{network}.ipam")):
            if len(r) >= 2:
                held[r[0]] = r[1]
        for r in _read(names_path(folder, network)):
            if len(r) >= 3 and held.get(r[0]) == r[1]:
                out.append((network, r[0], r[2:]))
    return out


def networks_file(rundir: str) -> str:
    """The user networks a running container is on now (one name a line): the monitor's
    server reads it per query, ``network connect``/``disconnect`` rewrite it."""
    return os.path.join(rundir, "dns-networks")


def set_networks(rundir: str, networks: Iterable[str]) -> None:
    data = "".join(f"{n}\n" for n in networks).encode()
    write_bytes(networks_file(rundir), data, durable=False)


def upstreams(resolv: bytes) -> list[str]:
    """The host's IPv4 nameservers that are not its own loopback (where the container's
    namespace could not reach them)."""
    out = []
    for line in resolv.decode("utf-8", "replace").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            server = words[1]
            if server.count(".") == 3 and not server.startswith("127.") and server not in out:
                out.append(server)
    return out


# ---- the server (run by the container's monitor) ------------------------------------------


class Server:
    """Made while the caller is in the container's network namespace (its sockets stay
    bound there); the monitor polls :attr:`sock` and :attr:`upstream`."""

    MAX_PENDING = 64

    def __init__(self, folder: str, rundir: str, servers: list[str]) -> None:
        flags = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
        self.sock = socket.socket(socket.AF_INET, flags)
        try:
            # a server of the container's own may still bind port 53 on every address (if it
            # asks SO_REUSEADDR too); queries to 127.0.0.11 come here, the more specific bind
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((ADDRESS, 53))
            self.upstream = socket.socket(socket.AF_INET, flags)
        except BaseException:
            self.sock.close()
            raise
        self.folder, self.rundir, self.servers = folder, rundir, servers
        self.pending: dict[int, tuple[tuple[str, int], int]] = {}

    def close(self) -> None:
        self.sock.close()
        self.upstream.close()

    def networks(self) -> list[str]:
        try:
            with open(networks_file(self.rundir)) as f:
                return [n for n in f.read().split() if n]
        except OSError:
            return []

    def on_query(self) -> None:
        for _ in range(16):  # a bounded batch per wake-up
            try:
                data, peer = self.sock.recvfrom(513)
            except OSError:
                return
            try:
                self.handle(data, peer)
            except Exception:  # noqa: BLE001 - one bad packet never stops the monitor
                pass

    def handle(self, data: bytes, peer: tuple[str, int]) -> None:
        q = parse_query(data)
        if q is None:
            return
        if q.qclass != CLASS_IN:
            self.sock.sendto(response(q, rcode=NOTIMP), peer)
            return
        found = resolve(q, table(self.folder, self.networks())) if q.name else None
        if found is not None:
            self.sock.sendto(response(q, found if q.qtype == TYPE_A else ()), peer)
        elif self.servers and len(self.pending) < self.MAX_PENDING and not self.lab_name(q):
            ident = int.from_bytes(os.urandom(2), "big")
            self.pending[ident] = (peer, q.id)
            out = struct.pack("!H", ident) + data[2:]
            try:
                self.upstream.sendto(out, (self.servers[0], 53))
            except OSError:
                self.pending.pop(ident, None)
                self.sock.sendto(response(q, rcode=SERVFAIL), peer)
        else:
            self.sock.sendto(response(q, rcode=NXDOMAIN), peer)

    def lab_name(self, q: Query) -> bool:
        """A name of the lab's on a network the asker is not on: NXDOMAIN, never sent to
        the host's resolvers (a difference from Docker, which forwards it)."""
        try:
            nets = [n[: -len(".names")] for n in os.listdir(self.folder) if n.endswith(".names")]
        except OSError:
            return False
        return resolve(q, table(self.folder, nets)) is not None

    def on_upstream(self) -> None:
        for _ in range(16):
            try:
                data, src = self.upstream.recvfrom(4096)
            except OSError:
                return
            if len(data) < 12 or src[0] not in self.servers:
                continue
            ident = struct.unpack_from("!H", data)[0]
            entry = self.pending.pop(ident, None)
            if entry is None:
                continue
            peer, original = entry
            try:
                self.sock.sendto(struct.pack("!H", original) + data[2:], peer)
            except OSError:
                pass
