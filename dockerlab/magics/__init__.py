"""``%docker`` and ``%%dockerfile``: dockerlab in a notebook.

    %load_ext dockerlab

``%docker LINE`` takes anything the ``dockerlab`` command takes, through the same parser and
the same handlers (:mod:`dockerlab.magics.runner`). ``%%dockerfile [-t TAG] [build flags]
[CONTEXT]`` builds the cell as a Dockerfile (the context is CONTEXT, or an empty folder),
streams the build, then shows the new image's layers.

What a line gives back — one rule: **what takes time streams into the cell and returns
None (or a result object that displays nothing there); everything else is returned, and
displays as Docker's output**, once, as the cell's result:

============================================  ==================================================
``ps``, ``images``, ``history``, ``top``,     :class:`~.display.Listing`: an HTML table, its
``volume ls``, ``system df``,                 text/plain the CLI's text; ``.rows`` (dicts by
``stats --no-stream``                         column title), ``.columns``
``ps -q``, ``images -q``, a non-table         :class:`~.display.Lines`, a ``list`` of str
``--format``, ``diff``
``inspect X`` / ``inspect X Y``               a ``dict`` / a ``list`` of dicts (shown as
                                              Docker's JSON); with ``-f``, the text
``run``, ``start -a``, ``exec`` (streamed)    :class:`~.display.RunResult`: ``.exit_code``,
                                              ``.stdout``, ``.stderr``, ``.id``
``build``, ``%%dockerfile`` (streamed)        :class:`~.display.BuildResult`: ``.id``, ``.tags``
``run -it``, ``run -i``, ``start -ai``,       :class:`~.console.Console`, a widget on the
``attach``                                    container's terminal
``logs``, ``stats`` (live), ``events``        None (the output is in the cell)
anything else (``run -d``, ``rm``, …)         :class:`~.display.Output`, a ``str`` (``run -d``:
                                              the ID); None when nothing was printed
============================================  ==================================================

Since a value is shown only when it is the cell's last expression, put a listing last in its
cell. Errors and usage messages are printed as Docker prints them (no traceback) and the
line returns None; the exit code docker would give is in ``_exit_code``, as after ``!cmd``.
The kernel's interrupt stops a streaming line (an attached ``run`` first forwards SIGINT to
the container, as docker's client does, and keeps collecting its output until it exits).

Plain Python gets the same through :func:`docker`: ``docker("ps -q")``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["docker", "load_ipython_extension", "unload_ipython_extension"]

_runner = None


def _get_runner():
    global _runner
    if _runner is None:
        from dockerlab.magics.runner import Runner

        _runner = Runner()
    return _runner


def docker(line: str) -> Any:
    """Run a ``%docker`` line from Python (outside a magic); returns what the magic does."""
    return _get_runner().line(line)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext dockerlab``: register ``%docker`` and ``%%dockerfile``."""
    from dockerlab.magics.ipython import DockerMagics, warn_if_host_cannot_run

    ipython.register_magics(DockerMagics(ipython, _get_runner()))
    warn_if_host_cannot_run()


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.magics
    magics["line"].pop("docker", None)
    magics["cell"].pop("dockerfile", None)
