"""One container's side of a bridge network, set up by its monitor at each start.

:meth:`Endpoint.enter` leaves the monitor inside the container's new network namespace,
already configured (``eth0`` up with its address and MAC, ``lo`` up, the default route), so
the container's first process, forked next, inherits it; :meth:`Endpoint.leave` takes the
monitor back to the host's. Everything is done before the container's code runs and from
the host's side (the veth is made by the host's netlink socket with its peer created
straight in the new namespace): the container never holds a socket of the host's
namespace, so it cannot create, move or rename host interfaces, and with
``CAP_NET_ADMIN`` it can only change its own namespace (as under Docker).

The bridge's end goes with the container's namespace (the kernel deletes a veth pair when
one end's namespace dies, after its last process); :meth:`Endpoint.release` gives the
address back.
"""

from __future__ import annotations

import os
import socket

from dockerlab.engine.network import bridge, ipam
from dockerlab.engine.network.netlink import Netlink
from dockerlab.engine.runtime import linux as L

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Endpoint:
    def __init__(
        self,
        net: dict[str, Any],
        folder: str,
        cid: str,
        containers: str,
        ifname: str = "eth0",
        want_ip: str = "",
        mac: str = "",
    ) -> None:
        self.net, self.folder, self.cid = net, folder, cid
        self.mac = mac  # Config.MacAddress (--mac-address), else derived from the address
        self.containers = containers  # the store's folder: an address whose holder is gone
        self.alloc = ipam.Allocator(folder, net["Name"], net["Subnet"])
        self.veth = "veth" + os.urandom(4).hex()[:7]
        self.ip = ""
        self.host_ns = -1
        self.ifname = ifname  # eth0, or ethN for a second network (user networks)
        self.want_ip = want_ip  # --ip / connect --ip

    @property
    def prefix(self) -> int:
        return int(self.net["Subnet"].partition("/")[2])

    def settings(self) -> dict[str, Any]:
        """What inspect shows of it (kept in the monitor's report, then the state)."""
        return {
            "NetworkID": self.net["Id"],
            "EndpointID": os.urandom(32).hex(),
            "Gateway": self.net["Gateway"],
            "IPAddress": self.ip,
            "IPPrefixLen": self.prefix,
            "MacAddress": self.mac or ipam.mac_for(self.ip),
            "Veth": self.veth,
            "IfName": self.ifname,
        }

    def _alive(self, owner: str) -> bool:
        return os.path.isdir(os.path.join(self.containers, owner))

    def enter(self) -> None:
        bridge.ensure(self.net, self.folder)
        self.ip = self._allocate()
        self.host_ns = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            with bridge.Inside(self.net["NetNS"]):  # the bridge's namespace
                side = Netlink()
                master = bridge.index(bridge.BR)
            try:
                L.unshare(L.CLONE_NEWNET)  # the container's, from here on
                bridge._no_ipv6()  # IPv6 is off on the network: no ::1, no fe80::
                ns = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    mtu = int(self.net.get("MTU") or 1500)
                    mac = self.mac or ipam.mac_for(self.ip)
                    side.add_veth(self.veth, master, mtu, self.ifname, mac, ns)
                finally:
                    os.close(ns)
                side.set_up(name=self.veth)  # by name: the socket's namespace is the bridge's
            finally:
                side.close()
            inside = Netlink()
            try:
                inside.set_up(1)  # lo
                eth0 = socket.if_nametoindex(self.ifname)
                inside.set_up(eth0)
                bcast = ipam.broadcast_of(self.net["Subnet"])
                inside.add_address(eth0, self.ip, self.prefix, bcast)
                inside.add_default_route(eth0, self.net["Gateway"])
            finally:
                inside.close()
        except BaseException:
            self.leave()
            self.release()
            raise

    def _allocate(self) -> str:
        if self.want_ip:
            return self.alloc.reserve(self.cid, self.want_ip, self._alive)
        return self.alloc.allocate(self.cid, self._alive)

    def join(self, default_route: bool = False) -> None:
        """Attach to one more network the caller's current namespace, the container's
        (the monitor after :meth:`enter`, or ``network connect`` in it): ``ifname`` there,
        with its address; no default route (the first network keeps it, as Docker's).
        The caller has made sure of the bridge (:func:`bridge.ensure`) from the host's
        namespace: it looks its uplink up by name there."""
        self.ip = self._allocate()
        try:
            ns = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                with bridge.Inside(self.net["NetNS"]):
                    side = Netlink()
                    master = bridge.index(bridge.BR)
                try:
                    mtu = int(self.net.get("MTU") or 1500)
                    mac = ipam.mac_for(self.ip)
                    side.add_veth(self.veth, master, mtu, self.ifname, mac, ns)
                    side.set_up(name=self.veth)
                finally:
                    side.close()
            finally:
                os.close(ns)
            inside = Netlink()
            try:
                index = socket.if_nametoindex(self.ifname)
                inside.set_up(index)
                bcast = ipam.broadcast_of(self.net["Subnet"])
                inside.add_address(index, self.ip, self.prefix, bcast)
                if default_route:
                    inside.add_default_route(index, self.net["Gateway"])
            finally:
                inside.close()
        except BaseException:
            self.release()
            raise

    def leave(self) -> None:
        """Back to the host's namespace (the container keeps its own alive)."""
        if self.host_ns >= 0:
            L.setns(self.host_ns, L.CLONE_NEWNET)
            os.close(self.host_ns)
            self.host_ns = -1

    def release(self) -> None:
        release(self.net, self.folder, self.cid)


def release(net: dict[str, Any], folder: str, cid: str) -> None:
    """Give the address back; safe to call twice, from the monitor or from the engine after
    a crash. The veth is not deleted here: it goes with the container's namespace, which
    dies with its last process (deleting it ourselves waits an RCU grace period, 30-60 ms
    measured, on every container's exit)."""
    ipam.Allocator(folder, net["Name"], net["Subnet"]).release(cid)
