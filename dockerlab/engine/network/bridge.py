"""The host side of a bridge network: its bridge, its gateway, its NAT.

Why the bridge lives in a network namespace of its own: on a host where Docker runs, the
``br_netfilter`` module is loaded with ``bridge-nf-call-iptables=1`` (a per-namespace
sysctl) and Docker's ``ip filter`` FORWARD chain has policy DROP, so every frame bridged
between two containers on a bridge of the host's namespace is dropped by Docker's rules
(measured here). We may not touch Docker's or the host's rules, and an ACCEPT in a table of
our own cannot overrule another table's DROP. So the L2 part is ours alone:

    host namespace                         bridge namespace (<run>/bridge.netns)
    <Bridge> (veth, the gateway address) ─ uplink ─ br0 ─ vethXXXXXXX ─ eth0 (container)

Containers reach each other through ``br0`` (no rules in that namespace); the host (and,
by masquerade, the outside) through the gateway on ``<Bridge>``, exactly where Docker puts
``docker0``'s address. Deleting ``<Bridge>`` by hand deletes the uplink with it; the next
start recreates it.

``ensure`` is called by each monitor before it attaches a container: a look-up by name when
all is there, else (first use, deleted by hand, after a reboot) under the network lock:
the namespace and ``br0`` (STP off, MTU 1500), the uplink with the gateway address,
``net.ipv4.ip_forward=1`` (as dockerd sets it) and the masquerade rule in dockerlab's own
nftables table (``ip dockerlab``; ``ip dl<tag>`` for another state root), never Docker's
``ip nat``/``ip filter`` nor the host's. ``nft`` runs only then, so ``run`` never pays it.
"""

from __future__ import annotations

import os
import socket

from dockerlab.engine.atomic import locked
from dockerlab.engine.network import ipam
from dockerlab.engine.network.netlink import Netlink
from dockerlab.engine.runtime import linux as L

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BR = "br0"  # the bridge, inside the bridge namespace
UPLINK = "uplink"


def index(name: str) -> int:
    """``name``'s index in the caller's current network namespace, 0 when absent."""
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return 0


def nft_script(net: dict[str, Any]) -> str:
    """The table's rules for ``net``: masquerade what leaves its subnet by another device
    (Docker's ``-s SUBNET ! -o BRIDGE -j MASQUERADE``)."""
    table = net["Table"]
    script = (
        f"add table ip {table}\n"
        f"add chain ip {table} postrouting "
        "{ type nat hook postrouting priority srcnat; policy accept; }\n"
        f"flush chain ip {table} postrouting\n"
    )
    if not net.get("Internal"):
        script += (
            f"add rule ip {table} postrouting ip saddr {net['Subnet']} "
            f'oifname != "{net["Bridge"]}" masquerade\n'
        )
    if net.get("User"):
        script += isolation_rules(net)
    return script


def isolation_rules(net: dict[str, Any]) -> str:
    """A user network's forward chain (Docker's DOCKER-ISOLATION stages, from one side):
    nothing routed into its bridge from another interface but replies to its own
    connections and published ports (DNAT); nothing from it to the default bridge (whose
    table has no such chain); with ``--internal``, nothing routed out of it either."""
    table, br = net["Table"], net["Bridge"]
    rules = [
        f'oifname "{br}" iifname != "{br}" ct state established,related accept',
        f'oifname "{br}" iifname != "{br}" ct status dnat accept',
        f'oifname "{br}" iifname != "{br}" drop',
    ]
    if net.get("DefaultBridge"):
        rules.append(f'iifname "{br}" oifname "{net["DefaultBridge"]}" drop')
    if net.get("Internal"):
        rules.insert(0, f'iifname "{br}" oifname != "{br}" drop')
    return (
        f"add chain ip {table} forward "
        "{ type filter hook forward priority filter; policy accept; }\n"
        f"flush chain ip {table} forward\n"
        + "".join(f"add rule ip {table} forward {r}\n" for r in rules)
    )


def nft_path() -> str | None:
    import shutil

    return shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin:/bin")


def firewall(net: dict[str, Any]) -> None:
    import subprocess

    from dockerlab.errors import SystemFailure

    nft = nft_path()
    if nft is None:
        raise SystemFailure(
            "failed to set up the bridge network: nft not found (dockerlab masquerades "
            "through nftables: install the nftables package, or run with --network none)"
        )
    done = subprocess.run(
        [nft, "-f", "-"], input=nft_script(net).encode(), capture_output=True, check=False
    )
    if done.returncode:
        raise SystemFailure(
            "failed to set up the bridge network: nft: "
            + done.stderr.decode("utf-8", "replace").strip()
        )


