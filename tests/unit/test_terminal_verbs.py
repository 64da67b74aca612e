"""The streaming verbs' logic, against a terminal that records what it is asked to do.

A fake terminal (and a fake engine handing out a real attachment over a socketpair, with
the test as the monitor) is right here: the thing under test is the verb, not a terminal.
The real terminals are exercised by tests/integration (test_cli_terminal.py through a pty,
test_magics.py and test_console.py in IPython).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import selectors
import socket
import subprocess
import sys

import pytest

from dockerlab.cli import render
from dockerlab.cli.commands import daemon_message
from dockerlab.engine.runtime.streams import (
    CLOSE_STDIN,
    EXIT,
    RESIZE,
    STDERR,
    STDIN,
    STDOUT,
    WINSIZE,
    Attachment,
    FrameReader,
    frame,
)
from dockerlab.errors import Conflict
from dockerlab.format.rendered import Table
from dockerlab.terminal import verbs


class FakeTerminal:
    """Records every call of the port, in order."""

    prog = "fake"

    def __init__(
        self,
        *,
        ansi: bool = True,
        input_fd: int | None = None,
        size: tuple[int, int] | None = None,
        actions: list[str] | None = None,
        console: object = None,
        live_limit: int = 0,
    ) -> None:
        self.ansi = ansi
        self.calls: list[tuple] = []
        self.out, self.err = bytearray(), bytearray()
        self._input_fd = input_fd
        self._size = size
        self._actions = list(actions or [])
        self._console = console
        self._live_limit = live_limit
        self.resize_callback = None

    def write_out(self, data: bytes) -> None:
        self.out += data
        self.calls.append(("out", data))

    def write_err(self, data: bytes) -> None:
        self.err += data
        self.calls.append(("err", data))

    def message(self, text: str) -> None:
        self.calls.append(("message", text))

    def flush(self) -> None:
        self.calls.append(("flush",))

    def live(self, rendered) -> None:
        self.calls.append(("live", rendered))
        if len([c for c in self.calls if c[0] == "live"]) >= self._live_limit:
            raise KeyboardInterrupt

    def progress(self, key: str, line: str) -> None:
        self.calls.append(("progress", key, line))

    def input_fd(self) -> int | None:
        return self._input_fd

    @contextlib.contextmanager
    def raw(self, enabled: bool):
        self.calls.append(("raw", enabled))
        yield
        self.calls.append(("raw-end",))

    def size(self):
        return self._size

    def on_resize(self, callback) -> None:
        self.resize_callback = callback

    def interrupted(self, count: int, sig_proxy: bool, tty: bool) -> str:
        self.calls.append(("interrupted", count, sig_proxy, tty))
        return self._actions.pop(0)

    def console(self, session):
        self.calls.append(("console", session.cid, session.stdin, session.tty, session.label))
        return self._console

    def exec_console(self, engine, ref, cmd, env, workdir, user):
        return self._console

    def exec_streams(self, interactive: bool):
        return subprocess.DEVNULL, subprocess.PIPE, subprocess.PIPE

    def kinds(self) -> list[str]:
        return [c[0] for c in self.calls]


class Monitor:
    """The monitor's side of an attachment: send frames, read what the verb sent."""

    def __init__(self) -> None:
        self.sock, theirs = socket.socketpair()
        self.att = Attachment(theirs)
        self.reader = FrameReader()

    def send(self, kind: int, payload: bytes) -> None:
        self.sock.sendall(frame(kind, payload))

    def exit(self, code: int, **extra: object) -> None:
        self.send(EXIT, json.dumps({"ExitCode": code, **extra}).encode())

    def received(self) -> list[tuple[int, bytes]]:
        self.sock.settimeout(5)
        frames: list[tuple[int, bytes]] = []
        self.sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while data := self.sock.recv(65536):
                frames += self.reader.feed(data)
        return frames


