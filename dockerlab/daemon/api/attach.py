"""``POST /containers/{id}/attach`` and ``/resize``: the hijacked connection of a container.

After the ``101 UPGRADED`` headers the connection is the container's: its output goes out raw
with a TTY, in Docker's 8-byte multiplexed frames without; what the client writes goes to its
stdin; the client's half-close (``shutdown(SHUT_WR)``) is the end of that input (the monitor
closes the container's stdin when its ``StdinOnce`` says so, as Docker). The stream ends, and
the connection closes, when the container exits; a client that goes away leaves the container
running (and no thread behind).

The docker CLI attaches *before* it starts (``docker run``, ``docker start -a``): an attach to
a container that is not running waits, registered in ``api.shared["attach_waiters"]``, and
:func:`start_container` (which ``POST /containers/{id}/start`` calls) starts the container
with the engine's first-byte attachment (``engine.start(attach=…)``) and hands it over, so
``docker run --rm busybox echo hi`` loses nothing. A start by anyone else (the dockerlab CLI)
is noticed by polling, and the waiter attaches then.
"""

from __future__ import annotations

import os
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

from dockerlab.daemon.http import (
    ClientGone,
    Connection,
    Hijacked,
    HTTPError,
    Request,
    Response,
    mux_frame,
    stream_type,
)
from dockerlab.daemon.router import Api, route
from dockerlab.errors import Conflict, DockerlabError, NotFound

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
POLL_MS = 500  # how often a waiting stream looks at its client and its container
STDOUT, STDERR = 1, 2  # the engine's stream kinds are Docker's stream numbers


# ---- the hijacked connection's two directions -----------------------------------------------
def detach_keys(spec: str, what: str = "detach") -> bytes:
    """``detachKeys`` as bytes; Docker's 400 for a bad one."""
    from dockerlab.terminal.verbs import parse_detach_keys

    try:
        return parse_detach_keys(spec or DEFAULT_DETACH_KEYS)
    except ValueError:
        raise HTTPError(400, f"Invalid {what} keys ({spec}) provided") from None


def _buffered(conn: Connection) -> bytes:
    """What the client sent right after its request and our reader already holds (stdin that
    came with the headers); read without blocking, so later reads go to the socket itself
    (a thread blocked in the buffered reader would hold its lock when the server closes it)."""
    out = bytearray()
    conn.sock.setblocking(False)
    try:
        while True:
            try:
                got = conn.rfile.read1(65536)
            except (BlockingIOError, OSError):
                break
            if not got:
                break
            out += got
    finally:
        conn.sock.setblocking(True)
    return bytes(out)


class Input:
    """The client's bytes on their way in, on a thread of their own: ``write(data)`` each
    read, ``close()`` at the client's half-close (without ``close``, the half-close ends the
    session as a detach does: moby's attach closes the container's stdin only when it may,
    ``StdinOnce`` without a TTY, or an exec's without one). With ``keys`` (a TTY), the
    detach sequence is watched for, as Docker's ``copyEscapable``: a partial match is held
    back until the next byte shows it was not the sequence; the whole sequence ends the
    session (``detached``)."""

    def __init__(
        self,
        conn: Connection,
        write: Callable[[bytes], None],
        close: Callable[[], None] | None,
        keys: bytes = b"",
    ) -> None:
        self.conn, self._write, self._close, self.keys = conn, write, close, keys
        self.early = _buffered(conn)
        self.detached = threading.Event()
        self.ended = threading.Event()  # the client's input is over (EOF, detach, error)
        self._held = bytearray()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="stdin " + conn.peer, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _filter(self, data: bytes) -> bytes | None:
        """``data`` to pass on now, or None when it completed the detach keys."""
        if not self.keys:
            return data
        out = bytearray()
        for byte in data:
            if byte == self.keys[len(self._held)]:
                self._held.append(byte)
                if len(self._held) == len(self.keys):
                    return None
                continue
            out += self._held
            self._held.clear()
            if byte == self.keys[0]:
                self._held.append(byte)
            else:
                out.append(byte)
        return bytes(out)

    def _run(self) -> None:
        try:
            data = self.early
            while True:
                if data:
                    passed = self._filter(data)
                    if passed is None:
                        self.detached.set()
                        return
                    if passed:
                        self._write(passed)
                data = self.conn.sock.recv(65536)
                if not data:
                    if self.stopping or self.conn.gone.is_set():
                        return  # our own shutdown (the session is over), not the client's
                    if self._held:
                        self._write(bytes(self._held))
                    if self._close is None:  # Docker's: the end of input ends the session
                        self.detached.set()
                    else:
                        self._close()
                    return
        except (OSError, DockerlabError):
            return  # the client or the container went: the output side sees it
        finally:
            self.ended.set()

    def stop(self) -> None:
        """Wake the thread (our end of the socket stops reading) and wait for it."""
        self.stopping = True
        try:
            self.conn.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass
        if self.thread.is_alive():
            self.thread.join(10)


