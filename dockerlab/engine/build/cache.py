"""The classic builder's cache (moby ``builder/dockerfile/imageprobe.go``).

A step is a hit when an image whose parent is the current image was built by the same step:
its ``container_config`` (the run config with ``Cmd`` naming the step, e.g. ``["/bin/sh",
"-c", "#(nop) ", "ENV A=1"]``, a RUN's command with its build args, or a COPY's content
hash) equals the one this step would record. Among several hits the newest wins. After the
first miss of a stage nothing more is looked up.
"""

from __future__ import annotations

import json
from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockerlab.engine.images.store import ImageStore


def normalized(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


class Prober:
    def __init__(self, store: ImageStore, enabled: bool) -> None:
        self.store = store
        self.enabled = enabled
        self.busted = False

    def reset(self) -> None:
        self.busted = False

    def probe(self, parent: str | None, key: dict[str, Any]) -> str | None:
        """The cached child of ``parent`` made by the step ``key``, or None (a miss)."""
        if not self.enabled or self.busted:
            return None
        want = normalized(key)
        best: tuple[str, str] | None = None
        for child in self._children(parent or ""):
            try:
                cfg = self.store.config(child)
            except Exception:  # noqa: BLE001 - a half-removed image is simply no hit
                continue
            if "container_config" not in cfg or normalized(cfg["container_config"]) != want:
                continue
            created = cfg.get("created", "")
            if best is None or created > best[0]:
                best = (created, child)
        if best is None:
            self.busted = True
            return None
        return best[1]

    def _children(self, parent: str) -> list[str]:
        if parent:
            return self.store.children(parent)
        return [e["id"] for e in self.store._index() if not e["parent"]]