class FakeEngine:
    def __init__(
        self,
        monitor: Monitor | None = None,
        config: dict | None = None,
        start_error: Exception | None = None,
    ) -> None:
        self.monitor = monitor
        self.config = config or {"Image": "busybox", "Cmd": ["sh"]}
        self.start_error = start_error
        self.calls: list[tuple] = []

    def create(self, body, name):
        self.calls.append(("create", name))
        return {"Id": "c" * 64, "Warnings": ["memory limited without swap"]}

    def start(self, cid, attach=""):
        self.calls.append(("start", cid, attach))
        if self.start_error:
            raise self.start_error
        return self.monitor.att if self.monitor else None

    def attach(self, cid, stdin=False):
        self.calls.append(("attach", cid, stdin))
        return self.monitor.att

    def inspect(self, ref):
        return {"Id": "c" * 64, "Config": self.config}

    def remove(self, cid, force=False):
        self.calls.append(("remove", cid, force))

    def kill(self, cid, sig):
        self.calls.append(("kill", cid, sig))
        self.monitor.exit(130)


BODY = {
    "Image": "busybox",
    "Cmd": ["sh", "-c", "echo hi"],
    "AttachStdin": False,
    "AttachStdout": True,
    "AttachStderr": True,
}


# ---- run, start -a, attach -------------------------------------------------------------


def test_run_copies_each_stream_to_its_side_and_returns_the_exit_code():
    mon = Monitor()
    mon.send(STDOUT, b"out\n")
    mon.send(STDERR, b"err\n")
    mon.exit(3)
    term, engine = FakeTerminal(), FakeEngine(mon)
    followed = verbs.run(engine, term, BODY, "web", rm=True, tty=False)
    assert followed.exit_code == 3 and followed.cid == "c" * 64
    assert (bytes(term.out), bytes(term.err)) == (b"out\n", b"err\n")
    assert ("message", "WARNING: memory limited without swap") in term.calls
    assert ("start", "c" * 64, "oe") in engine.calls
    assert mon.att.sock.fileno() == -1  # closed once followed


def test_run_attaches_only_the_streams_asked_for():
    mon = Monitor()
    mon.exit(0)
    engine = FakeEngine(mon)
    verbs.run(engine, FakeTerminal(), {**BODY, "AttachStderr": False}, None, rm=False, tty=False)
    assert ("start", "c" * 64, "o") in engine.calls


def test_run_rm_removes_a_container_that_failed_to_start_and_reraises():
    engine = FakeEngine(start_error=Conflict("cannot start"))
    with pytest.raises(Conflict):
        verbs.run(engine, FakeTerminal(), BODY, None, rm=True, tty=False)
    assert ("remove", "c" * 64, True) in engine.calls


def test_lost_monitor_is_said_once_and_gives_a_negative_code():
    mon = Monitor()
    mon.sock.close()
    term = FakeTerminal()
    followed = verbs.run(FakeEngine(mon), term, BODY, None, rm=False, tty=False)
    assert followed.exit_code == -1
    assert ("message", "Error: lost the container's monitor") in term.calls


def test_typed_input_reaches_the_container_and_eof_closes_its_stdin():
    mon = Monitor()
    r, w = os.pipe()
    os.write(w, b"ls\n")
    os.close(w)
    term = FakeTerminal(input_fd=r)
    engine = FakeEngine(mon, {"Image": "busybox", "Cmd": ["sh"], "OpenStdin": True})

    def kill_after_eof(*_):  # the monitor ends the container once stdin is closed
        frames = mon.received()
        if any(k == CLOSE_STDIN for k, _ in frames):
            mon.exit(0)
        return frames

    original = selectors.DefaultSelector
    seen: list[tuple[int, bytes]] = []

    class Watching(original):  # type: ignore[misc, valid-type]
        def select(self, timeout=None):
            seen.extend(kill_after_eof())
            return super().select(timeout)

    selectors.DefaultSelector = Watching  # type: ignore[misc]
    try:
        followed = verbs.attach(engine, term, "web")
    finally:
        selectors.DefaultSelector = original  # type: ignore[misc]
        os.close(r)
    assert followed.exit_code == 0
    assert (STDIN, b"ls\n") in seen and any(k == CLOSE_STDIN for k, _ in seen)
    assert ("raw", False) in term.calls  # no TTY: the terminal stays cooked


