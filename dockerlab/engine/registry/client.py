"""HTTP to a registry, as Docker's daemon does it: endpoints, the ``/v2/`` ping, auth, errors.

Endpoints (Docker's rules): ``docker.io`` is ``registry-1.docker.io``, tried after the
configured mirrors; a registry whose host is a loopback address (or that is listed as
insecure) is tried over HTTPS without verification, then over plain HTTP; any other is HTTPS
only, verified with the system's CAs plus ``certs.d/HOST:PORT/*.crt`` (and
``client.cert``/``client.key`` if there). Settings come from ``$DOCKERLAB_MIRROR``,
``$DOCKERLAB_INSECURE_REGISTRIES`` (comma separated) and ``<root>/registries.json``
(``{"registry-mirrors": [...], "insecure-registries": [...]}``, daemon.json's keys).

Auth: ``GET /v2/`` answers 200 (none), or 401 with a ``WWW-Authenticate`` challenge: Basic
(the stored credentials on every request) or Bearer (a token from the challenge's realm for
``repository:<name>:<actions>``, Basic-authenticated when credentials are stored).

Errors read as Docker's: ``Get "http://localhost:5999/v2/": dial tcp 127.0.0.1:5999:
connect: connection refused``; an API error body becomes ``<code in words>: <message>``.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading

from dockerlab.engine.registry import http11
from dockerlab.errors import DockerlabError

TYPE_CHECKING = False  # typing, queue, urllib, ipaddress: off an up-to-date pull's start
if TYPE_CHECKING:
    import queue
    from collections.abc import Callable, Iterator
    from typing import Any

DOCKER_HUB = "docker.io"
HUB_HOST = "registry-1.docker.io"
USER_AGENT = "dockerlab (like docker/20.10)"
CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 120.0
TLS_HANDSHAKE_TIMEOUT = 10.0  # Go's http.Transport default, as Docker's
MAX_MANIFEST = 4 << 20  # moby's maxManifestBodySize
MAX_JSON_BODY = 1 << 20  # error bodies, tokens, catalogs: read no more than this


class RegistryError(DockerlabError):
    """A registry refused or could not be reached; ``str()`` is Docker's text."""


class Unauthorized(RegistryError):
    pass


class NotFoundError(RegistryError):
    """The registry answered 404 (manifest unknown, blob unknown, name unknown)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


# ---- settings ---------------------------------------------------------------------------


class Settings:
    """Mirrors for Docker Hub, insecure registries, the certs.d folders."""

    def __init__(
        self,
        mirrors: list[str] | None = None,
        insecure: list[str] | None = None,
        certs_dirs: list[str] | None = None,
    ) -> None:
        self.mirrors = mirrors or []
        self.insecure = insecure or []
        self.certs_dirs = certs_dirs or ["/etc/docker/certs.d"]
        self._insecure: dict[str, bool] = {}
        # credentials a caller gave for this one operation (the API's X-Registry-Auth), by
        # credentials key; they come before the stored ones
        self.auth: dict[str, tuple[str, str]] = {}

    @classmethod
    def load(cls, root: str | None = None) -> Settings:
        mirrors: list[str] = []
        insecure: list[str] = []
        certs: list[str] = []
        if root:
            try:
                with open(os.path.join(root, "registries.json"), encoding="utf-8") as f:
                    data = json.load(f)
                if isinstance(data, dict):
                    mirrors += [str(m) for m in data.get("registry-mirrors") or []]
                    insecure += [str(m) for m in data.get("insecure-registries") or []]
                    certs += [str(m) for m in data.get("certs-dirs") or []]
            except (OSError, ValueError):
                pass
        env = os.environ.get("DOCKERLAB_MIRROR", "")
        mirrors = [m.strip() for m in env.split(",") if m.strip()] + mirrors
        env = os.environ.get("DOCKERLAB_INSECURE_REGISTRIES", "")
        insecure += [m.strip() for m in env.split(",") if m.strip()]
        if os.environ.get("DOCKERLAB_CERTS_D"):
            certs.insert(0, os.environ["DOCKERLAB_CERTS_D"])
        return cls(mirrors, insecure, certs + ["/etc/docker/certs.d"])

    def is_insecure(self, netloc: str) -> bool:
        """Docker's ``isSecureIndex`` negated: listed, or resolving into a loopback or a
        listed network (resolved once per registry)."""
        if netloc not in self._insecure:
            self._insecure[netloc] = self._is_insecure(netloc)
        return self._insecure[netloc]

    def _is_insecure(self, netloc: str) -> bool:
        if netloc in self.insecure:
            return True
        host = _split_netloc(netloc)[0]
        try:
            infos = socket.getaddrinfo(_host(host), None, type=socket.SOCK_STREAM)
            addrs = {a[4][0] for a in infos}
        except (OSError, UnicodeError):
            return False
        if any(str(a).startswith("127.") or a == "::1" for a in addrs):
            return True  # loopback, the common case: without ipaddress (a millisecond)
        import ipaddress

        nets = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
        for item in self.insecure:
            try:
                nets.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                continue
        for addr in addrs:
            try:
                ip = ipaddress.ip_address(str(addr).split("%", 1)[0])
            except ValueError:
                continue
            if any(ip.version == n.version and ip in n for n in nets):
                return True
        return False


def _host(host: str) -> str | bytes:
    """``host`` for getaddrinfo: an ASCII name as bytes (a str is encoded with the ``idna``
    codec, whose import costs ~1.5 ms), any other as it is."""
    return host.encode() if host.isascii() else host


def _split_netloc(netloc: str) -> tuple[str, int | None]:
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = netloc.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return netloc, None


def mirror_netloc(mirror: str) -> tuple[str, str]:
    """``http://127.0.0.1:5000/`` or ``127.0.0.1:5000`` → (scheme or "", netloc)."""
    if "://" in mirror:
        import urllib.parse

        u = urllib.parse.urlsplit(mirror)
        return u.scheme, u.netloc
    return "", mirror.strip("/")


