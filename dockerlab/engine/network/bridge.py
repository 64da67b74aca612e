"""The host side of a bridge network: the bridge itself and its NAT.

``ensure`` is called by each monitor before it attaches a container: a look-up by name
(one ioctl) when the bridge is there, and, when it is not (first use, or deleted by hand),
under the network lock: the bridge (Docker's shape: ``02:42`` MAC, STP off, MTU 1500), its
gateway address, ``net.ipv4.ip_forward=1`` (as dockerd sets it) and the masquerade rule in
dockerlab's own nftables table (``ip dockerlab``; ``ip dl<tag>`` for another state root) (never Docker's ``ip nat``/``ip filter``,
never the host's). ``nft`` runs only then, so ``run`` never pays for it.
"""

from __future__ import annotations

import os
import secrets
import socket

from dockerlab.engine.atomic import locked
from dockerlab.engine.network import ipam
from dockerlab.engine.network.netlink import Netlink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

def index(name: str) -> int:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return 0


def nft_script(net: dict[str, Any]) -> str:
    """The table's rules for ``net``: masquerade what leaves its subnet by another device
    (Docker's ``-s SUBNET ! -o BRIDGE -j MASQUERADE``)."""
    table = net["Table"]
    return (
        f"add table ip {table}\n"
        f"add chain ip {table} postrouting "
        "{ type nat hook postrouting priority srcnat; policy accept; }\n"
        f"flush chain ip {table} postrouting\n"
        f'add rule ip {table} postrouting ip saddr {net["Subnet"]} '
        f'oifname != "{net["Bridge"]}" masquerade\n'
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


def ensure(net: dict[str, Any], lock_dir: str) -> int:
    """The bridge's interface index, made (with its NAT) if it is missing."""
    name = net["Bridge"]
    found = index(name)
    if found:
        return found
    with locked(os.path.join(lock_dir, ".lock")):
        found = index(name)
        if found:
            return found
        firewall(net)  # first: a host without nft gets no half-made bridge
        nl = Netlink()
        try:
            mac = "02:42:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(4))
            nl.add_bridge(name, mac, int(net.get("MTU") or 1500))
            found = index(name)
            plen = int(net["Subnet"].partition("/")[2])
            nl.add_address(found, net["Gateway"], plen, ipam.broadcast_of(net["Subnet"]))
            nl.set_up(found)
        finally:
            nl.close()
        try:
            with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
                f.write("1")
        except OSError:
            pass  # read-only /proc/sys (a nested sandbox): containers still reach each other
        return found
