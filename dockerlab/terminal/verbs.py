"""The streaming verbs, each written once against the Terminal port.

``run`` (attached), ``start -a``, ``attach``, ``exec``, ``build``, ``stats`` (live) and
``logs`` call the engine and move its output to a :class:`~dockerlab.terminal.port.Terminal`;
the CLI and the notebook differ only in the terminal they pass. Each returns the exit code
Docker's client would (None when the user detached or stopped following).
"""

from __future__ import annotations

import os
import signal
import time

from dockerlab.engine.runtime.streams import CLOSE_STDIN, STDERR, STDIN, frame
from dockerlab.errors import DockerlabError
from dockerlab.terminal.session import Session

TYPE_CHECKING = False  # typing stays off the path of `run`
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockerlab.terminal.port import Terminal

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"

_KEYS = {f"ctrl-{c}": ord(c) - 96 for c in "abcdefghijklmnopqrstuvwxyz"}
_KEYS.update({"ctrl-@": 0, "ctrl-[": 27, "ctrl-\\": 28, "ctrl-]": 29, "ctrl-^": 30, "ctrl-_": 31})


def parse_detach_keys(spec: str) -> bytes:
    """Docker's ``--detach-keys`` (``ctrl-p,ctrl-q``, letters) as the bytes to watch for."""
    out = bytearray()
    for key in filter(None, (k.strip() for k in spec.split(","))):
        if key in _KEYS:
            out.append(_KEYS[key])
        elif len(key) == 1:
            out.append(ord(key))
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(out)


class Followed:
    """What following an attached container gave: its exit code (None when the user
    detached or stopped following), or the console that follows it in the background."""

    def __init__(self, cid: str, exit_code: int | None, console: Any = None) -> None:
        self.cid = cid
        self.exit_code = exit_code
        self.console = console


# ---- run, start -a, attach ------------------------------------------------------------


def _streams(body: dict[str, Any]) -> str:
    """The attach letters of a create body (``-a``, ``-i``): ``"ioe"``, ``"oe"``, ``"o"``."""
    letters = (
        ("i" if body.get("AttachStdin") else "")
        + ("o" if body.get("AttachStdout") else "")
        + ("e" if body.get("AttachStderr") else "")
    )
    return letters or "oe"


def label(config: dict[str, Any]) -> str:
    """A container's image and command, naming it in a console."""
    return " ".join([config.get("Image", ""), *(config.get("Cmd") or [])]).strip()


def run(
    engine: Any,
    term: Terminal,
    body: dict[str, Any],
    name: str | None,
    *,
    rm: bool,
    tty: bool,
    detach_keys: str = DEFAULT_DETACH_KEYS,
    sig_proxy: bool = True,
    created: Callable[[str], None] | None = None,
) -> Followed:
    """``run`` without ``-d``: create, start attached, follow until the container exits.
    ``created`` is told the ID before the start (``--cidfile``)."""
    result = engine.create(body, name)
    if created is not None:
        created(result["Id"])
    for warning in result.get("Warnings") or []:
        term.message(f"WARNING: {warning}")
    cid = result["Id"]
    interactive = bool(body.get("AttachStdin"))
    try:
        att = engine.start(cid, attach=_streams(body))
    except DockerlabError:
        if rm:  # the container never ran: --rm still removes it, as docker's daemon does
            try:
                engine.remove(cid, force=True)
            except DockerlabError:
                pass
        raise
    session = _session(engine, cid, att, interactive, tty, label(body), sig_proxy, detach_keys)
    return follow(term, session)


def start(
    engine: Any,
    term: Terminal,
    ref: str,
    *,
    interactive: bool,
    detach_keys: str = DEFAULT_DETACH_KEYS,
    sig_proxy: bool = True,
) -> Followed:
    """``start -a`` / ``start -ai``: start ``ref`` attached (or attach to it if it runs)."""
    info = engine.inspect(ref)
    cid, config = info["Id"], info["Config"]
    interactive = bool(interactive and config.get("OpenStdin"))
    att = engine.start(cid, attach="ioe" if interactive else "oe")
    if att is None:  # already running: attach to it instead
        att = engine.attach(cid, stdin=interactive)
    session = _session(
        engine,
        cid,
        att,
        interactive,
        bool(config.get("Tty")),
        label(config),
        sig_proxy,
        detach_keys,
    )
    return follow(term, session)