# ---- the WWW-Authenticate header ------------------------------------------------------


def parse_challenges(header: str) -> list[tuple[str, dict[str, str]]]:
    """``Bearer realm="https://a/token",service="reg",scope="repository:x:pull"`` →
    ``[("bearer", {"realm": …, "service": …, "scope": …})]`` (several challenges too;
    quoted values may hold commas and escaped quotes)."""
    out: list[tuple[str, dict[str, str]]] = []
    i, n = 0, len(header)
    while i < n:
        while i < n and header[i] in " ,":
            i += 1
        j = i
        while j < n and header[j] not in " ,=":
            j += 1
        token = header[i:j]
        if not token:
            break
        if j < n and header[j] == "=":  # a parameter of the current challenge
            if not out:
                return out
            value, i = _param_value(header, j + 1)
            out[-1][1][token.lower()] = value
            continue
        out.append((token.lower(), {}))
        i = j
    return out


def _param_value(s: str, i: int) -> tuple[str, int]:
    if i < len(s) and s[i] == '"':
        buf = []
        i += 1
        while i < len(s) and s[i] != '"':
            if s[i] == "\\" and i + 1 < len(s):
                i += 1
            buf.append(s[i])
            i += 1
        return "".join(buf), i + 1
    j = i
    while j < len(s) and s[j] not in ", ":
        j += 1
    return s[i:j], j


# ---- errors in Docker's words -------------------------------------------------------------


