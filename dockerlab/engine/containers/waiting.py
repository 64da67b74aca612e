"""``POST /containers/{id}/wait``: Docker's three conditions, for a waiter that may give up.

    not-running   returns at once for a container that is not running, else at its exit
    next-exit     the exit after the wait began, even of a container not started yet
                  (``docker run`` asks for it before it starts the container)
    removed       once the container is gone (``run --rm``), with the code of its last exit

A :class:`Waiter` is made first (it looks at the journal's end and at the container, so an
exit after that moment is never missed) and waited on later: the API sends its headers in
between, and the client starts the container once it has them. It follows the event journal
(the monitors' ``die`` with ``exitCode``, ``destroy``); once a second it also looks at the
container itself, so a lost event (a full disk) delays an answer by a second, never forever,
and a ``cancelled`` test (the client went away) is asked.
"""

from __future__ import annotations

import itertools
import time

from dockerlab.engine import events
from dockerlab.engine.containers.store import ZERO_TIME, ContainerStore
from dockerlab.errors import NoSuchContainer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

CONDITIONS = ("not-running", "next-exit", "removed")
_SETTLE = 5.0  # seconds a container may take to record the exit its monitor announced


class Waiter:
    """A wait on one container from now on; :meth:`wait` blocks, :meth:`close` if unused."""

    def __init__(self, store: ContainerStore, ref: str, condition: str = "not-running") -> None:
        from dockerlab.errors import InvalidParameter

        if condition not in CONDITIONS:
            raise InvalidParameter(f"invalid condition: {condition!r}")
        self.store, self.condition = store, condition
        c = store.find(ref)
        self.id = c.id
        filters = {"type": ["container"], "container": [c.id], "event": ["die", "destroy"]}
        self._events = events.subscribe(store.paths, filters)
        try:
            first = next(self._events)  # the journal's end is where we stand, from now on
            self._pending = [first] if first is not None else []
            c.refresh()  # after: an exit from now on is in the journal, or seen here
        except BaseException:
            self.close()
            raise
        self.code = int(c.state.get("ExitCode") or 0)
        self.running = c.running
        self.finished = c.state.get("FinishedAt") or ZERO_TIME
        self.restarts = int(c.state.get("RestartCount") or 0)

    def close(self) -> None:
        self._events.close()  # the journal's descriptors and inotify watch

    def wait(self, cancelled: Callable[[], bool] | None = None) -> dict[str, Any] | None:
        """``{"StatusCode", "Error"}`` once the condition holds; None if ``cancelled()``
        turned true first."""
        try:
            code = self._wait(cancelled)
        finally:
            self.close()
        return None if code is None else {"StatusCode": code, "Error": None}

    def _wait(self, cancelled: Callable[[], bool] | None) -> int | None:
        if self.condition == "not-running" and not self.running:
            return self.code
        pending, self._pending = self._pending, []
        # chained lazily: the follower never ends, so a list of it would never be made
        for ev in itertools.chain(pending, self._events):
            if ev is None:  # a tick: the container itself, then the client
                done = self._looked_at()
                if done is not None:
                    return done
                if cancelled is not None and cancelled():
                    return None
                continue
            if ev.get("Action") == "destroy":
                return self.code
            try:
                self.code = int((ev.get("Actor") or {}).get("Attributes", {}).get("exitCode"))
            except (TypeError, ValueError):
                pass
            if self.condition != "removed":
                self._settle()
                return self.code
        return self.code  # (the journal's follower never ends by itself)

    def _looked_at(self) -> int | None:
        """The answer the container's own state gives (None: wait on)."""
        c = self.store.load(self.id)
        if c is None:
            return self.code
        try:
            c.refresh()
        except NoSuchContainer:
            return self.code
        if self.condition == "removed":
            if not c.running:
                self.code = int(c.state.get("ExitCode") or 0)
            return None
        if self.condition == "not-running" and not c.running:
            return int(c.state.get("ExitCode") or 0)
        finished = c.state.get("FinishedAt") or ZERO_TIME
        if finished not in (self.finished, ZERO_TIME):  # an exit we did not hear of
            return int(c.state.get("ExitCode") or 0)
        return None

    def _settle(self) -> None:
        """The monitor tells ``die`` before it writes the exit: wait (bounded) until the
        container shows it, so what the client asks next sees a stopped container — or
        one its restart policy is bringing back."""
        deadline = time.monotonic() + _SETTLE
        while time.monotonic() < deadline:
            c = self.store.load(self.id)
            if c is None:
                return
            try:
                c.refresh()
            except NoSuchContainer:
                return
            if (
                not c.running
                or c.state["Status"] == "restarting"
                or int(c.state.get("RestartCount") or 0) > self.restarts
            ):
                return
            time.sleep(0.01)
