"""NetworkView: the networks, the containers on them, their addresses, ports and links, live."""

from __future__ import annotations

import html
import os
import threading
from typing import Any

import ipywidgets as w
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate

from dockerlab.widgets import netpicture as npic
from dockerlab.widgets._base import error_html, resolve_engine
from dockerlab.widgets.static import StaticPicture

MAX_RECORDS = 64  # network records read from the state root


class NetworkView(StaticPicture, w.VBox):
    """The engine's networks drawn as SVG: each network (the default ``bridge`` with its
    subnet, gateway and host device; user networks) as a bus, each container as a box with
    its interfaces and addresses wired to its networks, published ports as arrows from the
    host's ``ip:port`` to the container's port, ``--link`` s as dashed arcs. All of it is
    derived from the containers' inspect documents and the networks' records
    (:mod:`dockerlab.widgets.netpicture`), so what ``inspect`` says is what is drawn.

    ``containers`` are the ones to show (all of the engine's when none is given, stopped ones
    included). :meth:`refresh` reads the engine once; the widget follows changes by polling
    every ``interval`` seconds in a thread (``follow=False`` not to) until it is closed or
    :meth:`unfollow`\\ed. A container that disappears is drawn as removed (the last
    :data:`~dockerlab.widgets.netpicture.MAX_REMOVED` of them); an error reading the engine
    is shown inside the widget, the last picture kept, and the next refresh tries again.
    """

    interval = Float(1.0)
    per_row = Int(4)
    following = Bool(False, read_only=True)
    error = Unicode("", read_only=True)  # the last refresh's error, "" when it worked

    def __init__(
        self,
        *containers: str,
        engine: Any = None,
        interval: float = 1.0,
        follow: bool = True,
        per_row: int = 4,
        **kwargs: Any,
    ) -> None:
        self._engine = resolve_engine(engine)
        self._refs = list(containers)
        self._lock = threading.RLock()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[str, npic.Box] = {}  # every container drawn so far, by ID
        self._removed: dict[str, npic.Box] = {}
        self.picture = npic.Picture([], [])
        self._status = w.HTML()
        self._message = w.HTML()
        self._diagram = w.HTML()
        super().__init__(**kwargs)
        self.interval = interval
        self.per_row = per_row
        self.children = [self._status, self._message, self._diagram]
        self.refresh()
        if follow:
            self.follow()

    def __repr__(self) -> str:
        states: dict[str, int] = {}
        for b in self.picture.boxes:
            states[b.state] = states.get(b.state, 0) + 1
        counts = ", ".join(f"{v} {k}" for k, v in sorted(states.items()))
        n, c = len(self.picture.nets), len(self.picture.boxes)
        mode = "live" if self.following else "stopped"
        return (
            f"NetworkView({n} network{'s' if n != 1 else ''}, {c} container"
            f"{'s' if c != 1 else ''}{': ' + counts if counts else ''}; {mode})"
        )

    def svg(self) -> str:
        """The picture as drawn now."""
        return str(self._diagram.value)

    def text(self) -> list[str]:
        """The picture in words (one line per network and per container)."""
        return npic.text_lines(self.picture)

    # ---- reading the engine ---------------------------------------------------------------
    def refresh(self) -> bool:
        """Read the engine now and redraw if anything changed; False (and the error shown
        in the widget) when the engine could not be read."""
        with self._lock:
            try:
                docs, networks = self._read()
                removed = self._removed_boxes({str(d.get("Id")) for d in docs})
                picture = npic.build(docs, networks, removed)
                drawn = npic.svg(picture, self.per_row)
            except Exception as exc:  # noqa: BLE001 - shown in the widget, never raised
                text = str(exc) or type(exc).__name__
                self.set_trait("error", text)
                self._message.value = error_html(RuntimeError(text))
                self._render_status()
                return False
            if self.error:
                self.set_trait("error", "")
                self._message.value = ""
            for b in picture.boxes:
                if not b.removed:
                    self._seen[b.id] = b
            self.picture = picture
            if drawn != self._diagram.value:
                self._diagram.value = drawn
            self._render_status()
            return True

    def _removed_boxes(self, ids: set[str]) -> list[npic.Box]:
        """Those seen before and gone now, the last MAX_REMOVED of them; forgets the rest."""
        for cid, box in list(self._seen.items()):
            if cid not in ids:
                self._removed[cid] = box
        for cid in ids:
            self._removed.pop(cid, None)  # back under the same ID (it never is in Docker)
        while len(self._removed) > npic.MAX_REMOVED:
            del self._removed[next(iter(self._removed))]
        for cid in [c for c in self._seen if c not in ids and c not in self._removed]:
            del self._seen[cid]
        return list(self._removed.values())

    def _read(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        from dockerlab.errors import NoSuchContainer

        eng = self._engine
        refs = self._refs or eng.container_ids()
        docs = []
        for ref in refs[: npic.MAX_CONTAINERS * 2]:
            try:
                docs.append(eng.inspect(ref))
            except NoSuchContainer:
                continue  # removed: drawn as such if it was seen
        return docs, self._networks()

    def _networks(self) -> list[dict[str, Any]]:
        """The networks' records in the state root (``network/<name>.json``: the default
        bridge's, and user networks' where they keep theirs), never creating one; networks
        known only from an endpoint are drawn from the containers' documents."""
        from dockerlab.engine.atomic import read_json
        from dockerlab.engine.network import record

        paths = getattr(self._engine, "paths", None)
        if paths is None:
            return []
        folder = record.folder(paths)
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        except FileNotFoundError:
            return []
        out = []
        for name in names[:MAX_RECORDS]:
            try:
                rec = read_json(os.path.join(folder, name))
            except (OSError, ValueError):
                continue  # being written, or not a record: the next refresh sees it
            if isinstance(rec, dict) and rec.get("Name"):
                out.append(rec)
        return out

    # ---- following ------------------------------------------------------------------------
    def follow(self, interval: float | None = None) -> None:
        """Poll the engine every ``interval`` seconds in a thread (until closed)."""
        if interval is not None:
            self.interval = interval
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._halt.clear()
            self._thread = threading.Thread(
                target=self._poll, name="dockerlab-network", daemon=True
            )
            self.set_trait("following", True)
            self._thread.start()
            self._render_status()

    def unfollow(self, timeout: float | None = 5.0) -> None:
        self._halt.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def close(self) -> None:
        self.unfollow()
        super().close()

    def _poll(self) -> None:
        try:
            while not self._halt.wait(self.interval):
                try:
                    self.refresh()
                except Exception:  # noqa: BLE001 - keep following through a failed redraw
                    pass
        finally:
            self.set_trait("following", False)
            self._render_status()

    @validate("interval")
    def _check_interval(self, proposal: dict[str, Any]) -> float:
        if proposal["value"] < 0.1:
            raise TraitError("the refresh interval must be at least 0.1 s")
        return float(proposal["value"])

    @validate("per_row")
    def _check_per_row(self, proposal: dict[str, Any]) -> int:
        return max(1, min(int(proposal["value"]), 12))

    @observe("per_row")
    def _on_per_row(self, change: dict[str, Any]) -> None:
        if self.picture.boxes:  # (not while the constructor sets it)
            self._diagram.value = npic.svg(self.picture, change["new"])

    # ---- rendering ------------------------------------------------------------------------
    def _render_status(self) -> None:
        p = self.picture
        live = f"live, every {self.interval:g} s" if self.following else "stopped"
        nets = ", ".join(n.name for n in p.nets) or "no network"
        self._status.value = (
            f'<div style="color:#555">{html.escape(nets)} · {len(p.boxes)} container'
            f"{'s' if len(p.boxes) != 1 else ''} · {live}</div>"
        )
