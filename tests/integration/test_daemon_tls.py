"""``dockerlab daemon`` over TCP with TLS, as dockerd's flags: ``--tlsverify`` (clients need a
certificate from ``--tlscacert``) is what lets it listen on an address other than loopback;
``--tls`` alone encrypts without asking clients for one. Certificates are made with the
openssl command, a CA signing a server and a client certificate."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys

import pytest
from daemon_fixture import DOCKER_CLIS, Daemon
from helpers import wait_until

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """ca.pem; server-cert.pem/server-key.pem (for 127.0.0.1 and localhost);
    cert.pem/key.pem for a client (the names docker's ``--tlsverify`` looks for)."""
    d = str(tmp_path_factory.mktemp("tls"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=dockerlab test CA", cwd=d)  # fmt: skip
    for who, ext in (
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        with open(os.path.join(d, f"{who}.ext"), "w") as f:
            f.write(ext)
        _openssl("req", *ec, "-keyout", f"{who}-key.pem", "-out", f"{who}.csr",
                 "-subj", f"/CN={who}", cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                 "-CAcreateserial", "-out", f"{who}-cert.pem", "-days", "2",
                 "-extfile", f"{who}.ext", cwd=d)  # fmt: skip
    os.rename(os.path.join(d, "client-cert.pem"), os.path.join(d, "cert.pem"))
    os.rename(os.path.join(d, "client-key.pem"), os.path.join(d, "key.pem"))
    return d


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int, ctx: ssl.SSLContext) -> bytes:
    """One GET /_ping over TLS: the answer, or b"" when the daemon would not talk."""
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        with raw, ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            out = b""
            while got := s.recv(65536):
                out += got
            return out
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return b""


def _client_ctx(certs: str, with_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    if with_cert:
        ctx.load_cert_chain(os.path.join(certs, "cert.pem"), os.path.join(certs, "key.pem"))
    return ctx


@pytest.fixture
def tls_daemon(engine, tmp_path, certs):
    """Listening on every address (not only loopback) with --tlsverify; yields (daemon, port)."""
    port = _port()
    d = Daemon(
        engine.paths.root, str(tmp_path), "-H", f"tcp://0.0.0.0:{port}", "--tlsverify",
        "--tlscacert", os.path.join(certs, "ca.pem"),
        "--tlscert", os.path.join(certs, "server-cert.pem"),
        "--tlskey", os.path.join(certs, "server-key.pem"),
    )  # fmt: skip
    yield d, port
    d.stop()


def test_tlsverify_serves_a_client_with_a_certificate(tls_daemon, certs):
    d, port = tls_daemon
    # the daemon is up (its socket answers); each listener's line is logged as it opens
    wait_until(lambda: "API listen on tcp://0.0.0.0:" in d.log(), what="the TCP listener's line")
    got = _ping(port, _client_ctx(certs, with_cert=True))
    assert got.startswith(b"HTTP/1.1 200 OK") and got.endswith(b"OK")


def test_tlsverify_refuses_a_client_without_one(tls_daemon, certs):
    d, port = tls_daemon
    assert _ping(port, _client_ctx(certs, with_cert=False)) == b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:  # plain HTTP
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        try:
            assert not s.recv(65536).startswith(b"HTTP/1.1 200")
        except ConnectionResetError:
            pass
    assert _ping(port, _client_ctx(certs, with_cert=True)).startswith(b"HTTP/1.1 200 OK")
    assert "Traceback" not in d.log()


def test_docker_py_with_a_tls_config(tls_daemon, certs, monkeypatch):
    docker = pytest.importorskip("docker")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests prefers them to ca_cert
        monkeypatch.delenv(name, raising=False)
    d, port = tls_daemon
    tls = docker.tls.TLSConfig(
        client_cert=(os.path.join(certs, "cert.pem"), os.path.join(certs, "key.pem")),
        ca_cert=os.path.join(certs, "ca.pem"),
        verify=True,
    )
    client = docker.APIClient(base_url=f"https://127.0.0.1:{port}", tls=tls, version="auto")
    try:
        assert client.version()["ApiVersion"] == "1.44"
    finally:
        client.close()


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_the_docker_cli_with_tlsverify(tls_daemon, certs, exe):
    d, port = tls_daemon
    env = {**os.environ, "DOCKER_CONFIG": str(certs), "DOCKER_CERT_PATH": certs}
    env.pop("DOCKER_HOST", None)
    env.pop("DOCKER_CONTEXT", None)
    done = subprocess.run(
        [exe, "--tlsverify", "-H", f"tcp://127.0.0.1:{port}", "version", "--format",
         "{{.Server.Os}}"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "linux"


def test_tls_without_verify_encrypts_on_loopback_only(engine, tmp_path, certs):
    files = [
        "--tls",
        "--tlscert", os.path.join(certs, "server-cert.pem"),
        "--tlskey", os.path.join(certs, "server-key.pem"),
    ]  # fmt: skip
    port = _port()
    d = Daemon(engine.paths.root, str(tmp_path), "-H", f"tcp://127.0.0.1:{port}", *files)
    try:  # no client certificate asked for
        got = _ping(port, _client_ctx(certs, with_cert=False))
        assert got.startswith(b"HTTP/1.1 200 OK")
    finally:
        d.stop()
    done = subprocess.run(
        [sys.executable, "-m", "dockerlab", "--root", engine.paths.root, "daemon",
         "-H", f"tcp://0.0.0.0:{_port()}", *files],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "without --tlsverify" in done.stderr


def test_a_handshake_trickling_in_is_cut_off(engine, tmp_path, certs, monkeypatch):
    """A client sending its TLS hello a byte at a time (each within any socket timeout)
    would hold a thread forever: the handshake has the request head's deadline (1 s here)."""
    monkeypatch.setenv("DOCKERLAB_DAEMON_HEADER_TIMEOUT", "1")
    port = _port()
    d = Daemon(
        engine.paths.root, str(tmp_path), "-H", f"tcp://127.0.0.1:{port}", "--tlsverify",
        "--tlscacert", os.path.join(certs, "ca.pem"),
        "--tlscert", os.path.join(certs, "server-cert.pem"),
        "--tlskey", os.path.join(certs, "server-key.pem"),
    )  # fmt: skip
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.settimeout(0.05)
            s.sendall(b"\x16\x03\x01\x3e\x80")  # a handshake record of 16000 bytes to come

            def trickle() -> bool:
                try:
                    s.sendall(b"\x00")
                    return s.recv(65536) == b""
                except TimeoutError:
                    return False
                except (BrokenPipeError, ConnectionResetError):
                    return True

            wait_until(trickle, interval=0.05, what="the daemon to cut off the slow handshake")
        got = _ping(port, _client_ctx(certs, with_cert=True))
        assert got.startswith(b"HTTP/1.1 200 OK")
    finally:
        d.stop()