def attach(
    engine: Any,
    term: Terminal,
    ref: str,
    *,
    no_stdin: bool = False,
    detach_keys: str = DEFAULT_DETACH_KEYS,
    sig_proxy: bool = True,
) -> Followed:
    """``attach``: this terminal on a running container's streams."""
    info = engine.inspect(ref)
    config = info["Config"]
    stdin = bool(config.get("OpenStdin") and not no_stdin)
    att = engine.attach(info["Id"], stdin=stdin)
    session = _session(
        engine,
        info["Id"],
        att,
        stdin,
        bool(config.get("Tty")),
        label(config),
        sig_proxy,
        detach_keys,
    )
    return follow(term, session, always_console=True)


def _session(
    engine: Any,
    cid: str,
    att: Any,
    stdin: bool,
    tty: bool,
    name: str,
    sig_proxy: bool,
    detach_keys: str,
) -> Session:
    return Session(
        engine,
        cid,
        att,
        stdin=stdin,
        tty=tty,
        label=name,
        sig_proxy=sig_proxy,
        detach_keys=detach_keys,
    )


def follow(term: Terminal, s: Session, always_console: bool = False) -> Followed:
    """Copy between ``term`` and an attached container until it exits, the user types the
    detach keys, or an interrupt stops following. A terminal may take an interactive
    session (or any ``attach``) into a console of its own instead."""
    if s.stdin or always_console:
        console = term.console(s)
        if console is not None:
            return Followed(s.cid, None, console)
    try:
        code = _pump(term, s)
    finally:
        s.att.close()
    if code == _DETACHED:  # said once the terminal is out of raw mode
        term.message("read escape sequence")
        return Followed(s.cid, None)
    return Followed(s.cid, code)


_DETACHED = -(1 << 40)  # _pump's result when the user typed the detach keys


def _pump(term: Terminal, s: Session) -> int | None:
    """The exit code, None when an interrupt stopped following, or _DETACHED."""
    import selectors

    # Docker watches for the detach keys only on a TTY: piped bytes pass through untouched
    keys = parse_detach_keys(s.detach_keys) if s.tty else b""
    with selectors.DefaultSelector() as sel:
        return _select_loop(term, s, sel, keys)


class _Input:
    """The user's input on its way to the container. On a TTY it is typed: each read goes
    out at once, watched for the detach keys. Otherwise (a pipe, a file, /dev/null) it is
    queued as frames and sent as the monitor takes them, so a container busy writing its
    output never waits on us while we wait on it. epoll refuses a regular file or /dev/null
    (EPERM): such an input never blocks, so it is read whenever the queue has room."""

    LIMIT = 1 << 20  # queued bytes before we stop reading input until the monitor catches up

    def __init__(self, s: Session, sel: Any, fd: int | None, keys: bytes) -> None:
        import selectors

        self.att, self.sel, self.fd, self.keys, self.tty = s.att, sel, fd, keys, s.tty
        self.matched = 0
        self.queue = bytearray()
        self.eof = fd is None
        self.polled = False
        self.always_ready = False
        self.events = selectors.EVENT_READ
        sel.register(self.att.fileno(), selectors.EVENT_READ, "att")
        if fd is not None:
            try:
                sel.register(fd, selectors.EVENT_READ, "in")
                self.polled = True
            except PermissionError:
                self.always_ready = True

    def ready_now(self) -> bool:
        """An input that never blocks has more to give: do not wait in select."""
        return self.always_ready and not self.eof and len(self.queue) < self.LIMIT

    def read(self) -> bool:
        """Take one read of input; True when it held the detach keys."""
        data = os.read(self.fd, 65536) if self.fd is not None else b""
        if not data:
            self.eof = True
            if self.polled:
                self.sel.unregister(self.fd)
                self.polled = False
            if self.tty:
                self.att.close_stdin()
            else:
                self._queue(frame(CLOSE_STDIN, b""))
            return False
        if self.tty:
            for byte in data:
                keys = self.keys
                if not keys:
                    break
                self.matched = (
                    self.matched + 1 if byte == keys[self.matched] else int(byte == keys[0])
                )
                if self.matched == len(keys):
                    return True
            self.att.write(data)
            return False
        self._queue(frame(STDIN, data))
        return False

    def _queue(self, data: bytes) -> None:
        self.queue += data
        self.send()

    def send(self) -> None:
        """Send what the monitor takes now; stop reading input while the queue is full."""
        import selectors

        if self.queue:
            sent = self.att.send_nowait(bytes(self.queue))
            if sent < 0:  # the monitor is gone: its exit (or loss) arrives on the read side
                self.queue.clear()
                self.eof = True
            else:
                del self.queue[:sent]
        full = len(self.queue) >= self.LIMIT
        if self.polled and full:
            self.sel.unregister(self.fd)
            self.polled = False
        elif not self.polled and not full and not self.eof and not self.always_ready:
            self.sel.register(self.fd, selectors.EVENT_READ, "in")
            self.polled = True
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.queue else 0)
        if events != self.events:
            self.sel.modify(self.att.fileno(), events, "att")
            self.events = events


