"""Published ports (``-p``, ``-P``): the daemon's checks at create, and the host side at
each start, done by the container's monitor.

At start, before the container's process exists, :meth:`Publisher.bind` reserves each host
port in the state root's table (``network/ports``, under a file lock: Docker's
``Bind for 0.0.0.0:8080 failed: port is already allocated`` when another container holds
it) and binds a socket on it in the host's namespace (so a host process already there gives
Docker's ``Error starting userland proxy: listen tcp4 127.0.0.1:8085: bind: address already
in use``, and the container is left Created). Once the container runs,
:meth:`Publisher.serve` forks the userland proxy (:mod:`.proxy`) that serves those sockets,
one process per container, killed with its monitor (PR_SET_PDEATHSIG). The table's entries
name their monitor (pid and start time): a crashed monitor's are dropped by the next
reader, and :func:`release` frees a container's at once.

Host ports: an unspecified host address publishes on ``0.0.0.0`` and ``::`` (as Docker
does, even without IPv6 on the network), with the same port for both (Docker ≥ 27). A
random port comes from ``ip_local_port_range``, one counter per protocol that goes on
upward (a freed port is not handed out again at once), wrapping at the top; a host range
(``-p 8000-8010:80``) takes its first free port. Ports are given back when the container
stops and chosen again at the next start.
"""

from __future__ import annotations

import os
import socket

from dockerlab.engine.atomic import locked, write_bytes
from dockerlab.engine.runtime import linux as L

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TABLE = "ports"
FALLBACK_RANGE = (49153, 65535)  # libnetwork's when ip_local_port_range cannot be read


class PortError(Exception):
    """Why a port could not be published (the text after Docker's endpoint prefix)."""


# ---- create: the daemon's checks ---------------------------------------------------------
def check_request(body: dict[str, Any], host: dict[str, Any]) -> None:
    """moby's ``validateNetContainerMode`` (ports part) and ``verifyContainerSettings``'s
    port checks, with their words (InvalidParameter)."""
    from dockerlab.errors import InvalidParameter

    mode = host.get("NetworkMode") or ""
    if mode.startswith("container:"):
        if host.get("PortBindings") or host.get("PublishAllPorts"):
            raise InvalidParameter(
                "conflicting options: port publishing and the container type network mode"
            )
        if body.get("ExposedPorts"):
            raise InvalidParameter(
                "conflicting options: port exposing and the container type network mode"
            )
    from dockerlab.format.ports import parse_range, split_proto

    for port, bindings in (host.get("PortBindings") or {}).items():
        _, number = split_proto(port)
        try:
            lo, hi = parse_range(number)
        except ValueError:
            lo, hi = 0, -1
        if lo != hi or "-" in number:  # nat.ParsePort: one number
            raise InvalidParameter(f'invalid port specification: "{number}"')
        for b in bindings or []:
            _, hp = split_proto(b.get("HostPort") or "")
            if hp:
                try:
                    parse_range(hp)
                except ValueError:
                    raise InvalidParameter(
                        f'invalid port specification: "{b.get("HostPort")}"'
                    ) from None


