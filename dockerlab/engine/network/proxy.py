"""The userland proxy: one process per container with published ports (Docker's
``docker-proxy``, one per binding and family there), forked by the container's monitor.

It serves the sockets the monitor bound on the host (:mod:`.ports`): a TCP connection is
accepted and relayed to the container's address and port (two threads, one per direction,
half-closes passed on); a UDP datagram goes out from a socket per client toward the
container, and the answers come back to that client, until 90 s without traffic (as
docker-proxy's UDP timeout). The container sees the bridge's gateway as the client, as it
sees docker-proxy's connections.

It runs as nobody without capabilities, and dies with its monitor (``PR_SET_PDEATHSIG``): a
monitor killed with SIGKILL leaves no listening socket behind; the monitor kills it when the
container stops.
"""

from __future__ import annotations

import os
import signal
import socket

from dockerlab.engine.runtime import linux as L

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

UDP_TIMEOUT = 90.0
NOBODY = 65534
CONNECT_TIMEOUT = 10.0


def start(listeners: list[tuple[socket.socket, str, int]], target_ip: str, run: str = "") -> int:
    """Fork the proxy for ``listeners`` (socket, proto, container port); its pid. ``run``:
    rootless, the runtime folder of the user's network namespace, where it connects."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: never returns into the monitor
        # imported while root: nobody may not read the stdlib (getaddrinfo needs idna)
        import encodings.idna  # noqa: F401
        import select  # noqa: F401
        import threading  # noqa: F401

        L.set_process_name("dockerlab-proxy")  # (loads ctypes, for prctl below)
        if run:  # its listeners are the host's; what it connects to is in there
            from dockerlab.engine.network import usermode

            usermode.enter_user_netns(run)
        # It needs no privilege once its sockets are bound: it serves the network as nobody,
        # without capabilities (the uid change clears them, and would clear PDEATHSIG: so
        # first). The kernel makes it non-dumpable too.
        try:
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
        except OSError:  # rootless with a single-ID mapping: no nobody; stays the user
            pass
        L.prctl(L.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the monitor died before we asked
            os._exit(0)
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        keep = sorted({0, 1, 2} | {s.fileno() for s, _, _ in listeners})
        low = 0
        for fd in keep:
            if fd > low:  # closerange(n, n) closes every fd from n up (close_range's -1)
                os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, os.sysconf("SC_OPEN_MAX"))
        serve(listeners, target_ip)
    finally:
        os._exit(0)


def serve(listeners: list[tuple[socket.socket, str, int]], target_ip: str) -> None:
    import select
    import threading

    tcp = {}
    for sock, proto, port in listeners:
        if proto == "udp":
            threading.Thread(target=_udp, args=(sock, (target_ip, port)), daemon=True).start()
        else:
            sock.setblocking(False)
            tcp[sock.fileno()] = (sock, (target_ip, port))
    if not tcp:
        threading.Event().wait()
    poller = select.epoll()
    for fd in tcp:
        poller.register(fd, select.EPOLLIN)
    while True:
        for fd, _ in poller.poll():
            sock, target = tcp[fd]
            while True:
                try:
                    client, _ = sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # EMFILE and the like: drop this round, go on
                    break
                client.setblocking(True)
                threading.Thread(target=_relay, args=(client, target), daemon=True).start()


def _relay(client: socket.socket, target: tuple[str, int]) -> None:
    import threading

    upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        upstream.settimeout(CONNECT_TIMEOUT)
        upstream.connect(target)
    except Exception:  # noqa: BLE001 - whatever it is, this connection only
        upstream.close()
        client.close()  # nothing listens in the container: the client sees the close
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _udp(listener: socket.socket, target: tuple[str, int]) -> None:
    import threading

    peers: dict[Any, socket.socket] = {}
    while True:
        try:
            data, addr = listener.recvfrom(65535)
        except OSError:
            continue
        up = peers.get(addr)
        if up is None:
            up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                up.connect(target)
            except OSError:
                up.close()
                continue
            peers[addr] = up
            threading.Thread(
                target=_udp_back, args=(up, listener, addr, peers), daemon=True
            ).start()
        try:
            up.send(data)
        except OSError:
            pass


def _udp_back(
    up: socket.socket, listener: socket.socket, addr: Any, peers: dict[Any, socket.socket]
) -> None:
    up.settimeout(UDP_TIMEOUT)
    try:
        while True:
            data = up.recv(65535)
            listener.sendto(data, addr)
    except OSError:  # the timeout too
        pass
    finally:
        peers.pop(addr, None)
        up.close()
