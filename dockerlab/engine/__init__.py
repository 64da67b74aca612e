"""dockerlab's container engine. Import :class:`Engine` from here; it loads its parts lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockerlab.engine.facade import Engine

__all__ = ["Engine"]


def __getattr__(name: str):
    if name == "Engine":
        from dockerlab.engine.facade import Engine

        return Engine
    raise AttributeError(name)
