"""Notebook widgets over the engine, on core ipywidgets 8.

* :class:`LayerTree` — an image's layers, each one's file changes (or the whole tree up to
  it), dive's efficiency score and wasted bytes, a file's history, content and diffs.
* :class:`DiffView` — ``docker diff`` of a container as a tree, with content diffs.
* :class:`HistoryView` — ``docker history`` as a table and a bar chart of layer sizes.
* :class:`ResourceMonitor` — live ``docker stats`` figures and sparklines of containers.
* :class:`LifecycleView` — the container state machine, lit where the container is, with
  buttons for its commands.
* :class:`NetworkView` — the networks, the containers' interfaces and addresses, published
  ports as arrows from the host, links; live.
* :class:`ApiTrace` — the Docker Engine API made visible: each request a docker client sent
  to ``dockerlab daemon`` (method, path, query, body, status, time) and their sequence.

Labels are English unless :func:`dockerlab.widgets.set_language` (the course calls it with
"zh") or ``DOCKERLAB_LANG`` says otherwise. Errors are one line with a hint, inside the widget
for a click. Every widget keeps its state in traitlets, has a method for anything a click does
(``tree.select_layer(1)``, ``monitor.pause()``…) and a deterministic text repr (nbval
compares ``text/plain``). Importing this package costs nothing: a widget's module, ipywidgets
and the engine load when a widget is first used.
"""

from __future__ import annotations

from dockerlab.widgets.i18n import set_language  # imports nothing else: stays free

__all__ = [
    "ApiTrace",
    "DiffView",
    "HistoryView",
    "LayerTree",
    "LifecycleView",
    "NetworkView",
    "ResourceMonitor",
    "set_language",
]

_HOMES = {
    "LayerTree": "layers",
    "DiffView": "diffview",
    "HistoryView": "history",
    "ResourceMonitor": "monitor",
    "LifecycleView": "lifecycle",
    "NetworkView": "network",
    "ApiTrace": "apitrace",
}


def __getattr__(name: str):
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'dockerlab.widgets' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"dockerlab.widgets.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
