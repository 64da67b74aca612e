"""``docker events`` as the docker CLI prints them: its default line and its ``--format``
context (the Engine API's ``events.Message``).

    2026-12-02T21:00:00.123456789Z container create <id> (image=busybox, name=x)
"""

from __future__ import annotations

import time
from typing import Any

from dockerlab.format._gofmt import to_json


def fixed_local(ns: int) -> str:
    """Go's ``RFC3339NanoFixed`` in the local zone (``Z`` when it is UTC), as the CLI
    prints an event's time."""
    secs, frac = divmod(ns, 1_000_000_000)
    local = time.localtime(secs)
    offset = local.tm_gmtoff or 0
    if offset == 0:
        zone = "Z"
    else:
        sign = "+" if offset > 0 else "-"
        hours, rest = divmod(abs(offset), 3600)
        zone = f"{sign}{hours:02d}:{rest // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f".{frac:09d}{zone}"


def event_line(ev: dict[str, Any]) -> str:
    """The CLI's ``prettyPrintEvent``: time, type, action, actor, then the attributes
    sorted by key."""
    actor = ev.get("Actor") or {}
    parts = []
    if ev.get("timeNano"):
        parts.append(fixed_local(ev["timeNano"]) + " ")
    elif ev.get("time"):
        parts.append(fixed_local(ev["time"] * 1_000_000_000) + " ")
    parts.append(f"{ev.get('Type', '')} {ev.get('Action', '')} {actor.get('ID', '')}")
    attrs = actor.get("Attributes") or {}
    if attrs:
        parts.append(" (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")")
    return "".join(parts)


class Actor:
    """``events.Actor``: ``ID`` and ``Attributes``."""

    __slots__ = ("Attributes", "ID")

    def __init__(self, actor: dict[str, Any]) -> None:
        self.ID: str = actor.get("ID", "")
        self.Attributes: dict[str, str] = dict(actor.get("Attributes") or {})

    def _go_json(self) -> str:
        return '{"ID":' + to_json(self.ID) + ',"Attributes":' + to_json(self.Attributes) + "}"


class EventMessage:
    """A template's ``.`` for one event: ``.Type``, ``.Action``, ``.Actor.ID``,
    ``.Actor.Attributes.name``, ``.Scope``, ``.Time``, ``.TimeNano`` and the old ``.Status``,
    ``.ID``, ``.From``; ``{{json .}}`` gives the API's JSON, in its field order."""

    __slots__ = ("Action", "Actor", "From", "ID", "Scope", "Status", "Time", "TimeNano", "Type")

    def __init__(self, ev: dict[str, Any] | None = None) -> None:
        ev = ev or {}
        self.Status: str = ev.get("status", "")
        self.ID: str = ev.get("id", "")
        self.From: str = ev.get("from", "")
        self.Type: str = ev.get("Type", "")
        self.Action: str = ev.get("Action", "")
        self.Actor = Actor(ev.get("Actor") or {})
        self.Scope: str = ev.get("scope", "")
        self.Time: int = ev.get("time", 0)
        self.TimeNano: int = ev.get("timeNano", 0)

    def _go_json(self) -> str:
        fields = [
            (name, value)
            for name, value in (("status", self.Status), ("id", self.ID), ("from", self.From))
            if value  # omitempty
        ]
        fields += [("Type", self.Type), ("Action", self.Action)]
        out = ",".join(f"{to_json(k)}:{to_json(v)}" for k, v in fields)
        out += ',"Actor":' + self.Actor._go_json()
        tail = (("scope", self.Scope), ("time", self.Time), ("timeNano", self.TimeNano))
        return "{" + out + "".join(f",{to_json(k)}:{to_json(v)}" for k, v in tail) + "}"


# Go's error messages name the type: "can't evaluate field Nope in type *events.Message"
EventMessage.__name__ = "*events.Message"
Actor.__name__ = "events.Actor"
