"""``/etc/hosts`` and ``/etc/resolv.conf`` as Docker 20.10 writes them (network.md §1.3).

The hosts file is libnetwork's: six fixed lines, the ``--add-host`` records, the link
records, then (on a network with an address) the container's own line, each ``IP<TAB>names``.
The resolv.conf is the host's, filtered (localhost nameservers dropped, IPv6 ones too on a
network without IPv6, Google's when none is left), or built from ``--dns``,
``--dns-search`` and ``--dns-option`` (``resolvconf.Build``). Everything but the own line is
made by the starter (this module's regular expressions never load in the monitor, which
only appends the own line with :func:`own_line`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HOSTS_HEAD = (
    b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    b"fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
    b"ff02::2\tip6-allrouters\n"
)
DEFAULT_DNS = b"nameserver 8.8.8.8\nnameserver 8.8.4.4\n"  # kept for older callers
_DEFAULT_V4 = "\nnameserver 8.8.8.8\nnameserver 8.8.4.4"  # libnetwork's, no final newline
_DEFAULT_V6 = "\nnameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844"
HOST_RESOLV = "/etc/resolv.conf"
SYSTEMD_RESOLV = "/run/systemd/resolve/resolv.conf"


def own_line(ip: str, hostname: str, domainname: str = "") -> bytes:
    """``IP<TAB>fqdn short`` when the name has a dot (with ``--domainname`` or a dotted
    ``-h``), else ``IP<TAB>hostname`` (libnetwork's ``updateHostsFile``)."""
    fqdn = f"{hostname}.{domainname}" if domainname else hostname
    short, dot, _ = fqdn.partition(".")
    names = f"{fqdn} {short}" if dot else fqdn
    return f"{ip}\t{names}\n".encode()


def records(entries: list[tuple[str, str]]) -> bytes:
    """``IP<TAB>names`` lines for (names, ip) pairs (add-host and link records)."""
    return "".join(f"{ip}\t{names}\n" for names, ip in entries).encode()


def hosts(
    ip: str, hostname: str, domainname: str = "", extra: list[tuple[str, str]] | None = None
) -> bytes:
    """The six fixed lines, ``extra`` (names, ip) records, then the container's own line."""
    return HOSTS_HEAD + records(extra or []) + own_line(ip, hostname, domainname)


def extra_hosts(specs: list[str], gateway: str) -> list[tuple[str, str]]:
    """HostConfig.ExtraHosts (``name:ip``, split on the first colon) as (names, ip);
    ``host-gateway`` is the bridge's gateway, as the daemon's default host-gateway-ip."""
    out = []
    for spec in specs:
        name, _, ip = spec.partition(":")
        out.append((name, gateway if ip == "host-gateway" else ip))
    return out


def update_records(text: bytes, ip: str, alias: str) -> bytes:
    """libnetwork's ``etchosts.Update`` of a hosts text: every record of ``alias`` gets
    ``ip``."""
    import re

    pattern = re.compile(rb"(\S*)(\t" + re.escape(alias.encode()) + rb")(\s|\.)")
    return pattern.sub(lambda m: ip.encode() + m.group(2) + m.group(3), text)


def update_hosts(path: str, ip: str, alias: str) -> None:
    """:func:`update_records` of a file, written in place (the file is bind-mounted into a
    running container: its inode must stay)."""
    try:
        with open(path, "r+b") as f:
            old = f.read()
            new = update_records(old, ip, alias)
            if new != old:
                f.seek(0)
                f.write(new)
                f.truncate()
    except FileNotFoundError:
        pass


# ---- resolv.conf (libnetwork/resolvconf; Go's RE2 \s is [\t\n\f\r ]) ---------------------
_S = r"[\t\n\f\r ]"
_V4 = r"(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
_IPV4 = rf"({_V4}\.){{3}}{_V4}"
_IPV6 = r"([0-9A-Fa-f]{0,4}:){2,7}([0-9A-Fa-f]{0,4})(%\w+)?"


def _regexps() -> dict[str, Any]:
    import re

    return {
        "localhost": re.compile(
            rf"(?m)^nameserver{_S}+((127\.([0-9]{{1,3}}\.){{2}}[0-9]{{1,3}})|(::1)$){_S}*\n*"
        ),
        "ns6": re.compile(rf"(?m)^nameserver{_S}+{_IPV6}{_S}*\n*"),
        "ns": re.compile(rf"^{_S}*nameserver{_S}*(({_IPV4})|({_IPV6})){_S}*$"),
        "search": re.compile(rf"^{_S}*search{_S}*(([^\t\n\f\r ]+{_S}*)*)$"),
        "options": re.compile(rf"^{_S}*options{_S}*(([^\t\n\f\r ]+{_S}*)*)$"),
    }


def _lines(text: str) -> list[str]:
    return [line.partition("#")[0] for line in text.split("\n")]


def nameservers(text: str) -> list[str]:
    rx = _regexps()["ns"]
    return [m.group(1) for line in _lines(text) if (m := rx.match(line))]


def _last_fields(text: str, kind: str) -> list[str]:
    rx, out = _regexps()[kind], []
    for line in _lines(text):
        m = rx.match(line)
        if m:
            out = m.group(1).split()
    return out


def filter_resolv(host: str, ipv6: bool) -> str:
    """``FilterResolvDNS``: localhost nameservers out (and IPv6 ones without ``ipv6``);
    Google's when none is left."""
    rx = _regexps()
    text: str = rx["localhost"].sub("", host)
    if not ipv6:
        text = rx["ns6"].sub("", text)
    if not nameservers(text):
        text += _DEFAULT_V4 + (_DEFAULT_V6 if ipv6 else "")
    return text


def build_resolv(dns: list[str], search: list[str], options: list[str]) -> str:
    """``resolvconf.Build``: search, nameservers, options (``--dns-search .``: no search)."""
    out = ""
    if search and " ".join(search).strip(" ") != ".":
        out += "search " + " ".join(search) + "\n"
    out += "".join(f"nameserver {server}\n" for server in dns)
    if options and " ".join(options).strip(" "):
        out += "options " + " ".join(options) + "\n"
    return out


def read_host_resolv() -> str:
    """The host's resolv.conf, or systemd-resolved's real one when the host's names only
    its stub 127.0.0.53 (libnetwork's ``resolvconf.Path``)."""
    text = _read(HOST_RESOLV)
    if "127.0.0.53" in text and nameservers(text) == ["127.0.0.53"]:
        return _read(SYSTEMD_RESOLV)
    return text


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "surrogateescape")
    except OSError:
        return ""