def test_detach_keys_leave_the_container_and_are_said_after_raw_mode_ends():
    mon = Monitor()
    r, w = os.pipe()
    os.write(w, b"echo\x10\x11")
    term = FakeTerminal(input_fd=r, size=(30, 90))
    engine = FakeEngine(mon, {"Image": "busybox", "Cmd": ["sh"], "OpenStdin": True, "Tty": True})
    followed = verbs.attach(engine, term, "web")
    os.close(r)
    os.close(w)
    assert followed.exit_code is None
    kinds = term.kinds()
    assert kinds.index("raw-end") < kinds.index("message")
    assert ("message", "read escape sequence") in term.calls
    frames = mon.received()
    assert (RESIZE, WINSIZE.pack(30, 90)) in frames  # the window's size, first
    assert ("raw", True) in term.calls
    assert term.resize_callback is not None


def test_detach_keys_are_dockers_spelling():
    assert verbs.parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert verbs.parse_detach_keys("a,ctrl-@,ctrl-]") == b"a\x00\x1d"
    with pytest.raises(ValueError, match="Unknown character: 'ctrl-pp'"):
        verbs.parse_detach_keys("ctrl-pp")


class _Interrupting(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    """A selector whose first wait is interrupted, as by Ctrl-C."""

    interrupted = False

    def select(self, timeout=None):
        if not _Interrupting.interrupted:
            _Interrupting.interrupted = True
            raise KeyboardInterrupt
        return super().select(timeout)


@pytest.fixture
def interrupt_once(monkeypatch):
    _Interrupting.interrupted = False
    monkeypatch.setattr(selectors, "DefaultSelector", _Interrupting)


def test_an_interrupt_forwarded_sends_sigint_and_keeps_following(interrupt_once):
    mon = Monitor()
    term, engine = FakeTerminal(actions=["forward"]), FakeEngine(mon)
    followed = verbs.run(engine, term, BODY, None, rm=False, tty=False)
    assert ("kill", "c" * 64, "INT") in engine.calls
    assert ("interrupted", 1, True, False) in term.calls
    assert followed.exit_code == 130  # the container's own, after the signal


def test_an_interrupt_that_stops_following_leaves_the_container_and_says_how_to_stop_it(
    interrupt_once,
):
    mon = Monitor()
    term, engine = FakeTerminal(actions=["stop"]), FakeEngine(mon)
    followed = verbs.run(engine, term, BODY, None, rm=False, tty=True)
    assert followed.exit_code is None
    assert not any(c[0] == "kill" for c in engine.calls)
    assert (
        "message",
        "Stopped following cccccccccccc; it keeps running (fake stop cccccccccccc)",
    ) in term.calls


def test_an_interrupt_the_terminal_raises_ends_the_verb(interrupt_once):
    term = FakeTerminal(actions=["raise"])
    with pytest.raises(KeyboardInterrupt):
        verbs.run(FakeEngine(Monitor()), term, BODY, None, rm=False, tty=True)


def test_an_interactive_session_goes_to_the_terminals_console_when_it_has_one():
    mon = Monitor()
    console = object()
    term = FakeTerminal(console=console)
    followed = verbs.run(
        FakeEngine(mon), term, {**BODY, "AttachStdin": True}, None, rm=False, tty=True
    )
    assert followed.console is console and followed.exit_code is None
    assert ("console", "c" * 64, True, True, "busybox sh -c echo hi") in term.calls
    assert "out" not in term.kinds()


def test_start_attaches_instead_when_the_container_already_runs():
    mon = Monitor()
    mon.exit(0)
    engine = FakeEngine(mon)
    engine.start = lambda cid, attach="": engine.calls.append(("start", cid)) or None
    verbs.start(engine, FakeTerminal(), "web", interactive=False)
    assert ("attach", "c" * 64, False) in engine.calls


# ---- exec, logs, build, stats, progress ---------------------------------------------------


class ExecEngine:
    def exec(self, ref, cmd, **kw):
        self.kw = kw
        return subprocess.Popen(cmd, stdin=kw["stdin"], stdout=kw["stdout"], stderr=kw["stderr"])


def test_exec_copies_the_commands_pipes_and_returns_its_code():
    term, engine = FakeTerminal(), ExecEngine()
    followed = verbs.exec_(
        engine,
        term,
        "web",
        [sys.executable, "-c", "import sys; print('in'); sys.stderr.write('oops\\n'); sys.exit(2)"],
        [],
    )
    assert followed.exit_code == 2
    assert (bytes(term.out), bytes(term.err)) == (b"in\n", b"oops\n")


def test_exec_interactive_goes_to_the_terminals_console():
    console = object()
    followed = verbs.exec_(
        ExecEngine(), FakeTerminal(console=console), "web", ["sh"], [], interactive=True, tty=True
    )
    assert followed.console is console


class Entry:
    def __init__(self, stream: str, data: bytes, time: str = "2024-01-02T03:04:05.5Z"):
        self.stream, self.data, self.time = stream, data, time


class LogsEngine:
    def logs(self, ref, **kw):
        self.kw = kw
        return iter([Entry("stdout", b"a\n"), Entry("stderr", b"b\n")])


def test_logs_puts_each_entry_on_its_stream_with_timestamps_and_flushes_when_following():
    term = FakeTerminal()
    engine = LogsEngine()
    assert verbs.logs(engine, term, "web", follow=True, timestamps=True, tail=3) == 0
    assert bytes(term.out) == b"2024-01-02T03:04:05.500000000Z a\n"
    assert bytes(term.err) == b"2024-01-02T03:04:05.500000000Z b\n"
    assert term.kinds() == ["flush", "out", "flush", "err", "flush", "flush"]
    assert engine.kw["tail"] == 3 and engine.kw["follow"] is True


class Event:
    def __init__(self, kind: str, text: str = "", image_id: str = "") -> None:
        self.kind, self.text, self.image_id = kind, text, image_id


class BuildEngine:
    def __init__(self, events, fail=None) -> None:
        self.events, self.fail = events, fail

    def build(self, context, **kw):
        self.kw = kw
        yield from self.events
        if self.fail:
            raise self.fail


EVENTS = [
    Event("context", "Sending build context to Docker daemon  2B"),
    Event("stdout", "Step 1/2 : FROM busybox\n"),
    Event("stderr", "warn\n"),
    Event("aux", image_id="sha256:" + "d" * 64),
]


def test_build_on_an_ansi_terminal_prints_dockers_bytes():
    term = FakeTerminal(ansi=True)
    assert verbs.build(BuildEngine(EVENTS), term, "ctx") == (0, "sha256:" + "d" * 64)
    assert bytes(term.out) == (
        b"Sending build context to Docker daemon  2B\r\r\n"
        b"Step 1/2 : FROM busybox\n\x1b[91mwarn\n\x1b[0m"
    )


def test_build_in_plain_text_puts_stderr_on_its_stream():
    term = FakeTerminal(ansi=False)
    verbs.build(BuildEngine(EVENTS), term, "ctx")
    assert bytes(term.out) == (
        b"Sending build context to Docker daemon  2B\nStep 1/2 : FROM busybox\n"
    )
    assert bytes(term.err) == b"warn\n"


def test_quiet_build_prints_the_id_and_replays_the_steps_only_when_it_fails():
    from dockerlab.engine.build import BuildFailed

    term = FakeTerminal()
    engine = BuildEngine(EVENTS)
    assert verbs.build(engine, term, "ctx", quiet=True, tags=["t"])[0] == 0
    assert bytes(term.out) == b"sha256:" + b"d" * 64 + b"\n" and term.err == b""
    assert engine.kw["quiet"] is False and engine.kw["tags"] == ["t"]
    failed = BuildFailed("The command '/bin/sh -c exit 3' returned a non-zero code: 3", 3)
    term = FakeTerminal()
    code, image = verbs.build(BuildEngine(EVENTS[:2], failed), term, "ctx", quiet=True)
    assert (code, image) == (failed.exit_code, "")
    assert bytes(term.err).startswith(b"Sending build context") and term.out == b""
    assert term.calls[-1] == ("message", str(failed))


def _sample(cid: str) -> dict:
    return {
        "id": cid,
        "name": "/" + cid,
        "memory_stats": {"usage": 10, "limit": 100},
        "cpu_stats": {},
        "precpu_stats": {},
        "pids_stats": {"current": 1},
    }


class StatsEngine:
    def __init__(self) -> None:
        self.samples: list[str] = []

    def containers(self, all=False):
        return [{"Id": "a" * 64}]

    def stats(self, ref, previous=None):
        if ref == "gone":
            from dockerlab.errors import NoSuchContainer

            raise NoSuchContainer(ref)
        self.samples.append(ref)
        return _sample(ref)


# what the CLI gives the stats verb: Docker's row context, table and error wording
STATS_VIEW = {
    "row": render.StatsRow,
    "table": render.stats,
    "message": lambda err: daemon_message(err, "stats"),
}


def test_live_stats_redraws_a_table_until_interrupted():
    term = FakeTerminal(live_limit=2)
    with pytest.raises(KeyboardInterrupt):
        verbs.stats(StatsEngine(), term, [], interval=0, **STATS_VIEW)
    tables = [c[1] for c in term.calls if c[0] == "live"]
    assert len(tables) == 2 and all(isinstance(t, Table) for t in tables)
    assert tables[0].columns[:2] == ["CONTAINER ID", "NAME"]
    assert tables[0].rows[0][0] == "a" * 12


def test_stats_without_stream_returns_one_table_from_a_second_sample():
    engine = StatsEngine()
    code, table = verbs.stats(
        engine, FakeTerminal(), ["web"], stream=False, interval=0, **STATS_VIEW
    )
    assert code == 0 and engine.samples == ["web", "web"]
    assert table.records()[0]["NAME"] == "web"


def test_stats_of_a_missing_container_says_so_and_fails():
    term = FakeTerminal()
    assert verbs.stats(StatsEngine(), term, ["gone"], stream=False, **STATS_VIEW) == (1, None)
    assert term.calls == [("message", "Error response from daemon: No such container: gone")]


def test_progress_gives_each_layer_its_line_and_other_events_a_line_of_their_own():
    term = FakeTerminal()
    verbs.progress(
        term, [("a1", "Pulling fs layer"), ("a1", "Downloading"), (None, "Digest: sha256:x")]
    )
    assert [c for c in term.calls if c[0] in ("progress", "out")] == [
        ("progress", "a1", "a1: Pulling fs layer"),
        ("progress", "a1", "a1: Downloading"),
        ("out", b"Digest: sha256:x\n"),
    ]


# ---- the two terminals' own choices ----------------------------------------------------


def test_cli_terminal_is_dockers_about_interrupts_and_progress_lines():
    from dockerlab.cli.terminal import CliTerminal

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    term = CliTerminal(out, io.StringIO(), io.StringIO())
    assert term.interrupted(1, True, False) == "forward"  # --sig-proxy, no TTY
    assert term.interrupted(5, True, True) == "raise"
    term.progress("a", "a: Waiting")
    term.progress("b", "b: Waiting")
    term.progress("a", "a: Done")
    assert out.getvalue() == "a: Waiting\nb: Waiting\n\x1b[2A\x1b[2K\ra: Done\n\x1b[1B"
    plain = io.StringIO()
    CliTerminal(plain, io.StringIO(), io.StringIO()).progress("a", "a: Done")
    assert plain.getvalue() == "a: Done\n"
    term.write_out("é".encode())  # a text stream without a buffer: decoded
    assert out.getvalue().endswith("é")


def test_cell_terminal_forwards_two_interrupts_then_stops_and_decodes_across_chunks():
    from dockerlab.magics.cellterm import CellTerminal

    out, err = io.StringIO(), io.StringIO()
    term = CellTerminal(out, err)
    assert [term.interrupted(n, True, True) for n in (1, 2, 3)] == ["forward", "forward", "stop"]
    assert term.interrupted(1, False, False) == "stop"
    data = "héllo\n".encode()
    term.write_out(data[:2])
    term.write_out(data[2:])
    term.write_err(b"\xff")
    term.finish()
    assert out.getvalue() == "héllo\n" and err.getvalue() == "\ufffd"
    assert bytes(term.stdout) == data
    assert "".join(term.transcript) == "héllo\n\ufffd"


def test_the_verbs_and_the_port_import_no_notebook_and_no_terminal_code():
    import ast
    import pathlib

    folder = pathlib.Path(verbs.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            for name in names:
                assert not name.startswith(
                    (
                        "IPython",
                        "ipywidgets",
                        "dockerlab.magics",
                        "termios",
                        "tty",
                        "dockerlab.cli.terminal",
                    )
                ), f"{path.name} imports {name}"


def _attach_with_input(tmp_path, data: bytes, *, as_file: bool):
    """`attach` (no TTY) with stdin a regular file or a pipe holding ``data``; the fake
    monitor exits once it has seen stdin's end. Returns the frames the verb sent."""
    mon = Monitor()
    if as_file:
        path = tmp_path / "in"
        path.write_bytes(data)
        fd = os.open(path, os.O_RDONLY)
    else:
        fd, w = os.pipe()
        os.write(w, data)
        os.close(w)
    seen: list[tuple[int, bytes]] = []
    original = selectors.DefaultSelector

    class Watching(original):  # type: ignore[misc, valid-type]
        def select(self, timeout=None):
            seen.extend(mon.received())
            if any(k == CLOSE_STDIN for k, _ in seen) and not any(k == EXIT for k, _ in seen):
                mon.exit(0)
                seen.append((EXIT, b""))
            return super().select(timeout)

    selectors.DefaultSelector = Watching  # type: ignore[misc]
    try:
        engine = FakeEngine(mon, {"Image": "busybox", "Cmd": ["cat"], "OpenStdin": True})
        followed = verbs.attach(engine, FakeTerminal(input_fd=fd), "web")
    finally:
        selectors.DefaultSelector = original  # type: ignore[misc]
        os.close(fd)
    assert followed.exit_code == 0
    return seen


def test_a_regular_file_as_stdin_is_streamed_then_closed(tmp_path):
    # epoll refuses a regular file (EPERM): it once ended the verb with "[Errno 1]"
    seen = _attach_with_input(tmp_path, b"from a file\n", as_file=True)
    assert b"".join(p for k, p in seen if k == STDIN) == b"from a file\n"
    assert [k for k, _ in seen if k != STDIN][0] == CLOSE_STDIN


def test_without_a_tty_the_detach_keys_are_data(tmp_path):
    # Docker watches for ctrl-p ctrl-q only on a TTY: piped bytes pass untouched
    seen = _attach_with_input(tmp_path, b"a\x10\x11b", as_file=False)
    assert b"".join(p for k, p in seen if k == STDIN) == b"a\x10\x11b"
