"""The port a streaming verb writes against (see :mod:`dockerlab.terminal`).

A verb never touches file descriptors, ``sys.stdout`` or IPython: it calls these methods.
Everything a face does differently (Docker's terminal bytes, the notebook's cell) lives
behind them; everything a verb decides (which streams to attach, when a container has
ended, what the detach keys are, what an interrupt means) lives in the verb.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol

from dockerlab.terminal.session import Session

__all__ = ["InterruptAction", "Session", "Terminal"]

# What the count-th interrupt (Ctrl-C on a terminal, the kernel's interrupt in a notebook)
# does to a verb that follows a container or a command:
#   forward  send SIGINT to it and keep following (docker's --sig-proxy)
#   stop     stop following: an attached container keeps running, an exec'd command is
#            killed (SIGKILL)
#   raise    let KeyboardInterrupt end the verb (the CLI exits 130)
InterruptAction = Literal["forward", "stop", "raise"]


class Terminal(Protocol):
    """Where a streaming verb runs: the CLI's terminal or a notebook cell."""

    #: the name a hint to the user starts with ("dockerlab", "%docker")
    prog: str
    #: whether escape sequences are shown as Docker prints them (build's red stderr,
    #: "\r\r\n" after the context line); a notebook cell shows plain text instead
    ansi: bool

    # ---- output ----------------------------------------------------------------------
    def write_out(self, data: bytes) -> None:
        """The program's standard output (the container's, the build's steps)."""

    def write_err(self, data: bytes) -> None:
        """The program's standard error."""

    def message(self, text: str) -> None:
        """One line from dockerlab itself on standard error (warnings, errors, "read
        escape sequence"); never part of a program's collected output."""

    def flush(self) -> None:
        """Make what was written visible now (a follower writes as output arrives)."""

    def live(self, rendered: Any) -> None:
        """Replace the screen with ``rendered`` (``stats`` redraws each second)."""

    def progress(self, key: str, line: str) -> None:
        """Show ``line`` as the status of ``key`` (a layer being pulled or pushed):
        one line per key, rewritten in place where the terminal can."""

    # ---- input -----------------------------------------------------------------------
    def input_fd(self) -> int | None:
        """A file descriptor to read the user's keystrokes from, or None (no input)."""

    def raw(self, enabled: bool) -> AbstractContextManager[None]:
        """Raw mode on the input while attached to a container's terminal."""

    def size(self) -> tuple[int, int] | None:
        """(rows, columns) of the window, or None."""

    def on_resize(self, callback: Any) -> None:
        """Call ``callback(rows, cols)`` whenever the window changes size."""

    def interrupted(self, count: int, sig_proxy: bool, tty: bool) -> InterruptAction:
        """What the ``count``-th interrupt while following does (see InterruptAction)."""

    # ---- where the face follows on its own ---------------------------------------------
    def console(self, session: Session) -> Any:
        """Follow an interactive session in the background and return the object that
        does (the notebook's console widget), or None to follow it here, in the verb."""

    def exec_console(
        self, engine: Any, ref: str, cmd: list[str], env: list[str], workdir: str, user: str
    ) -> Any:
        """``exec -i``/``-t``: a console for the command on a terminal of its own, or None
        to give the command this terminal's streams."""

    def exec_streams(self, interactive: bool) -> tuple[Any, Any, Any]:
        """(stdin, stdout, stderr) for an exec'd command: file descriptors it inherits,
        or ``subprocess.PIPE`` for output the verb copies to write_out / write_err."""