def exposed_ports(body: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """Config.ExposedPorts: the request's (``-p`` and ``--expose``) and the image's, keys
    sorted as Go writes a map."""
    merged = {**(image.get("ExposedPorts") or {}), **(body.get("ExposedPorts") or {})}
    return {k: {} for k in sorted(merged)}


def warnings(host: dict[str, Any]) -> list[str]:
    if host.get("NetworkMode") == "host" and host.get("PortBindings"):
        return ["Published ports are discarded when using host network mode"]
    return []


# ---- start: what to publish ---------------------------------------------------------------
def wanted(cfg: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    """(``80/tcp``, host IP, first, last host port; 0, 0 for a random one) per binding, in
    port order; with PublishAllPorts, each exposed port without a binding gets a random one."""
    from dockerlab.format.ports import port_key

    host = cfg["HostConfig"]
    bindings = dict(host.get("PortBindings") or {})
    if host.get("PublishAllPorts"):
        for port in cfg["Config"].get("ExposedPorts") or {}:
            if not bindings.get(port):
                bindings[port] = [{"HostIp": "", "HostPort": ""}]
    out = []
    for port in sorted(bindings, key=port_key):
        for b in bindings[port] or []:
            text = (b.get("HostPort") or "").partition("/")[0]
            first, _, last = text.partition("-")
            lo = int(first) if first else 0
            out.append((port, b.get("HostIp") or "", lo, int(last) if last else lo))
    return out


def local_port_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return FALLBACK_RANGE


class Table:
    """``network/ports``: ``next PROTO PORT`` counters and ``PROTO IP PORT CID PID START``
    reservations (read and written under ``ports.lock``)."""

    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, TABLE)
        self.next: dict[str, int] = {}
        self.held: dict[tuple[str, str, int], tuple[str, int, int]] = {}

    def read(self) -> None:
        try:
            with open(self.path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            words = line.split()
            if len(words) == 3 and words[0] == "next":
                self.next[words[1]] = int(words[2])
            elif len(words) == 6:
                proto, ip, port, cid, pid, start = words
                self.held[(proto, ip, int(port))] = (cid, int(pid), int(start))

    def write(self) -> None:
        lines = [f"next {p} {n}\n" for p, n in sorted(self.next.items())]
        lines += [
            f"{proto} {ip} {port} {cid} {pid} {start}\n"
            for (proto, ip, port), (cid, pid, start) in self.held.items()
        ]
        write_bytes(self.path, "".join(lines).encode(), mode=0o600, durable=False)

    def drop(self, cid: str) -> None:
        """Forget ``cid``'s reservations and those of monitors that are gone."""
        self.held = {k: v for k, v in self.held.items() if v[0] != cid and L.pid_alive(v[1], v[2])}


def release(folder: str, cid: str) -> None:
    """Give ``cid``'s host ports back (its monitor, or the engine after a crash)."""
    path = os.path.join(folder, TABLE)
    if not os.path.exists(path):
        return
    with locked(path + ".lock"):
        table = Table(folder)
        table.read()
        before = dict(table.held)
        table.drop(cid)
        if table.held != before:
            table.write()


def _families(ip: str) -> list[tuple[str, int]]:
    if not ip:
        return [("0.0.0.0", socket.AF_INET), ("::", socket.AF_INET6)]
    return [(ip, socket.AF_INET6 if ":" in ip else socket.AF_INET)]


def _listen(proto: str, family: int, ip: str, port: int) -> socket.socket:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(family, kind | socket.SOCK_CLOEXEC)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if proto == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go's net.Listen
        sock.bind((ip, port))
        if proto == "tcp":
            sock.listen(4096)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_error(proto: str, family: int, ip: str, port: int, exc: OSError) -> PortError:
    from dockerlab.errors import describe
    from dockerlab.format.ports import join_host_port

    where = join_host_port(ip, port)
    net = f"{proto}{'6' if family == socket.AF_INET6 else '4'}"
    said = f"listen {net} {where}: bind: {describe(exc)}"
    start = _unprivileged_port_start()
    if exc.errno == 13 and port < start:  # EACCES: rootless, below the kernel's line
        said = (  # Docker rootless's words (RootlessKit's), without its binary
            f"cannot expose privileged port {port}, you can add "
            f"'net.ipv4.ip_unprivileged_port_start={port}' to /etc/sysctl.conf (currently "
            f"{start}), or choose a larger port number (>= {start}): {said}"
        )
    return PortError(f"Error starting userland proxy: {said}")


def _unprivileged_port_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1024


class Publisher:
    """One container's published ports, from reservation to the proxy's end."""

    def __init__(self, folder: str, cid: str) -> None:
        self.folder, self.cid = folder, cid
        self.listeners: list[tuple[socket.socket, str, int]] = []  # (socket, proto, port)
        self.ports: dict[str, list[dict[str, str]] | None] = {}
        self.proxy = 0
        self.target = ""  # the container's address the proxy serves
        self.user_netns = ""  # rootless: the runtime folder of the user's network namespace

    def bind(self, cfg: dict[str, Any]) -> None:
        """Reserve and bind every host port (PortError with Docker's words, nothing kept)."""
        exposed = dict.fromkeys(cfg["Config"].get("ExposedPorts") or {})
        plan = wanted(cfg)
        ports: dict[str, list[dict[str, str]] | None] = {**exposed}
        for port, *_ in plan:
            ports[port] = None
        if plan:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            me = (self.cid, os.getpid(), L.proc_start_time(os.getpid()) or 0)
            try:
                with locked(os.path.join(self.folder, TABLE + ".lock")):
                    table = Table(self.folder)
                    table.read()
                    table.drop(self.cid)
                    for port, ip, lo, hi in plan:
                        found = self._one(table, port, ip, lo, hi, me)
                        ports[port] = [*(ports[port] or []), *found]
                    table.write()
            except BaseException:
                self.close()
                raise
        self.ports = {k: ports[k] for k in sorted(ports)}

    def _one(
        self,
        table: Table,
        port: str,
        ip: str,
        lo: int,
        hi: int,
        me: tuple[str, int, int],
    ) -> list[dict[str, str]]:
        number, _, proto = port.partition("/")
        if proto not in ("tcp", "udp"):
            raise PortError("Error starting userland proxy: protocol not supported")
        families = _families(ip)
        if lo == hi == 0:
            first, last = local_port_range()
            start = table.next.get(proto, first - 1) + 1
            span = last - first + 1
            candidates = [first + (start - first + i) % span for i in range(span)]
        else:
            candidates = list(range(lo, hi + 1))
        fixed = len(candidates) == 1 and lo != 0
        for candidate in candidates:
            taken = [f for f in families if (proto, f[0], candidate) in table.held]
            if taken:
                if fixed:
                    raise PortError(
                        f"Bind for {taken[0][0]}:{candidate} failed: port is already allocated"
                    )
                continue
            made: list[tuple[socket.socket, str]] = []  # (socket, host IP)
            try:
                for host_ip, family in families:
                    try:
                        made.append((_listen(proto, family, host_ip, candidate), host_ip))
                    except OSError as exc:
                        if not ip and family == socket.AF_INET6 and exc.errno in _NO_IPV6:
                            continue  # a host without IPv6: the 0.0.0.0 binding alone
                        raise _bind_error(proto, family, host_ip, candidate, exc) from None
            except PortError:
                for sock, _ in made:
                    sock.close()
                if fixed:
                    raise
                continue
            self.listeners += [(sock, proto, int(number)) for sock, _ in made]
            for _, host_ip in made:
                table.held[(proto, host_ip, candidate)] = me
            if lo == hi == 0:
                table.next[proto] = candidate
            return [{"HostIp": h, "HostPort": str(candidate)} for _, h in made]
        raise PortError(
            "Bind for "
            + (f"{families[0][0]}:{lo}-{hi}" if lo else f"{families[0][0]}:0")
            + " failed: all ports are allocated"
        )

    def serve(self, target_ip: str) -> None:
        """Fork the proxy for the bound sockets (toward ``target_ip``); we keep them, so a
        proxy that dies (killed by hand, out of memory) is replaced (:meth:`check`)."""
        self.target = target_ip
        if self.listeners:
            from dockerlab.engine.network import proxy

            self.proxy = proxy.start(self.listeners, target_ip, self.user_netns)

    def check(self) -> bool:
        """(At each SIGCHLD of the monitor) Has the proxy died? Then fork it again on the
        same sockets: connections wait in their backlog meanwhile."""
        if not self.proxy:
            return False
        try:
            if not os.waitpid(self.proxy, os.WNOHANG)[0]:
                return False
        except ChildProcessError:
            pass
        from dockerlab.engine.network import proxy

        self.proxy = proxy.start(self.listeners, self.target, self.user_netns)
        return True

    def close(self) -> None:
        for sock, *_ in self.listeners:
            sock.close()
        self.listeners = []

    def stop(self) -> None:
        """Kill the proxy, close what is left and give the ports back."""
        if self.proxy:
            import signal

            try:
                os.kill(self.proxy, signal.SIGKILL)
                os.waitpid(self.proxy, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.proxy = 0
        self.close()
        release(self.folder, self.cid)


_NO_IPV6 = (97, 99)  # EAFNOSUPPORT, EADDRNOTAVAIL
