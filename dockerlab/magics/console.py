"""An interactive console for a container, as an ipywidgets 8 widget.

``%docker run -it busybox sh`` (and ``run -i``, ``start -ai``, ``attach``) in a notebook
returns a :class:`Console`: the container's terminal output drawn as HTML (ANSI colours as
``<span>``s), a line input that sends the line and a newline on Enter, and buttons for
Tab (the line typed so far and a tab: the shell completes it), Esc, Ctrl-C, Ctrl-D and Detach
(a browser keeps Tab and Esc for itself: Tab moves the focus, Esc leaves the cell). It
talks to the container's monitor through an
:class:`~dockerlab.engine.runtime.streams.Attachment` read by a background thread; the kernel never
forks.

Everything a click does is a method, so a console can be driven from code (and tests)::

    c = %docker run -it busybox sh
    c.send("echo hi\\n")
    c.wait_for("hi")
    c.eof()            # Ctrl-D: the shell exits
    c.wait()           # → 0

With a TTY, Ctrl-C and Ctrl-D are the bytes ``\\x03`` and ``\\x04`` (the container's
terminal turns them into SIGINT and end-of-file); without one, Ctrl-C sends SIGINT to the
container (as docker's ``--sig-proxy``) and Ctrl-D closes its stdin.
"""

from __future__ import annotations

import codecs
import threading
import time
from html import escape
from typing import Any

import ipywidgets as widgets

from dockerlab.magics.ansi import Screen
from dockerlab.widgets.i18n import t

__all__ = ["Console"]

_ROWS, _COLS = 24, 100
_SHOWN_LINES = 500  # the HTML view keeps the last lines; text() has the whole scrollback
_REFRESH = 0.05  # seconds between two redraws while output streams in

_VIEW_STYLE = (
    "<style>.dockerlab-console pre.dockerlab-term{margin:0;padding:4px 6px;"
    "background:#1e1e1e;color:#e5e5e5;font-family:var(--jp-code-font-family,monospace);"
    "font-size:var(--jp-code-font-size,13px);line-height:1.3;white-space:pre-wrap;"
    "word-break:break-all}"
    ".dockerlab-console .dockerlab-scroll{max-height:24em;overflow-y:auto;display:flex;"
    "flex-direction:column-reverse;background:#1e1e1e}</style>"
)


