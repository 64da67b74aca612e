"""The notebook's terminal: the Terminal port (:mod:`dockerlab.terminal.port`) on a cell.

Output goes into the cell as it arrives (and is kept, for ``RunResult``); tables that
redraw (``stats``) and progress lines replace one display each; an interactive session
becomes a :class:`~dockerlab.magics.console.Console` widget that follows the container in
the background. The kernel's interrupt is the only Ctrl-C a cell has: it is forwarded to
the container twice, the third stops following.
"""

from __future__ import annotations

import codecs
import contextlib
from contextlib import AbstractContextManager
from typing import Any


class CellTerminal:
    prog = "%docker"
    ansi = False  # the cell shows plain text: stderr in its own stream, no escape sequences
    redraws = True  # progress lines (pull, push) replace one display

    def __init__(self, out: Any, err: Any) -> None:
        self.out, self.err = out, err
        self.stdout, self.stderr = bytearray(), bytearray()
        self.transcript: list[str] = []  # what the program wrote, in order (build output)
        self._decoders = {
            id(b): codecs.getincrementaldecoder("utf-8")(errors="replace")
            for b in (self.stdout, self.stderr)
        }
        self._live: Any = None
        self._lines: dict[str, str] = {}
        self._progress: Any = None

    # ---- output ----------------------------------------------------------------------
    def _write(self, stream: Any, kept: bytearray, data: bytes) -> None:
        kept += data
        text = self._decoders[id(kept)].decode(data)
        if text:
            self.transcript.append(text)
            stream.write(text)

    def write_out(self, data: bytes) -> None:
        self._write(self.out, self.stdout, data)

    def write_err(self, data: bytes) -> None:
        self._write(self.err, self.stderr, data)

    def message(self, text: str) -> None:
        self.err.write(text + "\n")

    def flush(self) -> None:
        self.out.flush()
        self.err.flush()

    def finish(self) -> None:
        """The end of a stream cut inside a UTF-8 character, written out."""
        for stream, kept in ((self.out, self.stdout), (self.err, self.stderr)):
            tail = self._decoders[id(kept)].decode(b"", final=True)
            if tail:
                self.transcript.append(tail)
                stream.write(tail)

    def live(self, rendered: Any) -> None:
        from IPython.display import display

        from dockerlab.magics.display import value_of

        table = value_of(rendered)
        if self._live is None:
            self._live = display(table, display_id=True)
        else:
            self._live.update(table)

    def progress(self, key: str, line: str) -> None:
        from IPython.display import display

        from dockerlab.magics.display import Output

        self._lines[key] = line
        shown = Output("\n".join(self._lines.values()))
        if self._progress is None:
            self._progress = display(shown, display_id=True)
        else:
            self._progress.update(shown)

    # ---- input: a cell has none but the interrupt ------------------------------------
    def input_fd(self) -> int | None:
        return None

    def raw(self, enabled: bool) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def size(self) -> tuple[int, int] | None:
        return None

    def on_resize(self, callback: Any) -> None:
        pass

    def interrupted(self, count: int, sig_proxy: bool, tty: bool) -> str:
        return "forward" if sig_proxy and count < 3 else "stop"

    # ---- consoles ----------------------------------------------------------------------
    def console(self, session: Any) -> Any:
        from dockerlab.magics.console import Console

        return Console(
            session.att,
            engine=session.engine,
            cid=session.cid,
            tty=session.tty,
            stdin=session.stdin,
            label=session.label,
            sig_proxy=session.sig_proxy,
        )

    def exec_console(
        self, engine: Any, ref: str, cmd: list[str], env: list[str], workdir: str, user: str
    ) -> Any:
        from dockerlab.magics.console import Console
        from dockerlab.magics.ptyattach import exec_console

        att = exec_console(engine, ref, cmd, env, workdir, user)
        return Console(
            att,
            engine=engine,
            cid="",
            tty=True,
            stdin=True,
            label=" ".join([ref, *cmd]),
            sig_proxy=False,
        )

    def exec_streams(self, interactive: bool) -> tuple[Any, Any, Any]:
        import subprocess

        return subprocess.DEVNULL, subprocess.PIPE, subprocess.PIPE
