"""The daemon's listeners and connections.

``-H`` addresses as dockerd's: ``unix://PATH`` (mode 0660, group ``dockerlab`` when it
exists, else root's) and ``tcp://HOST:PORT`` — loopback only, unless ``--tlsverify`` with a
CA, a certificate and a key, as Docker's rules. One thread per connection serves requests
one after another (keep-alive) until the client closes, a hijack ends, or the daemon stops.
SIGTERM and SIGINT close the listeners and the connections and remove the sockets; running
containers keep running (they belong to their monitors).
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import sys
import threading
import time
from typing import Any, TextIO

from dockerlab.daemon.http import (
    IDLE_TIMEOUT,
    ClientGone,
    Connection,
    Hijacked,
    HTTPError,
    Request,
    Response,
    Streamed,
    error_response,
)
from dockerlab.daemon.router import Api, dispatch, load_routes
from dockerlab.daemon.trace import Tracer, summarize
from dockerlab.errors import ClientError

DEFAULT_HOST = "unix:///run/dockerlab/docker.sock"
DEFAULT_GROUP = "dockerlab"
MAX_CONNECTIONS = 1024
BACKLOG = 1024  # many clients connecting at once wait in the kernel, not refused
HEADER_TIMEOUT = 30.0  # seconds from a request's first byte to its blank line (slowloris);
# a JSON body, read whole, has as long again
HANDSHAKE_TIMEOUT = 30.0  # a TLS handshake
DRAIN_LIMIT = 1024 * 1024  # unread body bytes dropped to keep a connection alive
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class DaemonError(ClientError):
    """The daemon cannot start: a bad ``-H``, a socket in use, missing certificates
    (printed as dockerd prints them: ``failed to start daemon: …``)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"failed to start daemon: {message}")


class Tls:
    """``--tlsverify``'s files: the server's certificate and key, the CA clients must
    present a certificate from."""

    def __init__(self, ca: str, cert: str, key: str, verify: bool) -> None:
        self.ca, self.cert, self.key, self.verify = ca, cert, key, verify

    def context(self) -> Any:
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(self.cert, self.key)
            if self.verify:
                ctx.load_verify_locations(self.ca)
                ctx.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise DaemonError(f"could not load the TLS certificates: {exc}") from None
        return ctx


def parse_host(addr: str) -> tuple[str, Any]:
    """``-H`` as dockerd parses it: ("unix", path) or ("tcp", (host, port))."""
    if addr.startswith("unix://"):
        path = addr[len("unix://") :] or DEFAULT_HOST[len("unix://") :]
        if not path.startswith("/"):
            raise DaemonError(f"invalid bind address ({addr}): the unix socket path is relative")
        return "unix", path
    if addr.startswith("tcp://"):
        rest = addr[len("tcp://") :].rstrip("/")
        host, sep, port = rest.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise DaemonError(f"invalid bind address ({addr}): a tcp address needs a port")
        host = host.strip("[]") or "0.0.0.0"
        return "tcp", (host, int(port))
    if "://" in addr:
        raise DaemonError(f"invalid bind address ({addr}): dockerlab serves unix:// and tcp://")
    raise DaemonError(f"invalid bind address ({addr}): unix://PATH or tcp://HOST:PORT")


def _group_id(group: str) -> int:
    """``-G`` as dockerd's ``lookupGID``: a group name or number; without the default group
    the socket stays root's group, an unknown group asked for by name is an error."""
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        pass
    if group.isdigit():
        return int(group)
    if group == DEFAULT_GROUP:
        return -1
    raise DaemonError(f"group {group} not found")


def _listen_unix(path: str, group: str) -> socket.socket:
    gid = _group_id(group) if group else -1
    if os.path.lexists(path):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)  # left by a daemon that died
        except OSError as exc:
            raise DaemonError(f"cannot use {path}: {exc.strerror}") from None
        else:
            raise DaemonError(
                f"a daemon is already listening on unix://{path}: stop it first "
                "(each socket has one daemon)"
            )
        finally:
            probe.close()
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # never reachable by others, even for a moment
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise DaemonError(f"cannot listen on unix://{path}: {exc.strerror}") from None
    finally:
        os.umask(old)
    os.chown(path, 0 if os.geteuid() == 0 else -1, gid)
    os.chmod(path, 0o660)
    sock.listen(BACKLOG)
    return sock