def container_resolv(
    host: str,
    mode: str,
    dns: list[str] | None = None,
    search: list[str] | None = None,
    options: list[str] | None = None,
) -> bytes:
    """A container's resolv.conf on network ``mode`` (bridge, none or host), as libnetwork's
    ``setupDNS`` then ``updateDNS`` leave it: the host's copied on ``host`` without DNS
    flags; built from the flags (the host's values filling what they leave out, unfiltered);
    else filtered with IPv6 on at sandbox creation, then again without IPv6 when the bridge
    endpoint joins (the default bridge has no IPv6)."""
    dns, search, options = dns or [], search or [], options or []
    if dns or search or options:
        text = build_resolv(
            dns or nameservers(host),
            search or _last_fields(host, "search"),
            options or _last_fields(host, "options"),
        )
    elif mode == "host" or _plain(host):
        text = host  # (plain: the filters would change nothing; no regex compiled per run)
    else:
        text = filter_resolv(host, True)
        if mode == "bridge":
            text = filter_resolv(text, False)
    return text.encode("utf-8", "surrogateescape")


def _plain(host: str) -> bool:
    """Every nameserver line is ``nameserver <IPv4>`` off 127/8, and there is one."""
    servers = 0
    for line in host.split("\n"):
        words = line.split()
        if "nameserver" not in line:
            continue
        if len(words) != 2 or words[0] != "nameserver" or line[0] != "n":
            return False
        octets = words[1].split(".")
        if (
            len(octets) != 4
            or octets[0] == "127"
            or not all(
                o.isascii() and o.isdigit() and len(o) <= 3 and int(o) <= 255 for o in octets
            )
        ):
            return False
        servers += 1
    return servers > 0


def resolv_conf(host: bytes) -> bytes:
    """The host's resolv.conf for the default bridge (see :func:`container_resolv`)."""
    return container_resolv(host.decode("utf-8", "surrogateescape"), "bridge")


EMBEDDED_RESOLV = b"nameserver 127.0.0.11\noptions ndots:0\n"


def embedded_resolv_conf() -> bytes:
    """resolv.conf on a user network (network.md §4.2): the embedded DNS server only."""
    return EMBEDDED_RESOLV