def _select_loop(term: Terminal, s: Session, sel: Any, keys: bytes) -> int | None:
    import selectors

    att = s.att
    interrupts = 0
    inp = _Input(s, sel, term.input_fd() if s.stdin else None, keys)
    term.flush()
    if s.tty:
        size = term.size()
        if size:
            att.resize(*size)
        term.on_resize(att.resize)
    with term.raw(s.tty and inp.fd is not None):
        while True:
            try:
                events = sel.select(0 if inp.ready_now() else None)
                if inp.ready_now() and inp.read():
                    return _DETACHED
            except KeyboardInterrupt:
                interrupts += 1
                action = term.interrupted(interrupts, s.sig_proxy, s.tty)
                if action == "forward":
                    try:
                        s.engine.kill(s.cid, "INT")
                    except DockerlabError:
                        pass
                    continue
                if action == "stop":
                    short = s.cid[:12]
                    term.message(
                        f"Stopped following {short}; it keeps running ({term.prog} stop {short})"
                    )
                    return None
                raise
            for key, mask in events:
                if key.data == "in":
                    if inp.read():
                        return _DETACHED
                    continue
                if mask & selectors.EVENT_WRITE:
                    inp.send()
                if not mask & selectors.EVENT_READ:
                    continue
                frames = att.pump()
                for kind, data in frames or ():
                    (term.write_err if kind == STDERR else term.write_out)(data)
                term.flush()
                if frames is None or att.exit is not None:
                    return _exit_code(term, att.exit)


def _exit_code(term: Terminal, exit_: dict[str, Any] | None) -> int:
    exit_ = exit_ or {}
    code = int(exit_.get("ExitCode", 0))
    if exit_.get("Error") and code < 0:
        term.message(f"Error: {exit_['Error']}")
    return code


# ---- exec ---------------------------------------------------------------------------------


def exec_(
    engine: Any,
    term: Terminal,
    ref: str,
    cmd: list[str],
    env: list[str],
    *,
    workdir: str = "",
    user: str = "",
    interactive: bool = False,
    tty: bool = False,
    privileged: bool = False,
) -> Followed:
    """``exec`` (not ``-d``): the command's output to ``term`` until it ends."""
    if interactive or tty:
        console = term.exec_console(engine, ref, cmd, env, workdir, user)
        if console is not None:
            return Followed("", None, console)
    stdin, stdout, stderr = term.exec_streams(interactive)
    proc = engine.exec(
        ref,
        cmd,
        env=env,
        workdir=workdir,
        user=user,
        tty=tty,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        privileged=privileged,
    )
    interrupts = 0

    def interrupt() -> None:
        nonlocal interrupts
        interrupts += 1
        # an exec'd command gets the interrupt with or without a TTY (the helper relays it)
        action = term.interrupted(interrupts, True, False)
        if action == "raise":
            raise KeyboardInterrupt
        proc.send_signal(signal.SIGINT if action == "forward" else signal.SIGKILL)

    if proc.stdout is not None:
        _copy_pipes(term, proc, interrupt)
    while True:
        try:
            return Followed(ref, proc.wait())
        except KeyboardInterrupt:
            interrupt()


