"""LifecycleView: the container state machine, lit where the container is, with its commands."""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as w
from traitlets import Bool, Int, List, Unicode, observe

from dockerlab.widgets import _model as m
from dockerlab.widgets import svg
from dockerlab.widgets._base import (
    ERROR,
    FAINT,
    MUTED,
    friendly_init,
    gone,
    lookup_container,
    resolve_engine,
)
from dockerlab.widgets.i18n import t
from dockerlab.widgets.static import StaticPicture

#: The commands a state allows (what Docker accepts without an error).
ALLOWED = {
    "created": ("start", "rm"),
    "running": ("pause", "stop", "kill", "restart", "rm -f"),
    "paused": ("unpause", "stop", "kill", "rm -f"),
    "restarting": ("stop", "kill", "rm -f"),
    "exited": ("start", "restart", "rm"),
    "dead": ("rm",),
    "removed": (),
}
COMMANDS = ("start", "pause", "unpause", "stop", "kill", "restart", "rm", "rm -f")
#: Where states the diagram has no box for are drawn.
DRAWN_AS = {"restarting": "running", "dead": "exited"}


class LifecycleView(StaticPicture, w.VBox):
    """Docker's container states (created → running ⇄ paused → exited → removed, with the
    start / restart edges back) drawn as SVG, the container's state lit and the ``docker``
    commands on the edges. :meth:`refresh` follows the container; :meth:`follow` polls in a
    thread until the container is removed, :meth:`unfollow` or the widget closes.

    One button per command; each is a method too: :meth:`start`, :meth:`pause`,
    :meth:`unpause`, :meth:`stop`, :meth:`kill`, :meth:`restart`, :meth:`remove`, or
    :meth:`click` with the button's name (which, like a button, shows errors instead of
    raising them).
    """

    container = Unicode(read_only=True)
    state = Unicode("created", read_only=True)
    #: The states seen, in order, without repeats (created, running, paused, running, …).
    states_seen = List(Unicode(), read_only=True)
    message = Unicode("")
    following = Bool(False, read_only=True)
    stop_timeout = Int(10)  # seconds ``stop`` waits before SIGKILL, as ``docker stop -t``

    @friendly_init
    def __init__(
        self,
        container: str,
        engine: Any = None,
        follow: bool = False,
        interval: float = 0.5,
        stop_timeout: int = 10,
        **kwargs: Any,
    ) -> None:
        self._engine = resolve_engine(engine)
        info = lookup_container(self._engine, container, "LifecycleView")
        self._cid = info["Id"]
        self._name = info["Name"].lstrip("/")
        self._lock = threading.RLock()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._diagram = w.HTML()
        self._label = w.HTML()
        self._message = w.HTML()
        self._buttons = {
            cmd: w.Button(
                description=f"docker {cmd}",
                layout=w.Layout(width="auto"),
                button_style="danger" if cmd.startswith("rm") else "",
            )
            for cmd in COMMANDS
        }
        for cmd, button in self._buttons.items():
            button.on_click(lambda _b, c=cmd: self.click(c))
        super().__init__(**kwargs)
        self.set_trait("container", container)
        self.stop_timeout = stop_timeout
        self.children = [
            self._label,
            self._diagram,
            # the buttons wrap onto a second row in a narrow notebook (1100 px and less)
            w.HBox(list(self._buttons.values()), layout=w.Layout(flex_flow="row wrap")),
            self._message,
        ]
        self.refresh(force=True)
        if follow:
            self.follow(interval)

    def __repr__(self) -> str:
        return f"LifecycleView({m.short_ref(self.container)}: {self.state})"

    @property
    def allowed(self) -> tuple[str, ...]:
        """The commands the current state allows."""
        return ALLOWED.get(self.state, ())

    def diagram_svg(self) -> str:
        return self._diagram.value

    # ---- following ------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> str:
        """Read the container's state now; redraw if it changed. Returns the state."""
        from dockerlab.errors import NoSuchContainer

        with self._lock:
            try:
                state = self._engine.inspect(self._cid)["State"]["Status"]
            except NoSuchContainer:
                state = "removed"
            if state != self.state or force:
                self.set_trait("state", state)
                if not self.states_seen or self.states_seen[-1] != state:
                    self.set_trait("states_seen", [*self.states_seen, state])
                self._render()
            return state

    def follow(self, interval: float = 0.5) -> None:
        """Poll the state every ``interval`` seconds in a thread (until removed or closed)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._halt.clear()
            self._thread = threading.Thread(
                target=self._poll, args=(interval,), name="dockerlab-lifecycle", daemon=True
            )
            self.set_trait("following", True)
            self._thread.start()

    def unfollow(self, timeout: float | None = 5.0) -> None:
        self._halt.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def close(self) -> None:
        if hasattr(self, "_halt"):  # a view whose making failed has no thread
            self.unfollow()
        super().close()

    def _poll(self, interval: float) -> None:
        try:
            while not self._halt.wait(interval):
                try:
                    if self.refresh() == "removed":
                        break
                except Exception:  # noqa: BLE001 - keep following through a failed read
                    pass
        finally:
            self.set_trait("following", False)

    # ---- commands -------------------------------------------------------------------------
    def start(self) -> None:
        self._run(lambda: self._engine.start(self._cid))

    def pause(self) -> None:
        self._run(lambda: self._engine.pause(self._cid))

    def unpause(self) -> None:
        self._run(lambda: self._engine.unpause(self._cid))

    def stop(self, timeout: int | None = None) -> None:
        t = self.stop_timeout if timeout is None else timeout
        self._run(lambda: self._engine.stop(self._cid, timeout=t))

    def kill(self, signal: str = "KILL", settle: float = 2.0) -> None:
        """Send ``signal`` (like ``docker kill``, which does not wait), then follow the
        container for up to ``settle`` seconds while it exits."""
        self._run(lambda: self._engine.kill(self._cid, signal))
        deadline = time.monotonic() + settle
        while self.state in ("running", "paused") and time.monotonic() < deadline:
            time.sleep(0.02)
            self.refresh()

    def restart(self, timeout: int | None = None) -> None:
        t = self.stop_timeout if timeout is None else timeout
        self._run(lambda: self._engine.restart(self._cid, timeout=t))

    def remove(self, force: bool = False) -> None:
        self._run(lambda: self._engine.remove(self._cid, force=force))

    rm = remove

    def click(self, command: str) -> bool:
        """What the button ``command`` does ("start", "pause", …, "rm", "rm -f"): run it, show
        any error in :attr:`message` instead of raising; True if it worked."""
        actions = {
            "start": self.start,
            "pause": self.pause,
            "unpause": self.unpause,
            "stop": self.stop,
            "kill": self.kill,
            "restart": self.restart,
            "rm": self.remove,
            "rm -f": lambda: self.remove(force=True),
        }
        if command not in actions:
            raise ValueError(f"unknown command {command!r}: one of {', '.join(COMMANDS)}")
        from dockerlab.errors import DockerlabError

        # progress while the command runs (stop waits up to stop_timeout seconds)
        self.message = ""
        self._message.value = (
            f'<div style="color:{MUTED}">'
            + html.escape(
                t("stopping", t=self.stop_timeout)
                if command in ("stop", "restart")
                else t("working", cmd=command)
            )
            + "</div>"
        )
        pressed = self._buttons.get(command)
        for button in self._buttons.values():
            button.disabled = True
        if pressed is not None:
            pressed.icon = "hourglass-half"
        try:
            actions[command]()
        except DockerlabError as exc:
            self.message = f"docker {command}: {gone(exc, self._name)}"
            return False
        finally:
            if pressed is not None:
                pressed.icon = ""
            self._render()
        self.message = ""
        self._message.value = ""  # the progress line goes (no change event when "" already)
        return True

    def _run(self, action: Any) -> None:
        try:
            action()
        finally:
            self.refresh()

    # ---- rendering ------------------------------------------------------------------------
    @observe("message")
    def _on_message(self, change: dict[str, Any]) -> None:
        text = change["new"]
        self._message.value = (
            f'<div style="color:{ERROR}">{html.escape(text)}</div>' if text else ""
        )

    def _render(self) -> None:
        state = self.state
        allowed = set(self.allowed)
        drawn = DRAWN_AS.get(state, state)
        seen = [DRAWN_AS.get(s, s) for s in self.states_seen]
        self._diagram.value = svg.lifecycle_svg(drawn, {c.split()[0] for c in allowed}, seen)
        for cmd, button in self._buttons.items():
            button.disabled = cmd not in allowed
        path = " → ".join(self.states_seen[-8:])
        self._label.value = (
            f"<b>{html.escape(self._name)}</b> {t('is_state')} <b>{state}</b>"
            f'<div style="color:{FAINT};font-size:11px">{t("seen")}: {path}</div>'
        )