def _resolver() -> str:
    try:
        with open("/etc/resolv.conf", encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    host = parts[1]
                    return f"[{host}]:53" if ":" in host else f"{host}:53"
    except OSError:
        pass
    return "127.0.0.1:53"


def api_error(status: int, body: bytes) -> tuple[str, str]:
    """(code, Docker's text) of an error response: ``manifest unknown: manifest unknown``."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = None
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        texts = []
        for e in errors:
            if not isinstance(e, dict):
                continue
            code = str(e.get("code") or "UNKNOWN")
            texts.append(f"{code.lower().replace('_', ' ')}: {e.get('message') or ''}")
        code = str(errors[0].get("code") or "")
        if len(texts) == 1:
            return code, texts[0]
        return code, "errors:\n" + "\n".join(texts)
    if isinstance(data, dict) and isinstance(data.get("details"), str):
        return "UNAUTHORIZED", f"unauthorized: {data['details']}"
    if status == 401:
        return "UNAUTHORIZED", "unauthorized: authentication required"
    if status == 403:
        return "DENIED", "denied: requested access to the resource is denied"
    text = body.decode(errors="replace").strip()[:200]
    return "", f"received unexpected HTTP status: {status} {_reason(status)}" + (
        f" ({text})" if text and status >= 500 else ""
    )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


# ---- connections --------------------------------------------------------------------------


# a kept-alive connection's key: (scheme, netloc, verified, certs.d folders)
_Key = tuple[str, str, bool, tuple[str, ...]]


class Response:
    """A response being read: ``status``, ``headers`` (lower-case names), ``read(n)``."""

    def __init__(
        self,
        resp: http11.Response,
        conn: http11.Connection,
        pool: _Pool,
        key: _Key,
        url: str,
    ) -> None:
        self.resp, self.conn, self.pool, self.key, self.url = resp, conn, pool, key, url
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.getheaders()}

    def read(self, n: int = -1) -> bytes:
        return self.resp.read(n) if n >= 0 else self.resp.read()

    def read_limited(self, limit: int) -> bytes:
        data = self.resp.read(limit + 1)
        if len(data) > limit:
            self.close(reuse=False)
            raise RegistryError(f"{self.url}: response larger than {limit} bytes")
        return data

    def close(self, reuse: bool = True) -> None:
        if reuse and self.resp.isclosed():
            self.pool.give(self.key, self.conn)
        else:
            self.conn.close()
        self.resp.close()


class _Pool(threading.local):
    """One kept-alive connection per (scheme, netloc), per thread."""

    def __init__(self) -> None:
        self.conns: dict[_Key, http11.Connection] = {}

    def take(self, key: _Key) -> http11.Connection | None:
        return self.conns.pop(key, None)

    def give(self, key: _Key, conn: http11.Connection) -> None:
        old = self.conns.pop(key, None)
        if old is not None:
            old.close()
        self.conns[key] = conn


_POOL = _Pool()
_SCHEMES: dict[str, str] = {}  # netloc → the scheme that answered (for insecure registries)


def _dial(host: str, port: int) -> socket.socket:
    """A connected socket, failures in Go's words (``dial tcp …: connect: …``)."""
    try:
        infos = socket.getaddrinfo(_host(host), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise _DialError(f"dial tcp: lookup {host} on {_resolver()}: no such host") from None
    last: OSError | None = None
    addr = ""
    for family, kind, proto, _, sockaddr in infos:
        addr = f"[{sockaddr[0]}]:{port}" if family == socket.AF_INET6 else f"{sockaddr[0]}:{port}"
        s = socket.socket(family, kind, proto)
        s.settimeout(CONNECT_TIMEOUT)
        try:
            s.connect(sockaddr)
        except OSError as exc:
            s.close()
            last = exc
            continue
        s.settimeout(READ_TIMEOUT)
        return s
    reason = (
        "i/o timeout"
        if isinstance(last, TimeoutError)
        else (os.strerror(last.errno).lower() if last is not None and last.errno else str(last))
    )
    raise _DialError(f"dial tcp {addr}: connect: {reason}")


class _DialError(Exception):
    pass


class _Conn(http11.Connection):
    def connect(self) -> None:
        self.sock = _dial(self.host, self.port)


class _TLSConn(http11.Connection):
    default_port = 443

    def __init__(self, host: str, port: int, context: ssl.SSLContext) -> None:
        super().__init__(host, port)
        self._context = context

    def connect(self) -> None:
        sock = _dial(self.host, self.port)
        sock.settimeout(TLS_HANDSHAKE_TIMEOUT)
        try:
            # bytes: an ASCII name is not passed through the idna codec (its import)
            name = _host(self.host)
            self.sock = self._context.wrap_socket(sock, server_hostname=name)
        except BaseException:
            sock.close()
            raise
        self.sock.settimeout(READ_TIMEOUT)


def _tls_context(netloc: str, verify: bool, settings: Settings) -> ssl.SSLContext:
    if verify:
        ctx = ssl.create_default_context()
    else:  # the system's CAs are not loaded to be ignored (that costs ~17 ms)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    for base in settings.certs_dirs:
        folder = os.path.join(base, netloc)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if name.endswith(".crt") and verify:
                ctx.load_verify_locations(cafile=path)
            elif name.endswith(".cert"):
                key = path[: -len(".cert")] + ".key"
                if os.path.exists(key):
                    ctx.load_cert_chain(path, key)
        break
    return ctx


# ---- a client for one repository ---------------------------------------------------------


class Client:
    """Requests to one repository (``path``) of one registry (``netloc``), authorised for
    ``actions`` (``pull`` or ``push,pull``)."""

    def __init__(
        self,
        netloc: str,
        path: str,
        actions: str = "pull",
        settings: Settings | None = None,
        scheme: str = "",
        creds_domain: str = "",
        creds: tuple[str, str] | None | bool = False,
    ) -> None:
        self.settings = settings or Settings()
        self.netloc = netloc
        self.path = path
        self.actions = actions
        self.scheme = scheme  # forced (a mirror given with its scheme) or "" (Docker's rules)
        self.creds_domain = creds_domain or netloc
        self._creds = creds  # False: not looked up yet
        self.challenge: tuple[str, dict[str, str]] | None = None
        self.tokens: dict[str, str] = {}
        self._pinged = False
        self._lock = threading.Lock()

    # ---- credentials and auth -----------------------------------------------------------
    @property
    def creds(self) -> tuple[str, str] | None:
        if self._creds is False and self.creds_domain in self.settings.auth:
            self._creds = self.settings.auth[self.creds_domain]
        if self._creds is False:
            from dockerlab.engine.registry import credentials

            self._creds = credentials.get(self.creds_domain)
        return self._creds if isinstance(self._creds, tuple) else None

    def base(self, scheme: str | None = None) -> str:
        return f"{scheme or self.scheme or 'https'}://{self.netloc}"

    def ping(self) -> None:
        """``GET /v2/``: settles the scheme and reads the auth challenge."""
        if self._pinged:
            return
        resp = self._raw("GET", "/v2/", {}, None)
        body = resp.read_limited(MAX_JSON_BODY)
        resp.close()
        if resp.status == 401:
            found = parse_challenges(resp.headers.get("www-authenticate", ""))
            usable = [c for c in found if c[0] in ("bearer", "basic")]
            self.challenge = usable[0] if usable else None
        elif resp.status >= 400 and resp.status != 404:
            # moby pings and only learns the challenge; a registry without /v2/ is not one
            raise RegistryError(f'Get "{self.base()}/v2/": {api_error(resp.status, body)[1]}')
        self._pinged = True

    def scope(self, path: str | None = None, actions: str | None = None) -> str:
        return f"repository:{path or self.path}:{actions or self.actions}"

    def _auth_header(self, scope: str, method: str, url: str) -> str:
        if self.challenge is None:
            return ""
        kind, params = self.challenge
        creds = self.creds
        if kind == "basic":
            if creds is None:
                raise Unauthorized(f'{_go_method(method)} "{url}": no basic auth credentials')
            return _basic(creds)
        with self._lock:
            token = self.tokens.get(scope)
            if token is None:
                token = self.tokens[scope] = self.fetch_token(params, scope)
        return f"Bearer {token}"

    def fetch_token(self, params: dict[str, str], scope: str, login: bool = False) -> str:
        """A Bearer token from the challenge's realm (Docker's GET token request)."""
        realm = params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise RegistryError(f"invalid realm in the auth challenge: {realm!r}")
        query: list[tuple[str, str]] = []
        creds = self.creds
        if creds is not None:
            query.append(("account", creds[0]))
        if login:
            query += [("client_id", "docker"), ("offline_token", "true")]
        if params.get("service"):
            query.append(("service", params["service"]))
        query += [("scope", s) for s in scope.split()]  # one parameter per scope, as Docker
        import urllib.parse

        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {}
        if creds is not None:
            headers["Authorization"] = _basic(creds)
        resp = self._request_url("GET", url, headers, None)
        body = resp.read_limited(MAX_JSON_BODY)
        resp.close()
        if resp.status != 200:
            if resp.status == 401 and not _has_errors(body):
                raise Unauthorized("unauthorized: incorrect username or password")
            raise Unauthorized(api_error(resp.status, body)[1])
        try:
            data = json.loads(body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise Unauthorized("unauthorized: the token server sent no token")
        return token

    # ---- requests -----------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: Any = None,
        scope: str = "",
    ) -> Response:
        """An authorised request to ``path`` (or a full URL) of this registry; a 401 from a
        Bearer registry whose challenge asks another scope is retried once with it."""
        self.ping()
        url = path if "://" in path else self.base() + path
        scope = scope or self.scope()
        for attempt in (0, 1):
            hdrs = dict(headers or {})
            auth = self._auth_header(scope, method, url)
            if auth:
                hdrs["Authorization"] = auth
            resp = self._request_url(method, url, hdrs, body)
            if resp.status != 401 or attempt or self.challenge is None:
                return resp
            if (
                self.challenge[0] != "bearer"
                or not hasattr(body, "seek")
                and body is not None
                and not isinstance(body, bytes)
            ):
                return resp
            found = dict(parse_challenges(resp.headers.get("www-authenticate", "")))
            wanted = (found.get("bearer") or {}).get("scope", "")
            if not wanted or wanted == scope:
                return resp
            resp.read_limited(MAX_JSON_BODY)
            resp.close()
            scope = wanted
        return resp

    def _raw(self, method: str, path: str, headers: dict[str, str], body: Any) -> Response:
        """A request settling the scheme: an insecure registry is tried over HTTPS without
        verification, then over HTTP (the error then shows the HTTP attempt, as Docker's)."""
        if self.scheme:
            return self._request_url(method, self.base() + path, headers, body)
        known = _SCHEMES.get(self.netloc)
        if known:
            self.scheme = known
            return self._request_url(method, self.base() + path, headers, body)
        insecure = self.settings.is_insecure(self.netloc)
        if not insecure:
            self.scheme = "https"
            return self._request_url(method, self.base() + path, headers, body)
        try:
            resp = self._request_url(
                method, self.base("https") + path, headers, body, verify=False, fallback=True
            )
            if resp.status == 400 and "docker-distribution-api-version" not in resp.headers:
                resp.close(reuse=False)  # a plain-HTTP server answering a ClientHello
                raise _TLSFailed()
            self.scheme = "https"
        except _TLSFailed:
            self.scheme = "http"
            resp = self._request_url(method, self.base("http") + path, headers, body)
        _SCHEMES[self.netloc] = self.scheme
        return resp

    def _request_url(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Any,
        verify: bool | None = None,
        fallback: bool = False,
        redirects: int = 5,
    ) -> Response:
        scheme, netloc, target = _split_url(url)
        if scheme == "https" and verify is None:
            verify = not self.settings.is_insecure(netloc)
        # a kept-alive connection serves only requests made with the same trust
        key = (scheme, netloc, bool(verify), tuple(self.settings.certs_dirs))
        hdrs = {"User-Agent": USER_AGENT, **headers}
        if body is None and method in ("PUT", "POST", "PATCH"):
            hdrs.setdefault("Content-Length", "0")
        conn: http11.Connection | None = None
        for attempt in (0, 1):
            conn = _POOL.take(key) if attempt == 0 else None
            # a kept-alive connection the server had closed is retried once, with a body
            # that can be sent again
            reused = conn is not None and (body is None or isinstance(body, bytes))
            if conn is None:
                conn = self._new_conn(scheme, netloc, verify)
            try:
                conn.request(method, target or "/", body=body, headers=hdrs)
                resp = conn.getresponse()
            except _DialError as exc:
                conn.close()
                if fallback:
                    raise _TLSFailed() from None
                raise RegistryError(f'{_go_method(method)} "{url}": {exc}') from None
            except (
                ssl.SSLError,
                ConnectionResetError,
                http11.BadStatusLine,
                TimeoutError,
            ) as exc:
                conn.close()
                if reused and not isinstance(exc, ssl.SSLError):
                    continue
                if fallback:
                    raise _TLSFailed() from None
                raise RegistryError(f'{_go_method(method)} "{url}": {_tls_words(exc)}') from None
            except (OSError, http11.HTTPException) as exc:
                conn.close()
                if reused:
                    continue
                raise RegistryError(f'{_go_method(method)} "{url}": {_words(exc)}') from None
            break
        assert conn is not None
        out = Response(resp, conn, _POOL, key, url)
        if out.status in (301, 302, 303, 307, 308) and method in ("GET", "HEAD") and redirects:
            location = out.headers.get("location", "")
            out.read_limited(MAX_JSON_BODY)
            out.close()
            import urllib.parse

            new = urllib.parse.urljoin(url, location)
            same = _split_url(new)[1] == netloc
            # the registry's credentials never go to a storage backend's host
            kept = {k: v for k, v in headers.items() if same or k.lower() != "authorization"}
            return self._request_url(method, new, kept, None, verify, False, redirects - 1)
        return out

    def _new_conn(self, scheme: str, netloc: str, verify: bool | None) -> http11.Connection:
        host, port = _split_netloc(netloc)
        if scheme == "https":
            ctx = _tls_context(netloc, bool(verify), self.settings)
            return _TLSConn(host, port or 443, ctx)
        return _Conn(host, port or 80)


class _TLSFailed(Exception):
    pass


def _split_url(url: str) -> tuple[str, str, str]:
    """(scheme, netloc, path and query) of an absolute URL, as ``urlsplit`` splits it."""
    scheme, _, rest = url.partition("://")
    rest = rest.split("#", 1)[0]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    netloc, target = rest[:cut], rest[cut:]
    if target.startswith("?"):
        target = "/" + target
    return scheme.lower(), netloc, target


def _basic(creds: tuple[str, str]) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()


def _has_errors(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and bool(data.get("errors") or data.get("details"))


def _go_method(method: str) -> str:
    return method[:1] + method[1:].lower()


def _words(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "net/http: timeout awaiting response headers"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    if isinstance(exc, http11.RemoteDisconnected):
        return "EOF"
    return str(exc) or type(exc).__name__


def _tls_words(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"x509: {exc.verify_message or 'certificate signed by unknown authority'}"
    if isinstance(exc, ssl.SSLError):
        return f"tls: {exc.reason or exc}".lower()
    return _words(exc)


def raise_for(resp: Response, what: str, method: str = "") -> None:
    """An error status as Docker's words (``what`` names the object for a 404)."""
    if resp.status < 400:
        return
    body = resp.read_limited(MAX_JSON_BODY) if method != "HEAD" else b""
    resp.close()
    code, text = api_error(resp.status, body)
    if resp.status == 404:
        raise NotFoundError(text if not what else f"{what}: {text}", code)
    if resp.status in (401, 403):
        raise Unauthorized(text)
    raise RegistryError(text)


def progress(
    events: queue.Queue[tuple[str, Any]], status: str, short: str, step: int
) -> Callable[[int, int], None]:
    """A transfer's ``tick(done, total)``: a ``status`` progress message for layer ``short``
    every ``step`` bytes, and at the end (Docker's ``Downloading``/``Pushing`` lines)."""
    last = [0]

    def tick(done: int, total: int) -> None:
        if done - last[0] >= step or done == total:
            last[0] = done
            detail = {"current": done, "total": total}
            events.put(("msg", {"status": status, "id": short, "progressDetail": detail}))

    return tick


def drain(
    threads: list[threading.Thread],
    events: queue.Queue[tuple[str, Any]],
    count: int,
    cancel: threading.Event,
    what: str,
) -> Iterator[Any]:
    """Start the transfer ``threads`` and yield their progress messages until ``count`` of
    them said ``done``; the first ``error`` is raised; the rest are cancelled and joined
    whatever happens (pull's and push's parallel layers)."""
    from queue import Empty

    for t in threads:
        t.start()
    done = 0
    try:
        while done < count:
            try:
                kind, value = events.get(timeout=0.5)
            except Empty:
                if not any(t.is_alive() for t in threads) and events.empty():
                    raise RegistryError(f"a layer {what} stopped") from None
                continue
            if kind == "error":
                raise value
            if kind == "done":
                done += 1
            else:
                yield value
    finally:
        cancel.set()
        for t in threads:
            t.join(timeout=5)