def client_hung_up(conn: Connection, events: int) -> bool:
    """A poll on the client's socket with no events asked reports its hang-up (a unix
    client's close; a TCP client's shows when a write fails)."""
    return bool(events & (select.POLLHUP | select.POLLERR | select.POLLNVAL)) or conn.gone.is_set()


def framer(tty: bool) -> Callable[[int, bytes], bytes]:
    """How output goes on the wire: raw with a TTY, multiplexed frames without."""
    if tty:
        return lambda _kind, data: data
    return mux_frame


# ---- waiting for the start -------------------------------------------------------------------
class Waiter:
    """A client attached to a container that is not running: the start hands it the engine's
    attachment (or None: it should attach itself, or give up when the container is gone)."""

    def __init__(self, cid: str, stdin: bool) -> None:
        self.cid = cid
        self.stdin = stdin
        self.claimed = False  # taken by a start (under api.lock)
        self.ready = threading.Event()
        self.att: Any = None
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._lock = threading.Lock()  # the pipe is not closed while hand() writes
        self.active = threading.Event()  # its connection is being served (the 101 went out)

    def hand(self, att: Any) -> None:
        with self._lock:
            self.att = att
            self.ready.set()
            if self._wake_w >= 0:
                os.write(self._wake_w, b"x")  # the waiting thread's poll returns at once

    def close(self) -> Any:
        """Close the pipe; returns an attachment handed over meanwhile (to be closed)."""
        with self._lock:
            for fd in (self._wake_r, self._wake_w):
                if fd >= 0:
                    os.close(fd)
            self._wake_r = self._wake_w = -1
            return self.att


def _waiters(api: Api) -> dict[str, list[Waiter]]:
    table: dict[str, list[Waiter]] = api.shared.setdefault("attach_waiters", {})
    return table


def _unregister(api: Api, w: Waiter) -> bool:
    """Take ``w`` out of the table; False when a start claimed it first."""
    with api.lock:
        if w.claimed:
            return False
        table = _waiters(api)
        waiting = table.get(w.cid, [])
        if w in waiting:
            waiting.remove(w)
        if not waiting:
            table.pop(w.cid, None)
        w.claimed = True
        return True


def start_container(api: Api, engine: Any, cid: str, not_modified: bool = False) -> None:
    """Start ``cid`` (the full ID) for ``POST /containers/{id}/start``: with the clients that
    attached before the start seeing everything from the first byte. ``not_modified``: a
    running container is NotModified (the API's 304)."""
    with api.lock:
        waiting = _waiters(api).pop(cid, [])
        for w in waiting:
            w.claimed = True
    if not waiting:
        engine.start(cid, not_modified=not_modified)
        return
    letters = ("i" if any(w.stdin for w in waiting) else "") + "oe"
    try:
        att = engine.start(cid, attach=letters, not_modified=not_modified)
    except BaseException:
        with api.lock:  # not started: they go on waiting
            for w in waiting:
                w.claimed = False
            _waiters(api).setdefault(cid, []).extend(waiting)
        raise
    for i, w in enumerate(waiting):
        given = att if i == 0 else None
        if given is None:
            try:  # a second client (rare) attaches now; it may miss the first output
                given = engine.attach(cid, stdin=w.stdin)
            except DockerlabError:
                given = None
        # a client whose 101 could not be sent never serves its attachment: close it, or the
        # monitor would block writing to a socket nobody reads
        if not w.active.wait(5):
            w.close()
            if given is not None:
                given.close()
            continue
        w.hand(given)


def _wait_for_start(api: Api, conn: Connection, w: Waiter) -> Any:
    """The attachment once the container starts; None when the client or the container
    went first."""
    poller = select.poll()
    client = conn.sock.fileno()
    poller.register(client, 0)
    poller.register(w._wake_r, select.POLLIN)
    while not w.ready.is_set():
        events = poller.poll(POLL_MS)
        hung_up = any(fd == client and client_hung_up(conn, ev) for fd, ev in events)
        if hung_up or conn.gone.is_set():
            if _unregister(api, w):
                return None
            w.ready.wait(30)  # a start claimed it meanwhile: the attachment comes
            break
        if w.ready.is_set():
            break
        try:
            info = api.engine().inspect(w.cid)
        except NotFound:
            if _unregister(api, w):
                return None
            continue
        state = info.get("State") or {}
        if state.get("Running") and not state.get("Paused") and _unregister(api, w):
            try:  # started by someone else (the dockerlab CLI): attach now
                return api.engine().attach(w.cid, stdin=w.stdin)
            except DockerlabError:
                return None
    return w.att