def _copy_pipes(term: Terminal, proc: Any, interrupt: Callable[[], None]) -> None:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, term.write_out)
    sel.register(proc.stderr, selectors.EVENT_READ, term.write_err)
    try:
        while sel.get_map():
            try:
                events = sel.select()
            except KeyboardInterrupt:
                interrupt()
                continue
            for key, _ in events:
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                key.data(data)
                term.flush()
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()


# ---- build --------------------------------------------------------------------------------


def build(
    engine: Any, term: Terminal, context: Any, *, quiet: bool = False, **options: Any
) -> tuple[int, str]:
    """``build`` with the classic builder's output; returns (exit code, image ID).

    With ``quiet`` the steps are kept back and shown (on stderr) only if the build fails,
    and the image ID is printed at the end, as docker's client does."""
    from dockerlab.engine.build import BuildFailed

    kept: list[tuple[Callable[[bytes], None], bytes]] = []

    def emit(write: Callable[[bytes], None], text: str) -> None:
        data = text.encode(errors="surrogateescape")  # a Dockerfile's own bytes, as they were
        if quiet:
            kept.append((term.write_err, data))
        else:
            write(data)
            term.flush()

    image_id = ""
    try:
        for event in engine.build(context, quiet=False, **options):
            if event.kind == "aux":
                image_id = event.image_id
            elif event.kind == "context":
                emit(term.write_out, event.text + ("\r\r\n" if term.ansi else "\n"))
            elif term.ansi and event.kind == "stderr":
                emit(term.write_out, f"\x1b[91m{event.text}\x1b[0m")
            elif not term.ansi and event.kind in ("stderr", "warning"):
                text = event.text
                emit(term.write_err, text if text.endswith("\n") else text + "\n")
            else:
                emit(term.write_out, event.text)
    except BuildFailed as exc:  # docker's client prints the daemon's message as is
        _replay(term, kept)
        term.message(str(exc))
        return exc.exit_code, ""
    except DockerlabError:
        _replay(term, kept)
        raise
    if quiet:
        term.write_out(image_id.encode() + b"\n")
        term.flush()
    return 0, image_id


def _replay(term: Terminal, kept: list[tuple[Callable[[bytes], None], bytes]]) -> None:
    for write, data in kept:
        write(data)
    term.flush()


# ---- logs ---------------------------------------------------------------------------------


def logs(
    engine: Any,
    term: Terminal,
    ref: str,
    *,
    follow: bool = False,
    tail: int | None = None,
    since: float | None = None,
    until: float | None = None,
    timestamps: bool = False,
) -> int:
    """``logs`` (``-f`` follows until interrupted): each entry to its stream."""
    entries = engine.logs(ref, follow=follow, tail=tail, since=since, until=until)
    term.flush()
    for entry in entries:
        data = entry.data
        if timestamps:
            data = fixed_nano(entry.time).encode() + b" " + data
        (term.write_err if entry.stream == "stderr" else term.write_out)(data)
        if follow:
            term.flush()
    term.flush()
    return 0


def fixed_nano(stamp: str) -> str:
    """jsonmessage.RFC3339NanoFixed (always 9 fraction digits) in UTC, as ``logs -t`` prints."""
    from datetime import UTC, datetime

    from dockerlab.format import parse_rfc3339_ns

    ns = parse_rfc3339_ns(stamp)
    base = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    return base.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000:09d}Z"


# ---- events -------------------------------------------------------------------------------


def events(
    engine: Any,
    term: Terminal,
    line: Callable[[dict[str, Any]], str],
    *,
    since: str | None = None,
    until: str | None = None,
    filters: dict[str, list[str]] | None = None,
) -> int:
    """``events``: each event as ``line`` words it, as it happens, until ``until`` passes
    (or, without it, until interrupted)."""
    stream = engine.events(since=since, until=until, filters=filters)
    term.flush()
    try:
        for ev in stream:
            term.write_out(line(ev).encode("utf-8", "replace") + b"\n")
            term.flush()
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # the follower's inotify and journal descriptors, now
    return 0


# ---- stats --------------------------------------------------------------------------------


