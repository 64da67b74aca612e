"""A small rtnetlink client: the few requests the bridge network needs, on ``socket``.

Each request is one message with NLM_F_ACK; the kernel's answer is an NLMSG_ERROR whose
code is 0 on success. A socket stays bound to the network namespace it was made in, so the
monitor makes one in the host's namespace and one in the container's and talks to both.
"""

from __future__ import annotations

import os
import socket
import struct

RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 17, 20, 24
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO = 1, 3, 4, 10, 18
IFLA_NET_NS_FD = 28
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_GATEWAY, RTA_OIF = 5, 4
IFF_UP = 0x1
NLA_F_NESTED = 0x8000

_HDR = struct.Struct("=LHHLL")
_IFINFO = struct.Struct("=BxHiII")


def attr(kind: int, data: bytes) -> bytes:
    size = 4 + len(data)
    return struct.pack("=HH", size, kind) + data + b"\0" * (-size % 4)


def nested(kind: int, *attrs: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(attrs))


def ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, flags, change)


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


class Netlink:
    """One NETLINK_ROUTE socket (in the namespace current when it was made)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, kind: int, flags: int, body: bytes) -> None:
        """Send one request and wait for its acknowledgement; OSError with the kernel's
        errno when refused."""
        self.seq += 1
        msg = _HDR.pack(_HDR.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, self.seq, 0)
        self.sock.sendto(msg + body, (0, 0))
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + _HDR.size <= len(data):
                size, mtype, _, seq, _ = _HDR.unpack_from(data, off)
                if mtype == NLMSG_ERROR and seq == self.seq:
                    (code,) = struct.unpack_from("=i", data, off + _HDR.size)
                    if code:
                        raise OSError(-code, os.strerror(-code))
                    return
                off += (size + 3) & ~3 or len(data)

    # ---- the requests we make ------------------------------------------------------------
    def add_bridge(self, name: str, mac: str, mtu: int) -> None:
        self.request(
            RTM_NEWLINK,
            NLM_F_CREATE | NLM_F_EXCL,
            ifinfo()
            + attr(IFLA_IFNAME, name.encode() + b"\0")
            + attr(IFLA_ADDRESS, mac_bytes(mac))
            + attr(IFLA_MTU, struct.pack("=I", mtu))
            + nested(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"bridge")),
        )

    def add_veth(
        self, name: str, master: int, mtu: int, peer: str, peer_mac: str, peer_ns: int
    ) -> None:
        """A veth pair: ``name`` here, on bridge ``master``; ``peer`` (with its MAC) made
        straight in the namespace open as ``peer_ns``. Both down: a veth cannot be brought
        up in the request that makes it (ENOTCONN, its peer is not linked yet)."""
        peer_body = (
            ifinfo()
            + attr(IFLA_IFNAME, peer.encode() + b"\0")
            + attr(IFLA_ADDRESS, mac_bytes(peer_mac))
            + attr(IFLA_MTU, struct.pack("=I", mtu))
            + attr(IFLA_NET_NS_FD, struct.pack("=I", peer_ns))
        )
        self.request(
            RTM_NEWLINK,
            NLM_F_CREATE | NLM_F_EXCL,
            ifinfo()
            + attr(IFLA_IFNAME, name.encode() + b"\0")
            + attr(IFLA_MTU, struct.pack("=I", mtu))
            + attr(IFLA_MASTER, struct.pack("=I", master))
            + nested(
                IFLA_LINKINFO,
                attr(IFLA_INFO_KIND, b"veth"),
                nested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_body)),
            ),
        )

    def set_up(self, index: int = 0, name: str = "") -> None:
        """Bring a link up, by index or (in the socket's namespace, whichever the caller's
        is) by name."""
        named = attr(IFLA_IFNAME, name.encode() + b"\0") if name else b""
        self.request(RTM_NEWLINK, 0, ifinfo(index, IFF_UP, IFF_UP) + named)

    def delete_link(self, name: str) -> None:
        self.request(RTM_DELLINK, 0, ifinfo() + attr(IFLA_IFNAME, name.encode() + b"\0"))

    def add_address(self, index: int, ip: str, prefix: int, broadcast: str) -> None:
        raw = socket.inet_aton(ip)
        self.request(
            RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_EXCL,
            struct.pack("=BBBBI", socket.AF_INET, prefix, 0, 0, index)
            + attr(IFA_LOCAL, raw)
            + attr(IFA_ADDRESS, raw)
            + attr(IFA_BROADCAST, socket.inet_aton(broadcast)),
        )

    def add_default_route(self, index: int, gateway: str) -> None:
        # family, dst_len, src_len, tos, table main, proto boot, scope universe, unicast
        self.request(
            RTM_NEWROUTE,
            NLM_F_CREATE | NLM_F_EXCL,
            struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 254, 3, 0, 1, 0)
            + attr(RTA_GATEWAY, socket.inet_aton(gateway))
            + attr(RTA_OIF, struct.pack("=I", index)),
        )
