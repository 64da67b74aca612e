"""The lab registry: Debian's ``docker-registry`` (Distribution 2.8) run on loopback.

``dockerlab registry start|stop|status`` (dockerlab's own command) runs a real registry for
the course's ``pull``/``push``/``login`` lessons, with its storage under the state root::

    $DOCKERLAB_ROOT/registry/
    ├── config.yml      generated on each start (mode 0600: it holds the upload secret)
    ├── htpasswd        bcrypt entries made with ``htpasswd -B`` for ``--user`` (optional)
    ├── data/           the filesystem driver's root (docker/registry/v2/…)
    ├── registry.pid    the running registry's pid; registry.json what it was started with
    ├── registry.log    its stdout and stderr
    └── lock            flock held while starting or stopping

A pid file outlives its process (a reboot, a kill -9), and the pid may then belong to another
program: a pid counts as the registry only while ``/proc/PID/cmdline`` is
``docker-registry serve <our config>``.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

from dockerlab.engine import atomic
from dockerlab.engine.paths import Paths
from dockerlab.errors import Conflict, InvalidParameter, NotFound, SystemFailure

BINARY = "/usr/bin/docker-registry"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
REALM = "Registry Realm"
READY_TIMEOUT = 15.0  # seconds; it is ready in 10-20 ms on these machines
STOP_TIMEOUT = 10.0
MIRROR_ENV = "DOCKERLAB_MIRROR"
_BCRYPT = ("$2y$", "$2b$", "$2a$")


def binary() -> str:
    """The registry executable (``DOCKERLAB_REGISTRY_BINARY`` overrides, for tests)."""
    return os.environ.get("DOCKERLAB_REGISTRY_BINARY") or BINARY


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a YAML double-quoted scalar


def render_config(
    addr: str,
    storage: str,
    secret: str,
    htpasswd: str | None = None,
    realm: str = REALM,
    token: dict[str, str] | None = None,
    tls: tuple[str, str] | None = None,
) -> str:
    """The registry's ``config.yml``: filesystem storage, deletes allowed (``DELETE`` of
    manifests and blobs answers 405 otherwise), the HTTP address, and htpasswd auth when
    ``htpasswd`` names a file (Distribution 2.8 serves it over plain HTTP). ``token``: trust a
    token server instead (Distribution's ``auth.token``: realm, service, issuer,
    rootcertbundle); ``tls``: HTTPS with this (certificate, key)."""
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "  formatter: text",
        "  fields:",
        "    service: registry",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {_yaml_str(storage)}",
        "  delete:",
        "    enabled: true",
        "  cache:",
        "    blobdescriptor: inmemory",
        "http:",
        f"  addr: {_yaml_str(addr)}",
        f"  secret: {_yaml_str(secret)}",
        "  headers:",
        "    X-Content-Type-Options: [nosniff]",
    ]
    if tls:
        lines += [
            "  tls:",
            f"    certificate: {_yaml_str(tls[0])}",
            f"    key: {_yaml_str(tls[1])}",
        ]
    if htpasswd:
        lines += [
            "auth:",
            "  htpasswd:",
            f"    realm: {_yaml_str(realm)}",
            f"    path: {_yaml_str(htpasswd)}",
        ]
    elif token:
        lines += ["auth:", "  token:", *(f"    {k}: {_yaml_str(v)}" for k, v in token.items())]
    return "\n".join(lines) + "\n"


def parse_user(value: str) -> tuple[str, str]:
    """``NAME:PASSWORD`` of ``--user``."""
    name, sep, password = value.partition(":")
    if not sep or not name or not password:
        raise InvalidParameter(f"invalid user {value!r}: expected NAME:PASSWORD")
    if any(c in name for c in ": \t\n") or "\n" in password:
        raise InvalidParameter(f"invalid user name {name!r}")
    return name, password


def htpasswd_users(text: str, source: str = "htpasswd") -> list[str]:
    """The user names of an htpasswd file; only bcrypt entries count for Distribution
    (it ignores MD5/SHA lines silently), so any other entry is refused here."""
    users = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        if not sep or not name:
            raise InvalidParameter(f"{source}: malformed line {line!r}")
        if not hashed.startswith(_BCRYPT):
            raise InvalidParameter(
                f"{source}: the entry of user {name!r} is not bcrypt, which the registry "
                f"ignores: make it with `htpasswd -B {source} {name}`"
            )
        users.append(name)
    return users


def bcrypt_entry(name: str, password: str) -> str:
    """``NAME:$2y$…`` from apache2-utils' ``htpasswd -B`` (the standard library has no
    bcrypt); the password goes on stdin (``-i``), never on a command line."""
    tool = shutil.which("htpasswd")
    if tool is None:
        raise NotFound(
            "htpasswd not found: --user needs it to make bcrypt password entries; install "
            "Debian's apache2-utils (apt-get install apache2-utils)"
        )
    done = subprocess.run(
        [tool, "-B", "-n", "-i", name],
        input=password,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    entry = done.stdout.strip()
    if done.returncode != 0 or not entry.startswith(f"{name}:$2"):
        raise SystemFailure(f"htpasswd failed: {done.stderr.strip() or done.returncode}")
    return entry


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [os.fsdecode(a) for a in raw.split(b"\0") if a]


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] in (b"Z", b"X")


def _reap(pid: int) -> None:
    """Collect ``pid`` if this process started it (the notebook's case); else nothing."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def port_free(host: str, port: int) -> bool:
    """Whether a listener could bind ``host:port`` now (SO_REUSEADDR as Go's listeners, so
    a closed socket in TIME_WAIT does not count as in use)."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return False
        raise
    finally:
        probe.close()
    return True


def _port_taken(host: str, port: int) -> Conflict:
    # Docker's words when a published port is taken
    return Conflict(f"Bind for {host}:{port} failed: port is already allocated")


def probe(url: str, timeout: float = 2.0, auth: tuple[str, str] | None = None) -> int:
    """The status of ``GET url`` (urllib raises on 401: that is an answer too)."""
    request = urllib.request.Request(url)
    if auth is not None:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


class LabRegistry:
    """One state root's lab registry: start, stop, status."""

    def __init__(self, paths: Paths) -> None:
        self.folder = os.path.join(paths.root, "registry")
        self.config = os.path.join(self.folder, "config.yml")
        self.htpasswd = os.path.join(self.folder, "htpasswd")
        self.storage = os.path.join(self.folder, "data")
        self.pidfile = os.path.join(self.folder, "registry.pid")
        self.statefile = os.path.join(self.folder, "registry.json")
        self.log = os.path.join(self.folder, "registry.log")
        self.lockfile = os.path.join(self.folder, "lock")

    # ---- the pid file ---------------------------------------------------------------------
    def _pid(self) -> int | None:
        """The registry's pid if it runs: the pid file's process, still ours."""
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return None
        if pid <= 0:
            return None
        argv = _cmdline(pid)
        # a pid reused by another program, or a registry of another root, is not ours
        if len(argv) < 3 or argv[-2:] != ["serve", self.config] or _zombie(pid):
            return None
        return pid

    def _forget(self) -> None:
        for path in (self.pidfile, self.statefile):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def status(self) -> dict[str, Any]:
        """What ``registry status`` shows; ``Running`` False (and a stale pid file
        removed) when the registry is not running."""
        with atomic.locked(self._lock()):
            return self._status()

    def _status(self) -> dict[str, Any]:
        pid = self._pid()
        if pid is None:
            self._forget()
            return {"Running": False, "Storage": self.storage}
        state = atomic.read_json(self.statefile) if os.path.exists(self.statefile) else {}
        addr = state.get("Address", f"{DEFAULT_HOST}:{DEFAULT_PORT}")
        users: list[str] = []
        htpasswd = state.get("Htpasswd")
        if htpasswd:
            try:
                with open(htpasswd) as f:
                    users = htpasswd_users(f.read(), htpasswd)
            except (OSError, InvalidParameter):
                users = state.get("Users", [])
        return {
            "Running": True,
            "Pid": pid,
            "Address": addr,
            "URL": f"{'https' if state.get('TLS') else 'http'}://{addr}",
            "Storage": self.storage,
            "Htpasswd": htpasswd or "",
            "Users": users,
            "Log": self.log,
            "Started": state.get("Started", ""),
            "Mirror": os.environ.get(MIRROR_ENV, ""),
        }

    def _lock(self) -> str:
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        return self.lockfile

    # ---- start ----------------------------------------------------------------------------
    def start(
        self,
        port: int = DEFAULT_PORT,
        host: str = DEFAULT_HOST,
        users: list[str] | tuple[str, ...] = (),
        htpasswd: str | None = None,
        timeout: float = READY_TIMEOUT,
        token: dict[str, str] | None = None,
        tls: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """Start the registry detached and wait until ``GET /v2/`` answers; its status.
        ``token`` and ``tls`` as :func:`render_config`'s (the tests' token server, HTTPS)."""
        exe = binary()
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            raise NotFound(
                f"the registry binary {exe} is missing: install Debian's docker-registry "
                "package (apt-get install docker-registry)"
            )
        if not 0 < port < 65536:
            raise InvalidParameter(f"invalid port {port}: expected 1-65535")
        pairs = [parse_user(u) for u in users]
        if token and (pairs or htpasswd is not None):
            raise InvalidParameter("a registry takes htpasswd users or a token server, not both")
        extra = ""
        if htpasswd is not None:
            try:
                with open(htpasswd) as f:
                    extra = f.read()
            except OSError as exc:
                raise InvalidParameter(
                    f"cannot read htpasswd file {htpasswd}: {exc.strerror}"
                ) from None
            htpasswd_users(extra, htpasswd)
        with atomic.locked(self._lock()):
            running = self._pid()
            if running is not None:
                state = self._status()
                raise Conflict(
                    f"the lab registry is already running on {state['Address']} "
                    f"(pid {running}): stop it first with `dockerlab registry stop`"
                )
            self._forget()  # a stale pid file
            if not port_free(host, port):
                raise _port_taken(host, port)
            auth_file: str | None = None
            if pairs:
                entries = [bcrypt_entry(n, p) for n, p in pairs]
                text = "".join(line + "\n" for line in extra.splitlines() if line.strip())
                atomic.write_bytes(
                    self.htpasswd,
                    (text + "\n".join(entries) + "\n").encode(),
                    mode=0o600,
                    durable=False,  # (here and below: all written anew at each start)
                )
                auth_file = self.htpasswd
            elif htpasswd is not None:
                # used in place: the registry re-reads it when it changes (`htpasswd -B`)
                auth_file = os.path.abspath(htpasswd)
            os.makedirs(self.storage, mode=0o755, exist_ok=True)
            addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            atomic.write_bytes(
                self.config,
                render_config(
                    addr, self.storage, secrets.token_hex(16), auth_file, token=token, tls=tls
                ).encode(),
                mode=0o600,
                durable=False,
            )
            pid = self._spawn(exe)
            atomic.write_json(
                self.statefile,
                {
                    "Address": addr,
                    "Htpasswd": auth_file or "",
                    "Users": self._users_of(auth_file),
                    "TLS": bool(tls),
                    "Started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                mode=0o600,
                durable=False,
            )
            atomic.write_bytes(self.pidfile, f"{pid}\n".encode(), durable=False)
            try:
                self._wait_ready(pid, host, port, addr, timeout)
            except BaseException:
                self._kill(pid)
                self._forget()
                raise
            return self._status()

    @staticmethod
    def _users_of(path: str | None) -> list[str]:
        if not path:
            return []
        with open(path) as f:
            return htpasswd_users(f.read(), path)

    def _spawn(self, exe: str) -> int:
        log = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            child = subprocess.Popen(
                [exe, "serve", self.config],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.folder,
                start_new_session=True,  # no terminal's ^C or hang-up reaches it
                close_fds=True,
            )
        finally:
            os.close(log)
        child.returncode = 0  # detached: Popen's finaliser must not wait for it
        return child.pid

    def _wait_ready(self, pid: int, host: str, port: int, addr: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.002  # it listens 10-20 ms after exec here: poll closely at first
        while True:
            _reap(pid)
            if _zombie(pid):  # (not an empty cmdline: it is empty while exec sets it up)
                _reap(pid)
                raise self._failed(host, port)
            try:
                # any answer will do: a TLS one answers plain HTTP with a 400
                probe(f"http://{addr}/v2/", timeout=1.0)
                return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemFailure(
                    f"the lab registry did not answer on {addr} within {timeout:g}s "
                    f"(see {self.log})"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    def _failed(self, host: str, port: int) -> Exception:
        try:
            with open(self.log, errors="replace") as f:
                tail = f.read()[-4000:]
        except OSError:
            tail = ""
        if "address already in use" in tail:
            return _port_taken(host, port)
        last = [line for line in tail.splitlines() if line.strip()][-3:]
        return SystemFailure(
            "the lab registry exited at start: " + (" / ".join(last) or f"see {self.log}")
        )

    # ---- stop -----------------------------------------------------------------------------
    def stop(self, timeout: float = STOP_TIMEOUT) -> dict[str, Any]:
        """Terminate the registry (SIGTERM, then SIGKILL after ``timeout``) and wait until it
        is gone; the status it had (``Running`` False if it was not running)."""
        with atomic.locked(self._lock()):
            state = self._status()
            if state["Running"]:
                self._kill(state["Pid"], timeout)
            self._forget()
            return state

    def _kill(self, pid: int, timeout: float = STOP_TIMEOUT) -> None:
        def gone() -> bool:
            _reap(pid)
            return not _cmdline(pid) or _zombie(pid)

        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, STOP_TIMEOUT)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            delay = 0.002  # it exits at once on SIGTERM
            while not gone():
                if time.monotonic() > deadline:
                    break
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
            else:
                return
        raise SystemFailure(f"the lab registry (pid {pid}) did not stop")


def mirror_hint(url: str) -> str:
    return f"export {MIRROR_ENV}={url}"
