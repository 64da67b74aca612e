"""``POST /containers/{id}/exec``, ``POST /exec/{id}/start``, ``/resize``, ``GET /exec/{id}/json``.

Exec instances live in the daemon's memory (``api.execs``), as Docker keeps them: made by
create, run once by start, inspected for their exit code (the docker CLI reads it after the
stream to set its own), pruned when finished for a while. The command runs through the engine's
exec helper; with a TTY on a pseudo-terminal made here (``own_terminal``: the helper makes it
the command's controlling terminal, so ``TIOCSWINSZ`` on our end resizes the command's),
without one on pipes, whose output goes out in Docker's multiplexed frames.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import threading
import time
from typing import Any

from dockerlab.daemon.api.attach import (
    POLL_MS,
    STDERR,
    STDOUT,
    Input,
    _size,
    client_hung_up,
    detach_keys,
    framer,
)
from dockerlab.daemon.http import (
    ClientGone,
    Connection,
    Hijacked,
    HTTPError,
    Request,
    Response,
    json_response,
    stream_type,
)
from dockerlab.daemon.router import Api, route
from dockerlab.errors import NotFound

KEEP_FINISHED = 300.0  # seconds a finished exec stays inspectable (moby's GC runs every 5 min)
MAX_FINISHED = 1000


class ExecInstance:
    def __init__(self, eid: str, cid: str, body: dict[str, Any], cmd: list[str]) -> None:
        self.id = eid
        self.cid = cid
        self.cmd = cmd
        self.env = [str(e) for e in body.get("Env") or []]
        self.workdir = str(body.get("WorkingDir") or "")
        self.user = str(body.get("User") or "")
        self.privileged = bool(body.get("Privileged"))
        self.tty = bool(body.get("Tty"))
        self.stdin = bool(body.get("AttachStdin"))
        self.stdout = bool(body.get("AttachStdout"))
        self.stderr = bool(body.get("AttachStderr"))
        self.keys_spec = str(body.get("DetachKeys") or "")
        self.console = body.get("ConsoleSize")  # [height, width] (API 1.42), or at start
        self.running = False
        self.started = False
        self.exit_code: int | None = None
        self.pid = 0
        self.master = -1  # our end of its terminal, while it runs
        self.finished_at = 0.0
        self.lock = threading.Lock()

    def json(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Running": self.running,
            "ExitCode": self.exit_code,
            "ProcessConfig": {
                "tty": self.tty,
                "entrypoint": self.cmd[0],
                "arguments": self.cmd[1:],
                "privileged": self.privileged,
                **({"user": self.user} if self.user else {}),
            },
            "OpenStdin": self.stdin,
            "OpenStderr": self.stderr,
            "OpenStdout": self.stdout,
            "CanRemove": False,
            "ContainerID": self.cid,
            "DetachKeys": self.keys_spec,
            "Pid": self.pid,
        }

    def finish(self, code: int) -> None:
        with self.lock:
            self.exit_code = code
            self.running = False
            self.finished_at = time.monotonic()


def _prune(api: Api) -> None:
    """(under api.lock) Forget execs finished long ago, and the oldest past MAX_FINISHED."""
    now = time.monotonic()
    finished = sorted(
        (x for x in api.execs.values() if x.exit_code is not None), key=lambda x: x.finished_at
    )
    for i, x in enumerate(finished):
        if now - x.finished_at > KEEP_FINISHED or len(finished) - i > MAX_FINISHED:
            api.execs.pop(x.id, None)


def _find(api: Api, eid: str) -> ExecInstance:
    with api.lock:
        x = api.execs.get(eid)
    if x is None:
        raise NotFound(f"No such exec instance: {eid}")
    result: ExecInstance = x
    return result


@route("POST", "/containers/{id}/exec")
def create(req: Request, api: Api) -> Any:
    body = req.json({})
    if not isinstance(body, dict):
        raise HTTPError(400, "invalid JSON: the exec configuration must be an object")
    engine = api.engine()
    c = engine.store.find(req.params["id"])
    c.refresh()
    c.ensure_state("exec")
    cmd = body.get("Cmd") or []
    if isinstance(cmd, str):
        cmd = [cmd]
    if not cmd:
        raise HTTPError(400, "No exec command specified")
    if body.get("DetachKeys"):
        detach_keys(str(body["DetachKeys"]), "escape")
    eid = os.urandom(32).hex()
    x = ExecInstance(eid, c.id, body, [str(a) for a in cmd])
    with api.lock:
        _prune(api)
        api.execs[eid] = x
    return json_response({"Id": eid}, 201)


@route("GET", "/exec/{id}/json")
def inspect(req: Request, api: Api) -> dict[str, Any]:
    x = _find(api, req.params["id"])
    with x.lock:
        return x.json()


@route("POST", "/exec/{id}/resize")
def resize(req: Request, api: Api) -> Response:
    x = _find(api, req.params["id"])
    height, width = _size(req)
    with x.lock:
        if x.master < 0:
            if not x.running:
                raise NotFound(f"No such exec instance: {x.id}")
            return Response(200)  # without a TTY: nothing to size
        _set_size(x.master, height, width)
    return Response(200)


def _set_size(fd: int, rows: int, cols: int) -> None:
    import fcntl
    import struct
    import termios

    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    except OSError:
        pass


@route("POST", "/exec/{id}/start")
def start(req: Request, api: Api) -> Any:
    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise HTTPError(400, "invalid JSON: the exec start options must be an object")
    x = _find(api, req.params["id"])
    with x.lock:
        if x.exit_code is not None:
            raise HTTPError(409, f"Error: Exec command {x.id} has already run")
        if x.running or x.started:
            raise HTTPError(409, f"Error: Exec command {x.id} is already running")
        x.started = True
    engine = api.engine()
    try:
        if body.get("Detach"):
            _start_detached(engine, x)
            return Response(200)  # moby's: 200 with an empty body
        proc, fds = _spawn(engine, x, body.get("ConsoleSize") or x.console)
    except BaseException:
        with x.lock:
            x.started = False
        raise
    keys = detach_keys(x.keys_spec, "escape") if x.tty else b""

    def run(conn: Connection) -> None:
        _follow(conn, x, proc, fds, keys)

    return Hijacked(run, stream_type(req, x.tty))


def _exec(
    engine: Any, x: ExecInstance, stdin: int, stdout: int, stderr: int, own_terminal: bool = False
) -> Any:
    """The exec instance's command, started in its container with these descriptors."""
    return engine.exec(
        x.cid,
        x.cmd,
        env=x.env,
        workdir=x.workdir,
        user=x.user,
        tty=x.tty,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        own_terminal=own_terminal,
        privileged=x.privileged,
    )


