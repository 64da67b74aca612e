"""dockerlab's container engine. Import :class:`Engine` from here; it loads its parts lazily.

(No ``typing`` import here: this package is on the monitor's start path.)
"""

__all__ = ["Engine"]


def __getattr__(name: str):
    if name == "Engine":
        from dockerlab.engine.facade import Engine

        return Engine
    raise AttributeError(name)