def stats(
    engine: Any,
    term: Terminal,
    named: list[str],
    *,
    row: Callable[..., Any],
    table: Callable[[list[Any], str | None], Any],
    message: Callable[[DockerlabError], str],
    all_: bool = False,
    trunc: bool = True,
    fmt: str | None = None,
    stream: bool = True,
    interval: float = 1.0,
) -> tuple[int, Any]:
    """``stats``: with ``stream``, a table redrawn each ``interval`` until interrupted;
    without, one table (two samples a second apart for a running container's CPU %).
    The face says how: ``row(sample, ref, trunc)`` is a row's template context,
    ``table(rows, fmt)`` draws them, ``message(error)`` words an engine error.
    Returns (exit code, the table) — the table for the caller to show."""
    previous: dict[str, dict[str, Any]] = {}

    def targets() -> list[str]:
        return named or [c["Id"] for c in engine.containers(all=all_)]

    def sample(refs: list[str]) -> tuple[list[Any], list[str]]:
        rows, errors = [], []
        for ref in refs:
            try:
                s = engine.stats(ref, previous.get(ref))
            except DockerlabError as exc:
                errors.append(message(exc))
                continue
            previous[ref] = s
            rows.append(row(s, ref, trunc))
        return rows, errors

    refs = targets()
    rows, errors = sample(refs)
    if errors and named:
        for line in errors:
            term.message(line)
        return 1, None
    if not stream:
        if any(r.s.get("memory_stats") for r in rows):  # running: a second sample gives CPU %
            time.sleep(interval)
            rows, _ = sample(refs)
        return 0, table(rows, fmt)
    while True:
        term.live(table(rows, fmt))
        time.sleep(interval)
        rows, _ = sample(targets())


# ---- pull / push (coming): one status line per layer ------------------------------------


def progress(term: Terminal, events: Any) -> None:
    """Docker's pull/push display: each event ``(id, status)`` rewrites the line of its
    layer (``a1b2c3d4: Downloading``); an event without id is a line of its own."""
    for key, status in events:
        if key:
            term.progress(key, f"{key}: {status}")
        else:
            term.write_out(status.encode() + b"\n")
        term.flush()


# ---- pull, push ---------------------------------------------------------------------------


def _bar(current: int, total: int) -> str:
    """Docker's jsonmessage progress: ``[=====>     ]  1.2MB/3.4MB``."""
    from dockerlab.format.units import human_size_with_precision

    def size(n: int) -> str:
        return human_size_with_precision(n, 4).replace(" ", "")

    if total <= 0:
        return size(current)
    filled = min(50, current * 50 // total)
    arrow = ">" if filled < 50 else "=>"
    bar = "=" * (filled - 1 if filled == 50 else filled) + arrow
    return f"[{bar.ljust(50)[:51]}]  {size(current)}/{size(total)}"


def show_progress(term: Terminal, msg: dict[str, Any]) -> None:
    """One of Docker's progress messages, as its client shows them: a line per ID rewritten
    in place where the terminal redraws; elsewhere each status once, and no progress bars."""
    status = str(msg.get("status", ""))
    ident = msg.get("id")
    detail = msg.get("progressDetail")
    if detail and not getattr(term, "redraws", True):
        return
    if not ident:
        term.write_out(status.encode() + b"\n")
        term.flush()
        return
    line = f"{ident}: {status}"
    if detail:
        line += " " + _bar(int(detail.get("current", 0)), int(detail.get("total", 0)))
    term.progress(str(ident), line)
    term.flush()


def pull(
    engine: Any,
    term: Terminal,
    name: str,
    *,
    quiet: bool = False,
    all_tags: bool = False,
    platform: str = "",
) -> tuple[int, str]:
    """``pull``: Docker's lines, live per-layer progress; returns (0, the reference printed
    last) — printed here too unless ``quiet``."""
    from dockerlab.engine.registry.pull import Result

    result = Result()
    for msg in engine.pull(name, result, all_tags, platform):
        if not quiet:
            show_progress(term, msg)
    term.write_out(result.reference.encode() + b"\n")
    term.flush()
    return 0, result.reference


def push(engine: Any, term: Terminal, name: str, *, quiet: bool = False) -> int:
    """``push`` of one tag: Docker's lines; an error is printed as the push stream carries
    it (no "Error response from daemon:"), exit 1."""
    from dockerlab.engine.registry.client import RegistryError

    try:
        for msg in engine.push(name):
            if not quiet or not msg.get("id"):
                show_progress(term, msg)
    except RegistryError as exc:
        term.flush()
        term.message(str(exc))
        return 1
    return 0
