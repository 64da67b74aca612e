"""The daemon's HTTP core with routes of the test's own: JSON bodies in moby's words, body
limits, a handler's exception, a client that leaves mid-stream. The server runs in this
process (its real listener on a temporary unix socket), the routes are removed afterwards."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator

import pytest
from helpers import wait_until

from dockerlab.daemon import router
from dockerlab.daemon.http import MAX_JSON_BODY, Request, Streamed, go_json_error
from dockerlab.daemon.server import Daemon

LEFT = threading.Event()  # the stream's generator ran its finally


def _echo(req: Request, api: router.Api) -> dict:
    return {"got": req.json(check_type=True)}


def _small(req: Request, api: router.Api) -> dict:
    return {"size": len(req.read_body(limit=1024))}


def _boom(req: Request, api: router.Api) -> dict:
    raise RuntimeError("boom")


def _stream(req: Request, api: router.Api) -> Streamed:
    def chunks() -> Iterator[bytes]:
        try:
            while not req.conn.gone.is_set():
                yield b'{"tick":1}\n'
                req.conn.gone.wait(0.05)
        finally:
            LEFT.set()

    return Streamed(chunks())


@pytest.fixture
def served(tmp_path):
    """A daemon in this process with the test routes; yields its socket's path."""
    yield from _serving(tmp_path)


@pytest.fixture
def quick(tmp_path):
    """The same with half a second for a request's head, and for a JSON body."""
    yield from _serving(tmp_path, header_timeout=0.5)


def _serving(tmp_path, **kw) -> Iterator[str]:
    routes = [
        router.Route("POST", "/_test/echo", _echo),
        router.Route("POST", "/_test/small", _small),
        router.Route("GET", "/_test/boom", _boom),
        router.Route("GET", "/_test/stream", _stream),
    ]
    router.ROUTES.extend(routes)
    sock = str(tmp_path / "d.sock")
    daemon = Daemon([f"unix://{sock}"], str(tmp_path / "root"), log=io.StringIO(), **kw)
    daemon.listen()
    t = threading.Thread(target=daemon.serve_forever, daemon=True)
    t.start()
    try:
        yield sock
    finally:
        daemon.stop()
        t.join(10)
        for r in routes:
            router.ROUTES.remove(r)
    assert not t.is_alive()


def _exchange(sock: str, raw: bytes) -> tuple[int, bytes]:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(sock)
        s.sendall(raw)
        out = b""
        while got := s.recv(65536):
            out += got
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _post(path: str, body: bytes, ctype: str = "application/json") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{bad", "invalid JSON: invalid character 'b' looking for beginning of object key string"),
        (b'{"Image" "x"}', "invalid JSON: invalid character '\"' after object key"),
        (b'{"a":1 "b":2}', "invalid JSON: invalid character '\"' after object key:value pair"),
        (b"[1 2]", "invalid JSON: invalid character '2' after array element"),
        (b'{"Image":', "invalid JSON: unexpected EOF"),
        (b'{"a":@}', "invalid JSON: invalid character '@' looking for beginning of value"),
        (b"{} {}", "unexpected content after JSON"),
    ],
)
def test_malformed_json_is_a_400_in_mobys_words(served, body, message):
    status, answer = _exchange(served, _post("/_test/echo", body))
    assert (status, json.loads(answer)) == (400, {"message": message})


def test_json_bodies_must_say_so_and_well_formed_ones_pass(served):
    status, answer = _exchange(served, _post("/_test/echo", b"{}", "text/plain"))
    assert status == 400
    assert json.loads(answer)["message"] == (
        "Content-Type specified (text/plain) must be 'application/json'"
    )
    status, answer = _exchange(served, _post("/_test/echo", b'{"a":[1]}'))
    assert (status, json.loads(answer)) == (200, {"got": {"a": [1]}})
    status, answer = _exchange(served, _post("/_test/echo", b"", ""))
    assert (status, json.loads(answer)) == (200, {"got": None})


def test_an_oversized_json_body_is_refused_before_it_is_sent(served):
    head = (
        "POST /_test/echo HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
        f"Content-Length: {MAX_JSON_BODY + 1}\r\n\r\n"
    )
    status, answer = _exchange(served, head.encode())  # the body never comes
    assert status == 413 and "larger than" in json.loads(answer)["message"]
    chunked = (
        b"POST /_test/small HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + b"400\r\n"
        + b"x" * 1024
        + b"\r\n"
        + b"1\r\nx\r\n0\r\n\r\n"
    )
    assert _exchange(served, chunked)[0] == 413
    fits = chunked.replace(b"1\r\nx\r\n", b"")
    assert _exchange(served, fits) == (200, b'{"size":1024}\n')


def test_a_handler_that_raises_is_a_500_and_the_daemon_serves_on(served):
    get = b"GET /_test/boom HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
    status, answer = _exchange(served, get)
    assert (status, json.loads(answer)) == (500, {"message": "RuntimeError: boom"})
    ping = b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
    assert _exchange(served, ping) == (200, b"OK")


def test_a_client_leaving_mid_stream_ends_the_handlers_generator(served):
    LEFT.clear()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(served)
        s.sendall(b"GET /_test/stream HTTP/1.1\r\nHost: d\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200 OK")
    wait_until(LEFT.is_set, what="the stream's generator to be closed")
    ping = b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
    assert _exchange(served, ping) == (200, b"OK")


def test_a_wrong_method_is_mobys_404():
    req = Request.__new__(Request)
    req.method, req.path, req.params = "DELETE", "/version", {}
    router.load_routes()
    with pytest.raises(router.HTTPError) as caught:
        router.find(req)
    assert caught.value.status == 404 and str(caught.value) == "page not found"


def test_go_json_error_quotes_characters_as_go():
    def err(raw: bytes) -> str:
        try:
            json.loads(raw)
        except ValueError as exc:
            return go_json_error(raw, exc)
        raise AssertionError("valid JSON")

    assert err(b"{'a':1}") == (
        "invalid JSON: invalid character '\\'' looking for beginning of object key string"
    )
    assert err(b'{"a":"\n"}') == "invalid JSON: invalid character '\\n' in string literal"
    assert err(b'{"a":"\\q"}') == "invalid JSON: invalid character 'q' in string escape code"
    assert err(b'["x]", 1 2]') == "invalid JSON: invalid character '2' after array element"


def test_the_daemon_imports_no_slow_module(tmp_path):
    """What a daemon has imported once it serves (its handlers and the engine): none of the
    slow modules (each request would not pay for them, but the start would)."""
    import subprocess
    import sys

    code = (
        "import sys, io; from dockerlab.daemon.server import Daemon; "
        f"Daemon(['unix://{tmp_path}/d.sock'], {str(tmp_path)!r}, log=io.StringIO()); "
        "print(','.join(m for m in ('pyroute2', 'pandas', 'IPython', 'ipywidgets', 'numpy', "
        "'asyncio', 'requests') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert out == ""


def test_a_json_body_trickling_in_is_cut_off(quick):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(quick)
        s.settimeout(0.05)
        s.sendall(
            b"POST /_test/echo HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )

        def trickle() -> bool:
            try:
                s.sendall(b" ")
                return s.recv(65536) == b""
            except TimeoutError:
                return False
            except (BrokenPipeError, ConnectionResetError):
                return True

        wait_until(trickle, interval=0.05, what="the daemon to cut off the slow body")
    ping = b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
    assert _exchange(quick, ping) == (200, b"OK")
