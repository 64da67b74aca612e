"""The CLI's terminal: the Terminal port (:mod:`dockerlab.terminal.port`) on this process's
own streams — Docker's bytes exactly, raw mode while attached to a TTY, SIGWINCH resizes."""

from __future__ import annotations

import os
import signal
import termios
import tty as ttylib

TYPE_CHECKING = False  # typing (and contextlib) cost milliseconds on every command
if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from typing import Any

CLEAR_SCREEN = "\033[2J\033[H"


class raw_terminal:
    """``with raw_terminal(fd, enabled):`` the terminal in raw mode, restored after."""

    def __init__(self, fd: int, enabled: bool) -> None:
        self.fd = fd
        self.saved: Any = None
        self.enabled = enabled and fd >= 0 and os.isatty(fd)

    def __enter__(self) -> None:
        if self.enabled:
            self.saved = termios.tcgetattr(self.fd)
            ttylib.setraw(self.fd, termios.TCSANOW)  # TCSAFLUSH would drop typed-ahead keys

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)


def _winsize(fd: int | None) -> tuple[int, int] | None:
    if fd is None:
        return None
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class CliTerminal:
    """The port on text streams ``out``, ``err`` and ``stdin`` (sys.std* for ``dockerlab``);
    bytes go to their binary buffer (decoded only for a stream without one, as in tests)."""

    prog = "dockerlab"
    ansi = True

    @property
    def redraws(self) -> bool:
        """Whether progress lines are rewritten in place (pull's bars): on a terminal."""
        return _isatty(self.out)

    def __init__(self, out: Any, err: Any, stdin: Any) -> None:
        self.out, self.err, self.stdin = out, err, stdin
        self._progress: dict[str, int] = {}

    # ---- output ----------------------------------------------------------------------
    def _write(self, stream: Any, data: bytes) -> None:
        binary = getattr(stream, "buffer", None)
        if binary is None:
            stream.write(data.decode(errors="replace"))
        else:
            binary.write(data)

    def write_out(self, data: bytes) -> None:
        self._write(self.out, data)

    def write_err(self, data: bytes) -> None:
        self._write(self.err, data)

    def message(self, text: str) -> None:
        self.flush()
        self.err.write(text + "\n")
        self.err.flush()

    def flush(self) -> None:
        for stream in (self.out, self.err):
            stream.flush()  # the text layer first: it may hold what was printed before
            binary = getattr(stream, "buffer", None)
            if binary is not None:
                binary.flush()

    def live(self, rendered: Any) -> None:
        self.out.write(CLEAR_SCREEN + rendered.text)
        self.out.flush()

    def progress(self, key: str, line: str) -> None:
        """Docker's jsonmessage display: on a terminal each key keeps its line, rewritten
        in place (cursor up, erase line); elsewhere each status is a line of its own."""
        if not _isatty(self.out):
            self.out.write(line + "\n")
            return
        index = self._progress.get(key)
        if index is None:
            self._progress[key] = len(self._progress)
            self.out.write(line + "\n")
            return
        up = len(self._progress) - index
        self.out.write(f"\x1b[{up}A\x1b[2K\r{line}\n" + (f"\x1b[{up - 1}B" if up > 1 else ""))

    # ---- input -----------------------------------------------------------------------
    def input_fd(self) -> int | None:
        return _fileno(self.stdin)

    def raw(self, enabled: bool) -> AbstractContextManager[None]:
        fd = self.input_fd()
        return raw_terminal(-1 if fd is None else fd, enabled)

    def size(self) -> tuple[int, int] | None:
        return _winsize(_fileno(self.out)) or _winsize(self.input_fd())

    def on_resize(self, callback: Any) -> None:
        def resized(*_: object) -> None:
            size = self.size()
            if size:
                callback(*size)

        try:
            signal.signal(signal.SIGWINCH, resized)
        except ValueError:  # not the main thread: no window-size signal here
            pass

    def interrupted(self, count: int, sig_proxy: bool, tty: bool) -> str:
        # docker's client proxies signals only to a container without a TTY
        return "forward" if sig_proxy and not tty else "raise"

    # ---- the CLI follows everything in the foreground --------------------------------
    def console(self, session: Any) -> Any:
        return None

    def exec_console(self, *args: Any) -> Any:
        return None

    def exec_streams(self, interactive: bool) -> tuple[Any, Any, Any]:
        import subprocess

        return (None if interactive else subprocess.DEVNULL), None, None