def _listen_tcp(host: str, port: int, tls: Tls | None) -> socket.socket:
    if host not in LOOPBACK and (tls is None or not tls.verify):
        raise DaemonError(
            f"refusing to listen on tcp://{host}:{port} without --tlsverify: anyone who can "
            "reach it would control this host (Docker's rule); use 127.0.0.1, or give "
            "--tlsverify --tlscacert --tlscert --tlskey"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DaemonError(f"cannot listen on tcp://{host}:{port}: {exc.strerror}") from None
    sock.listen(BACKLOG)
    return sock


class Daemon:
    def __init__(
        self,
        hosts: list[str],
        root: str | None = None,
        group: str = DEFAULT_GROUP,
        tls: Tls | None = None,
        trace: bool = False,
        log: TextIO | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        header_timeout: float = HEADER_TIMEOUT,
    ) -> None:
        from dockerlab import __version__
        from dockerlab.engine.system import API_VERSION

        self.addresses = [parse_host(h) for h in hosts or [DEFAULT_HOST]]
        self.group = group
        self.tls = tls
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.handshake_timeout = min(HANDSHAKE_TIMEOUT, header_timeout)
        self.api = Api(root)
        self.tracer = Tracer(log or sys.stderr, trace)
        self.api.shared["tracer"] = self.tracer
        self.common = [
            ("Api-Version", API_VERSION),
            ("Docker-Experimental", "false"),
            ("Ostype", "linux"),
            ("Server", f"Docker/{__version__} (linux) dockerlab"),
        ]
        self._listeners: list[tuple[socket.socket, str, Any]] = []
        self._connections: set[Connection] = set()
        self._handshakes: dict[socket.socket, float] = {}  # TLS handshakes under way
        self._lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._stopped = threading.Event()
        self.stopping = False
        # the handlers and the engine imported now, before the socket answers: no request
        # pays for them
        load_routes()
        import dockerlab.engine.facade  # noqa: F401

    # ---- listening ------------------------------------------------------------------------
    def listen(self) -> list[str]:
        """Open every listener (all or none); returns their addresses as ``-H`` spells them."""
        ctx = self.tls.context() if self.tls else None
        shown = []
        try:
            for kind, where in self.addresses:
                if kind == "unix":
                    sock = _listen_unix(where, self.group)
                    shown.append(f"unix://{where}")
                else:
                    sock = _listen_tcp(where[0], where[1], self.tls)
                    host, port = sock.getsockname()[:2]
                    shown.append(f"tcp://{host}:{port}")
                # a unix listener keeps its path's inode: remove only the file it made
                mine = (where, os.stat(where).st_ino) if kind == "unix" else ctx
                self._listeners.append((sock, kind, mine))
        except BaseException:
            self._close_listeners()
            raise
        return shown

    def _close_listeners(self) -> None:
        for sock, kind, extra in self._listeners:
            if kind == "unix":
                try:
                    if os.stat(extra[0]).st_ino == extra[1]:
                        os.unlink(extra[0])
                except OSError:
                    pass
            sock.close()
        self._listeners = []

    # ---- serving --------------------------------------------------------------------------
    def serve_forever(self) -> None:

        sel = selectors.DefaultSelector()
        for entry in self._listeners:
            sel.register(entry[0], selectors.EVENT_READ, entry)
        sel.register(self._stop_r, selectors.EVENT_READ, None)
        threading.Thread(target=self._reap, name="reaper", daemon=True).start()
        try:
            while not self.stopping:
                for key, _ in sel.select():
                    if key.data is None:
                        self.stopping = True
                        break
                    self._accept(*key.data)
        finally:
            sel.close()
            self.shutdown()

    def stop(self) -> None:
        """Ask ``serve_forever`` to return (safe from a signal handler or another thread)."""
        try:
            os.write(self._stop_w, b"x")
        except OSError:
            pass

    def _reap(self) -> None:
        """Close connections past their deadline: idle between requests longer than
        ``idle_timeout``, or slower than ``header_timeout`` to send a request's head, a JSON
        body or a TLS handshake (a client trickling bytes would hold its thread forever;
        socket timeouts restart with every byte, a deadline does not)."""
        tick = max(0.05, min(1.0, self.idle_timeout / 4, self.header_timeout / 4))
        while not self._stopped.wait(tick):
            now = time.monotonic()
            with self._lock:
                late = [c for c in self._connections if c.deadline and c.deadline < now]
                slow = [s for s, d in self._handshakes.items() if d < now]
            for tls_sock in slow:
                try:  # the plain socket's shutdown: the handshake's reads see the end
                    socket.socket.shutdown(tls_sock, socket.SHUT_RDWR)
                except OSError:
                    pass
            for conn in late:
                conn.deadline = None
                conn.gone.set()
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)  # its reader sees the end
                except OSError:
                    pass

    def shutdown(self) -> None:
        self._stopped.set()
        self._close_listeners()
        with self._lock:
            live = list(self._connections)
        for conn in live:
            conn.gone.set()
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self, listener: socket.socket, kind: str, extra: Any) -> None:
        try:
            sock, addr = listener.accept()
        except OSError:
            return
        peer = f"{addr[0]}:{addr[1]}" if kind == "tcp" else "unix"
        if kind == "tcp":  # answers go out as written (a stream's chunks, a hijack's bytes)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            crowded = len(self._connections) >= MAX_CONNECTIONS
        if crowded:
            sock.close()
            return
        t = threading.Thread(
            target=self._serve, args=(sock, peer, extra if kind == "tcp" else None), daemon=True
        )
        t.start()

    def _serve(self, sock: socket.socket, peer: str, tls: Any) -> None:
        if tls is not None:
            try:
                ssock: Any = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except OSError:
                sock.close()
                return
            try:
                with self._lock:  # the reaper ends a handshake that takes too long
                    self._handshakes[ssock] = time.monotonic() + self.handshake_timeout
                ssock.do_handshake()
            except OSError:  # no certificate, a bad one, not TLS at all, too slow
                ssock.close()
                return
            finally:
                with self._lock:
                    self._handshakes.pop(ssock, None)
            sock = ssock
        conn = Connection(sock, peer)
        conn.body_timeout = self.header_timeout
        with self._lock:
            self._connections.add(conn)
        try:
            while not self.stopping:
                conn.deadline = time.monotonic() + self.idle_timeout
                if not conn.rfile.peek(1):  # closed by the client, or by the reaper
                    break
                conn.deadline = time.monotonic() + self.header_timeout
                try:
                    req = conn.read_request()
                except HTTPError as exc:
                    conn.deadline = None
                    self._write(conn, None, error_response(exc.status, str(exc)), close=True)
                    break
                conn.deadline = None
                if req is None:
                    break
                if not self._answer(conn, req):
                    break
        except (ClientGone, OSError):
            pass
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def _answer(self, conn: Connection, req: Request) -> bool:
        """Answer one request; whether the connection can serve another."""
        start = time.monotonic()
        arrived = time.time()  # the records go in arrival order, whatever ends first
        status = 500
        try:
            result = dispatch(req, self.api)
            status = result.status if not isinstance(result, Hijacked) else 101
            keep = self._write(conn, req, result)
            if keep and not req.body.finished:
                keep = req.body.drain(DRAIN_LIMIT)
            return keep  # (a close lingers for what the client still sends: Connection.close)
        except HTTPError as exc:  # the body broke its framing mid-handler
            status = exc.status
            return False
        finally:
            self.tracer.record(
                {
                    "time": arrived,
                    "method": req.method,
                    "path": req.raw_path,
                    "query": req.target.partition("?")[2],
                    "body": summarize(
                        req.headers.get("content-type", ""), req.body.head, req.body.count
                    ),
                    "status": status,
                    "ms": (time.monotonic() - start) * 1000,
                    "peer": conn.peer,
                    "error": req.trace.get("error", ""),
                    "untraced": req.trace.get("untraced", False),  # the trace feed itself
                }
            )

    def _write(
        self,
        conn: Connection,
        req: Request | None,
        result: Response | Streamed | Hijacked,
        close: bool = False,
    ) -> bool:
        close = close or req is None or _wants_close(req)
        headers = list(self.common)
        if isinstance(result, Hijacked):
            assert req is not None
            if req.upgrade:
                headers += [("Content-Type", result.content_type)]
                headers += [("Connection", "Upgrade"), ("Upgrade", "tcp")]
                conn.write_head(101, headers)
            else:
                conn.write_head(200, headers + [("Content-Type", result.content_type)])
            result.run(conn)
            return False
        if isinstance(result, Streamed):
            return self._stream(conn, req, result, headers, close)
        if result.headers.get("Connection") == "close":
            close = True
        extra = [(k, v) for k, v in result.headers.items() if k != "Connection" and v]
        headers += extra
        if result.content_type:
            headers.append(("Content-Type", result.content_type))
        if result.status not in (204, 304):
            headers.append(("Content-Length", str(len(result.body))))
        if close:
            headers.append(("Connection", "close"))
        body = result.body if req is None or req.method != "HEAD" else b""
        conn.write_head(result.status, headers, body if result.status not in (204, 304) else b"")
        return not close

    def _stream(
        self,
        conn: Connection,
        req: Request | None,
        result: Streamed,
        headers: list[tuple[str, str]],
        close: bool,
    ) -> bool:
        chunked = req is not None and req.http_version == "HTTP/1.1"
        headers += list(result.headers.items())
        headers.append(("Content-Type", result.content_type))
        headers.append(("Transfer-Encoding", "chunked") if chunked else ("Connection", "close"))
        conn.write_head(result.status, headers)
        chunks = iter(result.chunks)
        conn.watch()
        try:
            for chunk in chunks:
                if conn.gone.is_set():
                    raise ClientGone("the client went away")
                if chunk:
                    conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        finally:
            close_it = getattr(chunks, "close", None)
            if close_it is not None:
                close_it()  # the handler's generator cleans up (threads, attachments)
        if chunked:
            conn.send(b"0\r\n\r\n")
        return chunked and not close and not conn.gone.is_set()


