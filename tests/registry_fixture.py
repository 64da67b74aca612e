"""Real registries for the tests: Debian's ``docker-registry`` (Distribution 2.8) on a free
loopback port with its storage in a temp folder, run by the lab registry's own code
(``dockerlab registry start``'s) — plain, with htpasswd users, over HTTPS, or trusting a small
token server (a Python ``http.server`` in a thread signing JWTs with a key made by the
``openssl`` CLI) for the Bearer flow.

    from registry_fixture import Registry, registry, auth_registry, token_registry
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from typing import Any

import pytest

from dockerlab.engine.paths import Paths
from dockerlab.engine.registry import lab
from dockerlab.errors import Conflict

USER, PASSWORD = "labuser", "labpass"


def _self_signed(cert: str, key: str, subject: str, *extra: str) -> None:
    """A self-signed RSA certificate (``openssl req -x509``), valid two days."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key]
        + ["-out", cert, "-days", "2", "-subj", subject, *extra],
        capture_output=True,
        check=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Registry:
    """A running ``docker-registry``, started and stopped by the lab registry's code
    (dockerlab.engine.registry.lab) in a state root of its own: ``addr``
    (``127.0.0.1:PORT``), ``storage`` (its filesystem root), ``log``, ``stop()``."""

    def __init__(self, folder: str, auth: str = "", token: Any = None, tls: bool = False) -> None:
        if not os.access(lab.binary(), os.X_OK):
            pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
        self.lab = lab.LabRegistry(Paths.of(folder))
        self.folder, self.storage = self.lab.folder, self.lab.storage
        options: dict[str, Any] = {}
        if auth == "htpasswd":
            if shutil.which("htpasswd") is None:
                pytest.skip("htpasswd is not installed (apt-get install apache2-utils)")
            options["users"] = [f"{USER}:{PASSWORD}"]
        elif auth == "token":
            options["token"] = {
                "realm": token.realm,
                "service": "lab-registry",
                "issuer": "lab-issuer",
                "rootcertbundle": token.cert,
            }
        if tls:  # a self-signed certificate for 127.0.0.1 (ca.crt is the certificate itself)
            os.makedirs(folder, exist_ok=True)
            self.cert = os.path.join(folder, "ca.crt")
            key = os.path.join(folder, "key.pem")
            san = "subjectAltName=IP:127.0.0.1,DNS:localhost"
            _self_signed(self.cert, key, "/CN=127.0.0.1", "-addext", san)
            options["tls"] = (self.cert, key)
        for _ in range(5):  # a free port another process may take before the registry does
            try:
                self.addr = self.lab.start(port=_free_port(), **options)["Address"]
                break
            except Conflict:
                continue
        else:
            raise RuntimeError("docker-registry found no free port")

    @property
    def log(self) -> list[str]:
        with open(self.lab.log, errors="replace") as f:
            return f.read().splitlines()

    def blob_file(self, digest: str) -> str:
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")

    def stop(self) -> None:
        self.lab.stop()


# ---- the token server -------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues RS256 JWTs (signed with ``openssl dgst``) the registry trusts, to ``USER``
    with ``PASSWORD``, and anonymous ones with no access."""

    def __init__(self, folder: str) -> None:
        if shutil.which("openssl") is None:
            pytest.skip("openssl is not installed")
        self.key = os.path.join(folder, "token.key")
        self.cert = os.path.join(folder, "token.crt")
        _self_signed(self.cert, self.key, "/CN=lab-issuer")
        der = subprocess.run(
            ["openssl", "x509", "-in", self.cert, "-outform", "DER"],
            capture_output=True,
            check=True,
        ).stdout
        self.x5c = base64.b64encode(der).decode()
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                auth = self.headers.get("Authorization", "")
                user = ""
                if auth.startswith("Basic "):
                    u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                    if (u, p) != (USER, PASSWORD):
                        body = json.dumps({"details": "incorrect username or password"})
                        self.send_response(401)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body.encode())
                        return
                    user = u
                server.requests.append({"query": q, "user": user})
                token = server.issue(user, q.get("scope", ""), q.get("service", ""))
                body = json.dumps({"token": token, "access_token": token, "expires_in": 300})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def issue(self, user: str, scopes: str, service: str) -> str:
        access = []
        for scope in scopes.split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if user:  # the lab user may do anything; anonymous users nothing
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {
            "iss": "lab-issuer",
            "sub": user,
            "aud": service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": hashlib.sha256(os.urandom(8)).hexdigest(),
            "access": access,
        }
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.key],
            input=signing.encode(),
            capture_output=True,
            check=True,
        ).stdout
        return f"{signing}.{_b64(sig)}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def registry(tmp_path):
    reg = Registry(str(tmp_path / "registry"))
    yield reg
    reg.stop()


@pytest.fixture
def auth_registry(tmp_path):
    reg = Registry(str(tmp_path / "registry-auth"), auth="htpasswd")
    yield reg
    reg.stop()


@pytest.fixture
def tls_registry(tmp_path):
    reg = Registry(str(tmp_path / "registry-tls"), tls=True)
    yield reg
    reg.stop()


@pytest.fixture
def token_registry(tmp_path):
    os.makedirs(tmp_path / "tokens", exist_ok=True)
    tokens = TokenServer(str(tmp_path / "tokens"))
    reg = Registry(str(tmp_path / "registry-token"), auth="token", token=tokens)
    reg.tokens = tokens  # type: ignore[attr-defined]
    yield reg
    reg.stop()
    tokens.stop()