def is_netns(path: str) -> bool:
    """Whether ``path`` is a mounted network namespace (nsfs), not a bare file."""
    try:
        return os.stat(path).st_dev == os.stat("/proc/thread-self/ns/net").st_dev
    except OSError:
        return False


class Inside:
    """``with Inside(path):`` the calling thread is in the network namespace at ``path`` (a
    bridge's bind mount, or a running container's ``/proc/PID/ns/net``), then back in its
    own. A netlink socket opened inside stays bound to that namespace after we leave."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.home = -1

    def __enter__(self) -> None:
        # the thread's own: /proc/self is the main thread's, which may be elsewhere
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            L.setns(fd, L.CLONE_NEWNET)
        except BaseException:
            os.close(self.home)
            raise
        finally:
            os.close(fd)

    def __exit__(self, *exc: object) -> None:
        L.setns(self.home, L.CLONE_NEWNET)
        os.close(self.home)


def _build(net: dict[str, Any]) -> None:
    """(locked) Make what is missing: namespace and br0, uplink, gateway address, NAT."""
    firewall(net)  # first: a host without nft gets no half-made network
    path, mtu = net["NetNS"], int(net.get("MTU") or 1500)
    if index(net["Bridge"]):  # an uplink to a namespace that is no longer ours (unmounted)
        nl = Netlink()
        try:
            nl.delete_link(net["Bridge"])
        finally:
            nl.close()
    host = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if not is_netns(path):
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
            L.unshare(L.CLONE_NEWNET)  # this thread only: /proc/thread-self, not /proc/self
            try:
                L.mount("/proc/thread-self/ns/net", path, None, L.MS_BIND)
                _no_ipv6()
                nl = Netlink()
                try:
                    nl.add_bridge(BR, _random_mac(), mtu)
                    nl.set_up(name=BR)
                    nl.set_up(1)  # lo
                finally:
                    nl.close()
            finally:
                L.setns(host, L.CLONE_NEWNET)
        with Inside(path):
            nl = Netlink()
            try:
                nl.add_veth(UPLINK, index(BR), mtu, net["Bridge"], _random_mac(), host)
                nl.set_up(name=UPLINK)
            finally:
                nl.close()
    finally:
        os.close(host)
    nl = Netlink()
    try:
        found = index(net["Bridge"])
        plen = int(net["Subnet"].partition("/")[2])
        nl.add_address(found, net["Gateway"], plen, ipam.broadcast_of(net["Subnet"]))
        nl.set_up(found)
    finally:
        nl.close()
    try:
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1")
    except OSError:
        pass  # a read-only /proc/sys: containers still reach each other and the host


def ensure(net: dict[str, Any], lock_dir: str) -> None:
    """The network is there (recreated if deleted by hand or lost with a reboot)."""
    if index(net["Bridge"]) and is_netns(net["NetNS"]):
        return
    with locked(os.path.join(lock_dir, ".lock")):
        if not (index(net["Bridge"]) and is_netns(net["NetNS"])):
            _build(net)


def remove(net: dict[str, Any]) -> None:
    """Delete the network from the host: uplink, namespace (and every port on it), table."""
    import subprocess

    if index(net["Bridge"]):
        nl = Netlink()
        try:
            nl.delete_link(net["Bridge"])
        except OSError:
            pass
        finally:
            nl.close()
    if is_netns(net["NetNS"]):
        L.umount(net["NetNS"], L.MNT_DETACH)
    try:
        os.unlink(net["NetNS"])
    except FileNotFoundError:
        pass
    nft = nft_path()
    if nft:
        subprocess.run([nft, "delete", "table", "ip", net["Table"]], capture_output=True)


def _random_mac() -> str:
    return "02:42:" + ":".join(f"{b:02x}" for b in os.urandom(4))


def _no_ipv6() -> None:
    """IPv6 off in the caller's network namespace (net sysctls are the writer's)."""
    for scope in ("default", "all"):
        try:
            with open(f"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6", "w") as f:
                f.write("1")
        except OSError:
            pass  # a kernel without IPv6