# ---- the routes -------------------------------------------------------------------------------
@route("POST", "/containers/{id}/attach")
def attach(req: Request, api: Api) -> Hijacked:
    engine = api.engine()
    info = engine.inspect(req.params["id"])
    cid, config, state = info["Id"], info["Config"], info["State"]
    if state.get("Paused"):
        raise Conflict(
            f"container {req.params['id']} is paused, unpause the container before attach"
        )
    if state.get("Restarting"):
        raise Conflict(
            f"container {req.params['id']} is restarting, wait until the container is running"
        )
    tty = bool(config.get("Tty"))
    keys = detach_keys(req.arg("detachKeys"), "detach") if tty else b""
    want_in = req.flag("stdin") and bool(config.get("OpenStdin"))
    want_out, want_err = req.flag("stdout"), req.flag("stderr")
    stream, logs = req.flag("stream"), req.flag("logs")
    waiter: Waiter | None = None
    att: Any = None
    if stream:
        if state.get("Running"):
            try:
                att = engine.attach(cid, stdin=want_in)
            except Conflict:  # it exited since: wait for its next start
                att = None
        if att is None:
            # registered before the 101 goes out: the client's start may come at once
            waiter = Waiter(cid, want_in)
            with api.lock:
                _waiters(api).setdefault(cid, []).append(waiter)
    wire = framer(tty)

    def run(conn: Connection) -> None:
        nonlocal att
        if waiter is not None:
            waiter.active.set()
        try:
            if logs:
                for entry in api.engine().logs(cid, stdout=want_out, stderr=want_err):
                    conn.send(wire(STDOUT if entry.stream == "stdout" else STDERR, entry.data))
            if waiter is not None:
                att = _wait_for_start(api, conn, waiter)
            if att is not None:
                once = bool(config.get("StdinOnce")) and not tty
                _follow(conn, att, wire, want_in, want_out, want_err, keys, once)
        except (ClientGone, OSError):
            pass
        finally:
            if waiter is not None:
                _unregister(api, waiter)
                handed = waiter.close()
                if handed is not None and handed is not att:  # handed over as the client went
                    handed.close()
            if att is not None:
                att.close()

    return Hijacked(run, stream_type(req, tty))


def _follow(
    conn: Connection,
    att: Any,
    wire: Callable[[int, bytes], bytes],
    want_in: bool,
    want_out: bool,
    want_err: bool,
    keys: bytes,
    stdin_once: bool,
) -> None:
    """Copy between the client and the container's attachment until the container exits,
    the client detaches (its keys, or the end of its input unless ``stdin_once``) or goes
    away."""
    inp: Input | None = None
    if want_in:
        inp = Input(conn, att.write, att.close_stdin if stdin_once else None, keys)
        inp.start()
    poller = select.poll()
    poller.register(att.fileno(), select.POLLIN)
    client = conn.sock.fileno()
    poller.register(client, 0)
    try:
        while not (inp is not None and inp.detached.is_set()):
            events = poller.poll(POLL_MS)
            if conn.gone.is_set():
                return
            for fd, ev in events:
                if fd == client:
                    if client_hung_up(conn, ev):
                        return
                    continue
                frames = att.pump()
                if frames is None:
                    return
                for kind, data in frames:
                    if (kind == STDOUT and want_out) or (kind == STDERR and want_err):
                        conn.send(wire(kind, data))
                if att.exit is not None:
                    return
    finally:
        if inp is not None:
            inp.stop()


@route("POST", "/containers/{id}/resize")
def resize(req: Request, api: Api) -> Response:
    height, width = _size(req)
    api.engine().resize(req.params["id"], height, width)
    return Response(200)  # moby's: 200 with an empty body


def _size(req: Request) -> tuple[int, int]:
    """``h`` and ``w`` as moby parses them (``strconv.Atoi``'s words)."""
    out = []
    for name in ("h", "w"):
        raw = req.arg(name)
        try:
            value = int(raw)
        except ValueError:
            raise HTTPError(400, f'strconv.Atoi: parsing "{raw}": invalid syntax') from None
        if not 0 <= value < 65536:
            raise HTTPError(400, f'strconv.Atoi: parsing "{raw}": value out of range')
        out.append(value)
    return out[0], out[1]
