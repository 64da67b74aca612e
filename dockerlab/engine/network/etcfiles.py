"""``/etc/hosts`` and ``/etc/resolv.conf`` as Docker 20.10 writes them (network.md §1.3)."""

from __future__ import annotations

HOSTS_HEAD = (
    b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    b"fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
    b"ff02::2\tip6-allrouters\n"
)
DEFAULT_DNS = b"nameserver 8.8.8.8\nnameserver 8.8.4.4\n"  # libnetwork's when none is left


def hosts(ip: str, hostname: str, domainname: str = "") -> bytes:
    """The six fixed lines, then the container's own: ``IP<TAB>hostname`` (``fqdn short``
    with a domain name)."""
    names = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    return HOSTS_HEAD + f"{ip}\t{names}\n".encode()


def _local(server: str) -> bool:
    return server.startswith("127.") or server == "::1"


def resolv_conf(host: bytes) -> bytes:
    """The host's resolv.conf for the default bridge: localhost nameservers dropped (they
    would be the container's own loopback) and IPv6 ones too (IPv6 is off on the
    network); Google's two when none is left, as libnetwork's FilterResolvDNS."""
    out, servers = [], 0
    for line in host.decode("utf-8", "replace").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            if _local(words[1]) or ":" in words[1]:
                continue
            servers += 1
        out.append(line)
    text = "".join(f"{line}\n" for line in out).encode()
    if not servers:
        text += DEFAULT_DNS
    return text


EMBEDDED_RESOLV = b"nameserver 127.0.0.11\noptions ndots:0\n"


def embedded_resolv_conf() -> bytes:
    """resolv.conf on a user network (network.md §4.2): the embedded DNS server only."""
    return EMBEDDED_RESOLV