def _start_detached(engine: Any, x: ExecInstance) -> None:
    """Run it with nothing attached; a thread waits for its exit code (inspect shows it)."""
    proc = _exec(engine, x, subprocess.DEVNULL, subprocess.DEVNULL, subprocess.DEVNULL)
    with x.lock:
        x.running, x.pid = True, proc.pid
    threading.Thread(
        target=lambda: x.finish(proc.wait()), name=f"exec {x.id[:12]}", daemon=True
    ).start()


class _Fds:
    """Our ends: ``stdin`` (a pipe's writing end, or the terminal), and the outputs to read
    (fd → stream kind)."""

    def __init__(self) -> None:
        self.stdin = -1
        self.outputs: dict[int, int] = {}
        self.master = -1


def _spawn(engine: Any, x: ExecInstance, console: Any) -> tuple[Any, _Fds]:
    fds = _Fds()
    theirs: list[int] = []
    try:
        if x.tty:
            import pty

            master, slave = pty.openpty()
            fds.master = master
            theirs.append(slave)
            if isinstance(console, list) and len(console) == 2:
                try:
                    rows, cols = int(console[0]), int(console[1])
                except (TypeError, ValueError):
                    rows = cols = 0
                if 0 < rows < 65536 and 0 < cols < 65536:
                    _set_size(master, rows, cols)
            fds.outputs[master] = STDOUT
            fds.stdin = master if x.stdin else -1  # without -i the terminal gets no input
            stdin: Any = slave
            stdout: Any = slave
            stderr: Any = slave
        else:
            stdin = subprocess.DEVNULL
            if x.stdin:
                r, w = os.pipe()
                theirs.append(r)
                fds.stdin, stdin = w, r
            outs: list[Any] = []
            for want, kind in ((x.stdout, STDOUT), (x.stderr, STDERR)):
                if want:
                    r, w = os.pipe()
                    theirs.append(w)
                    fds.outputs[r] = kind
                    outs.append(w)
                else:
                    outs.append(subprocess.DEVNULL)
            stdout, stderr = outs
        proc = _exec(engine, x, stdin, stdout, stderr, own_terminal=x.tty)
    except BaseException:
        for fd in [fds.stdin, *fds.outputs, fds.master]:
            _close(fd)
        raise
    finally:
        for fd in theirs:
            _close(fd)
    with x.lock:
        x.running, x.pid, x.master = True, proc.pid, fds.master
    return proc, fds


def _hang_up(conn: Connection) -> None:
    """End the client's stream now (the command may run on)."""
    try:
        conn.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _close(fd: int) -> None:
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


def _follow(conn: Connection, x: ExecInstance, proc: Any, fds: _Fds, keys: bytes) -> None:
    """Copy between the client and the command until its output ends; then its exit code
    goes into the record before the connection closes (the client reads it next). A client
    that goes away or detaches leaves the command running: its output is read and dropped."""
    wire = framer(x.tty)
    inp: Input | None = None
    stdin_fd = [fds.stdin]

    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(stdin_fd[0], view) :]

    def close_stdin() -> None:
        _close(stdin_fd[0])
        stdin_fd[0] = -1

    if fds.stdin >= 0:  # with a TTY the end of input ends the session (moby's), as a detach
        inp = Input(conn, write, None if x.tty else close_stdin, keys)
        inp.start()
    poller = select.poll()
    open_outputs = dict(fds.outputs)
    for fd in open_outputs:
        poller.register(fd, select.POLLIN)
    client = conn.sock.fileno()
    poller.register(client, 0)
    listening = True
    try:
        while open_outputs:
            events = poller.poll(POLL_MS)
            if listening and (conn.gone.is_set() or (inp is not None and inp.detached.is_set())):
                listening = False  # the command goes on; its output is dropped
                poller.unregister(client)
                _hang_up(conn)
            for fd, ev in events:
                if fd == client:
                    if listening and client_hung_up(conn, ev):
                        listening = False
                        poller.unregister(client)
                    continue
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: the terminal's last process is gone
                    data = b""
                if not data:
                    poller.unregister(fd)
                    open_outputs.pop(fd)
                    continue
                if listening:
                    try:
                        conn.send(wire(open_outputs[fd], data))
                    except ClientGone:
                        listening = False
                        poller.unregister(client)
    finally:
        if inp is not None:
            inp.stop()
        with x.lock:
            x.master = -1
        for fd in {*fds.outputs, fds.master, stdin_fd[0]}:
            _close(fd)
        x.finish(proc.wait())