def _wants_close(req: Request) -> bool:
    token = req.headers.get("connection", "").lower()
    if req.http_version == "HTTP/1.0":
        return "keep-alive" not in token
    return "close" in token


def run(
    hosts: list[str],
    root: str | None,
    group: str,
    tls: Tls | None,
    trace: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """``dockerlab daemon``: listen, say where, serve until SIGTERM/SIGINT.
    ``DOCKERLAB_DAEMON_IDLE_TIMEOUT`` and ``DOCKERLAB_DAEMON_HEADER_TIMEOUT`` (seconds) are
    the tests' knobs for the connection deadlines."""
    timeouts = {
        name: float(os.environ.get(f"DOCKERLAB_DAEMON_{name.upper()}", default) or default)
        for name, default in (("idle_timeout", IDLE_TIMEOUT), ("header_timeout", HEADER_TIMEOUT))
    }
    daemon = Daemon(hosts, root, group, tls, trace, err, **timeouts)
    # before listening: a SIGTERM as soon as the socket answers must stop us cleanly (the
    # byte it leaves in the stop pipe ends serve_forever at once)
    previous = {
        s: signal.signal(s, lambda *_: daemon.stop()) for s in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        shown = daemon.listen()
        for addr in shown:
            err.write(f"API listen on {addr}\n")  # dockerd's line
        err.flush()
        daemon.serve_forever()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    err.write("Daemon shutdown complete\n")
    return 0
