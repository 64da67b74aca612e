"""The registry client's HTTP/1.1 (dockerlab/engine/registry/http11.py) against a real
loopback socket: framing of requests and responses, keep-alive, limits, refusals."""

from __future__ import annotations

import socket
import threading

import pytest

from dockerlab.engine.registry import http11


class _Server:
    """Accepts connections on loopback; for each request read, sends the next canned answer
    (``None``: close the connection instead; after ``Connection: close``, it closes too).
    ``requests``: the raw requests received."""

    def __init__(self, answers: list[bytes | None]) -> None:
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.accepted = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while self.answers:
            conn, _ = self.sock.accept()
            self.accepted += 1
            with conn, conn.makefile("rb") as f:
                while self.answers:
                    request = _read_request(f)
                    if request is None:
                        break
                    self.requests.append(request)
                    answer = self.answers.pop(0)
                    if answer is None:
                        break
                    conn.sendall(answer)
                    if b"Connection: close" in answer or answer.startswith(b"HTTP/1.0"):
                        break

    def conn(self) -> http11.Connection:
        port = self.port

        class Conn(http11.Connection):
            def connect(self) -> None:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)

        return Conn("127.0.0.1", port)


def _read_request(f) -> bytes | None:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = f.readline()
        if not line:
            return None
        head += line
    body = b""
    lower = head.lower()
    if b"content-length:" in lower:
        n = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
        body = f.read(n)
    elif b"transfer-encoding: chunked" in lower:
        while True:  # kept as sent
            line = f.readline()
            size = int(line.strip(), 16)
            body += line + f.read(size + 2)
            if size == 0:
                break
    return head + body


def test_keep_alive_content_length_and_request_framing():
    server = _Server(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDocker-Content-Digest: d\r\n\r\nhello",
            b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok",
        ]
    )
    c = server.conn()
    c.request("GET", "/v2/", headers={"Accept": "a, b"})
    r = c.getresponse()
    assert (r.status, r.reason) == (200, "OK")
    assert ("Docker-Content-Digest", "d") in r.getheaders()
    assert (r.read(2), r.isclosed(), r.read(), r.isclosed()) == (b"he", False, b"llo", True)
    c.request("PUT", "/m", body=b"{}")
    r = c.getresponse()
    assert (r.status, r.isclosed(), r.read()) == (201, True, b"")
    c.request("PATCH", "/u", body=iter([b"ab", b"", b"cde"]))
    assert c.getresponse().read() == b"ok"
    assert server.accepted == 1  # one connection, kept alive
    first, put, patch = server.requests
    assert first.startswith(b"GET /v2/ HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in first
    assert b"Accept: a, b\r\n" in first
    assert put.endswith(b"Content-Length: 2\r\n\r\n{}")
    assert b"Transfer-Encoding: chunked\r\n" in patch
    assert patch.endswith(b"\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n")


def test_chunked_until_close_head_and_continue():
    server = _Server(
        [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",  # to a HEAD: no body
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx",
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",  # then it closes
        ]
    )
    c = server.conn()
    c.request("GET", "/chunked")
    r = c.getresponse()
    assert [r.read(3), r.read(3), r.read()] == [b"wik", b"ipe", b"dia"]
    assert r.isclosed()
    c.request("HEAD", "/m")
    r = c.getresponse()
    assert (r.status, r.isclosed(), r.read()) == (200, True, b"")
    c.request("GET", "/continue")
    r = c.getresponse()
    assert (r.status, r.reason, r.read()) == (404, "Not Found", b"x")
    c.request("GET", "/close")
    r = c.getresponse()
    assert r.read() == b"until the end" and r.isclosed()
    assert c.sock is None  # the server said close: the next request connects again
    c.request("GET", "/http10")
    r = c.getresponse()
    assert (r.read(), r.isclosed(), c.sock) == (b"ok", True, None)
    assert server.accepted == 2


def test_truncated_bodies_and_a_closed_connection():
    server = _Server(
        [
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc",
            None,
        ]
    )
    c = server.conn()
    c.request("GET", "/a")
    with pytest.raises(http11.IncompleteRead):
        c.getresponse().read()
    assert c.sock is None
    c.request("GET", "/negative-chunk")
    with pytest.raises(http11.IncompleteRead):
        c.getresponse().read()
    assert c.sock is None
    c.request("GET", "/b")  # a new connection; the server closes it without an answer
    with pytest.raises(http11.RemoteDisconnected) as exc:
        c.getresponse()
    assert isinstance(exc.value, ConnectionResetError)  # retried on a kept-alive connection


def test_limits_and_refusals():
    many = b"".join(b"X-%d: y\r\n" % i for i in range(101))
    server = _Server(
        [
            b"HTTP/1.1 200 OK\r\n" + many + b"\r\n",
            b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n",
            b"SSH-2.0-OpenSSH\r\n\r\n",
        ]
    )
    for expected in (http11.HTTPException, http11.LineTooLong, http11.BadStatusLine):
        c = server.conn()
        c.request("GET", "/")
        with pytest.raises(expected):
            c.getresponse()
        c.close()
    c = server.conn()
    # a token or Location from a server must not add headers or requests of its own
    with pytest.raises(http11.HTTPException):
        c.request("GET", "/", headers={"Authorization": "Bearer x\r\nX-Evil: 1"})
    with pytest.raises(http11.HTTPException):
        c.request("GET", "/a HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET /b")
    assert c.sock is None  # nothing was sent