class Console(widgets.VBox):
    """A container's terminal in the notebook (see the module docstring).

    ``attachment`` is the engine's Attachment (started or attached with the streams
    wanted); ``tty`` says whether the container has a terminal, ``stdin`` whether input is
    attached. ``label`` names it (image and command) in the header and in ``repr``.
    """

    def __init__(
        self,
        attachment: Any,
        *,
        engine: Any = None,
        cid: str = "",
        tty: bool = True,
        stdin: bool = True,
        label: str = "",
        sig_proxy: bool = True,
        **kwargs: Any,
    ) -> None:
        self._att = attachment
        self._engine = engine
        self.cid = cid
        self.tty = tty
        self.stdin = stdin
        self.label = label
        self.sig_proxy = sig_proxy
        self.exit_code: int | None = None
        self.state = "running"
        self._screen = Screen(_ROWS, _COLS)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._detaching = False
        self._dirty = False
        self._last_draw = 0.0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

        self._title = widgets.HTML(self._title_html())
        self._view = widgets.HTML(self._view_html(""))
        self._view.add_class("dockerlab-console")
        self._input = widgets.Text(
            placeholder=t("type_line") if stdin else t("no_stdin"),
            disabled=not stdin,
            continuous_update=True,
            layout=widgets.Layout(flex="1 1 auto", width="auto"),
        )
        self._input.on_msg(self._on_input_msg)
        self._buttons = {
            "tab": widgets.Button(
                description="Tab",
                tooltip=t("tab_tip"),
                disabled=not stdin,
                layout=widgets.Layout(width="auto"),
            ),
            "esc": widgets.Button(
                description="Esc",
                tooltip=t("esc_tip"),
                disabled=not stdin,
                layout=widgets.Layout(width="auto"),
            ),
            "ctrl-c": widgets.Button(
                description="Ctrl-C",
                tooltip="interrupt (SIGINT)",
                layout=widgets.Layout(width="auto"),
            ),
            "ctrl-d": widgets.Button(
                description="Ctrl-D",
                tooltip="end of input",
                disabled=not stdin,
                layout=widgets.Layout(width="auto"),
            ),
            "detach": widgets.Button(
                description=t("detach"),
                tooltip=t("detach_tip"),
                layout=widgets.Layout(width="auto"),
            ),
        }
        self._buttons["tab"].on_click(lambda _b: self.tab())
        self._buttons["esc"].on_click(lambda _b: self.escape())
        self._buttons["ctrl-c"].on_click(lambda _b: self.interrupt())
        self._buttons["ctrl-d"].on_click(lambda _b: self.eof())
        self._buttons["detach"].on_click(lambda _b: self.detach())
        controls = widgets.HBox(
            [self._input, *self._buttons.values()], layout=widgets.Layout(width="100%")
        )
        super().__init__([self._title, self._view, controls], **kwargs)
        if tty:
            attachment.resize(_ROWS, _COLS)
        attachment.sock.settimeout(_REFRESH * 2)
        self._thread = threading.Thread(target=self._read, name=f"console-{cid[:12]}", daemon=True)
        self._thread.start()

    # ---- what a click does ------------------------------------------------------------
    def send(self, data: str | bytes) -> None:
        """Write to the container's stdin (``"ls\\n"`` runs ``ls`` in a shell)."""
        if not self.stdin:
            raise RuntimeError("this console has no stdin attached")
        if self.state != "running":
            raise RuntimeError(f"the console is {self.state}")
        self._att.write(data.encode() if isinstance(data, str) else bytes(data))

    def submit(self, line: str | None = None) -> None:
        """What Enter in the input line does: send the line and a newline, clear it."""
        if line is None:
            line = self._input.value
            self._input.value = ""
        self.send(line + "\n")

    def tab(self, line: str | None = None) -> None:
        """Tab: send the input line typed so far (cleared from the box) and ``\t``; the
        container's shell completes it on its own line, as in a terminal."""
        if self.state != "running" or not self.stdin:
            return
        if line is None:
            line = self._input.value
            self._input.value = ""
        self.send(line + "\t")

    def escape(self) -> None:
        """Esc: the byte ``\x1b`` (vi's command mode, leaving less…)."""
        if self.state != "running" or not self.stdin:
            return
        self.send("\x1b")

    def interrupt(self) -> None:
        """Ctrl-C: ``\\x03`` to the terminal, or SIGINT to the container without one."""
        if self.state != "running":
            return
        if self.tty and self.stdin:
            self._att.write(b"\x03")
        elif self._engine is not None and self.cid:
            from dockerlab.errors import DockerlabError

            try:
                self._engine.kill(self.cid, "INT")
            except DockerlabError:
                pass

    def eof(self) -> None:
        """Ctrl-D: ``\\x04`` to the terminal, or close stdin without one."""
        if self.state != "running" or not self.stdin:
            return
        if self.tty:
            self._att.write(b"\x04")
        else:
            self._att.close_stdin()

    def detach(self) -> None:
        """Stop watching; the container keeps running (``%docker attach`` to come back)."""
        if self.state != "running":
            return
        self._detaching = True
        import socket

        try:
            self._att.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._done.wait(5)

    # ---- for code and tests -------------------------------------------------------------
    @property
    def text(self) -> str:
        """The terminal's content as plain text."""
        with self._lock:
            return self._screen.text()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait until the container exits (or the console detaches); the exit code."""
        self._done.wait(timeout)
        return self.exit_code

    def wait_for(self, needle: str, timeout: float = 10) -> bool:
        """Wait until ``needle`` shows in the terminal; False on timeout."""
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            if time.monotonic() > deadline or (self._done.is_set() and needle not in self.text):
                return needle in self.text
            time.sleep(0.02)
        return True

    def __repr__(self) -> str:
        mode = (
            "-it"
            if self.tty and self.stdin
            else ("-i" if self.stdin else ("-t" if self.tty else "attached"))
        )
        return (
            f"Console({self.label or self.cid[:12]} {mode}: Enter sends a line; "
            f"Ctrl-C, Ctrl-D and Detach buttons)"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = repr(self)
        return data

    # ---- inside ---------------------------------------------------------------------------
    def _on_input_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("event") == "submit" and self.state == "running":
            self.submit()

    def _read(self) -> None:
        att = self._att
        try:
            while True:
                try:
                    item = att.read()
                except TimeoutError:
                    if self._dirty:
                        self._draw()
                    continue
                except OSError:
                    break
                if item is None:
                    break
                text = self._decoder.decode(item[1])
                with self._lock:
                    self._screen.feed(text)
                    self._dirty = True
                if time.monotonic() - self._last_draw >= _REFRESH:
                    self._draw()
        finally:
            if self._detaching:
                self.state = "detached"
            else:
                self.state = "exited"
                exit_ = att.exit or {}
                self.exit_code = int(exit_.get("ExitCode", -1))
            try:
                att.close()
            except OSError:
                pass
            self._input.disabled = True
            for b in self._buttons.values():
                b.disabled = True
            self._draw()
            self._title.value = self._title_html()
            self._done.set()

    def _draw(self) -> None:
        with self._lock:
            html = self._screen.html(last=_SHOWN_LINES)
            self._dirty = False
        self._last_draw = time.monotonic()
        self._view.value = self._view_html(html)

    def _view_html(self, html: str) -> str:
        return (
            f'{_VIEW_STYLE}<div class="dockerlab-scroll"><div>'
            f"{html or '<pre class=dockerlab-term> </pre>'}</div></div>"
        )

    def _title_html(self) -> str:
        if self.state == "exited":
            status = t("exited_code", code=self.exit_code)
        elif self.state == "detached":
            status = t("detached")
        else:
            status = t("running")
        name = escape(self.label or self.cid[:12])
        return (
            f"<b>{name}</b> <code>{escape(self.cid[:12])}</code> "
            f"<span style='opacity:0.7'>{status}</span>"
        )
