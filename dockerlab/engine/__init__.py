"""dockerlab's container engine. Import :class:`Engine` from here; it loads its parts lazily.

(No ``typing`` import here: this package is on the monitor's start path.)
"""

__all__ = ["Engine"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockerlab.engine.facade import Engine


def __getattr__(name: str) -> "type[Engine]":
    if name == "Engine":
        from dockerlab.engine.facade import Engine

        return Engine
    raise AttributeError(name)
