"""``%docker LINE``: the CLI's parser and handlers, with the notebook as the terminal.

A line goes through :func:`dockerlab.cli.parser.parse` and, for most verbs, the very handler
the ``dockerlab`` command runs (:data:`dockerlab.cli.commands.HANDLERS`, through
:func:`dockerlab.cli.dispatch`, which also words errors as docker's client does). What
differs is where output goes:

* **query verbs** hand the renderer's structure (:mod:`dockerlab.format.rendered`) to
  ``ctx.show``; it becomes the return value (:func:`dockerlab.magics.display.value_of`),
  displayed once as the cell's result — a Listing's HTML table is drawn from the
  structure, never parsed back out of the CLI's text;
* **streaming verbs** — ``run`` and ``start -a`` (attached), ``attach``, ``exec``,
  ``logs``, ``build``, ``stats`` (live), ``pull``, ``push`` — are the CLI's own handlers calling
  :mod:`dockerlab.terminal.verbs`, here on a
  :class:`~dockerlab.magics.cellterm.CellTerminal`: output goes into the cell as it
  arrives; the kernel's interrupt is forwarded to an attached container as SIGINT (as
  docker's ``--sig-proxy``) and the third one stops following; an interactive session
  (``run -i``/``-it``, ``start -ai``, ``attach``, ``exec -it``) returns a
  :class:`~dockerlab.magics.console.Console` widget bound to the container's terminal.

Errors and usage messages go to the cell's stderr in Docker's words; the return value is
then None. The exit code docker would give is :attr:`Runner.exit_code` (and ``_exit_code``
in the notebook's namespace, like ``!cmd``).
"""

from __future__ import annotations

import io
import os
import shlex
import sys
from typing import Any

from dockerlab.magics.display import BuildResult, Listing, Output, RunResult, value_of

__all__ = ["Runner", "host_note", "host_problem"]

_INSPECTS = frozenset(
    {"inspect", "container inspect", "image inspect", "volume inspect", "network inspect"}
)
# the streaming verbs (dockerlab.terminal.verbs): the CLI's handlers, on the cell's terminal
_STREAMING = frozenset(
    {"run", "start", "attach", "exec", "logs", "stats", "build", "events", "pull", "push"}
)


def host_problem() -> str | None:
    """What this host lacks to run containers (one sentence), or None when nothing is: as a
    non-root user, what rootless mode lacks, probed for real (:mod:`dockerlab.magics.probe`)."""
    from dockerlab.magics.probe import probe

    return probe().problem


def host_note() -> str | None:
    """When containers run rootless here: that they do, and without what (one sentence)."""
    from dockerlab.magics.probe import probe

    return probe().note()


class _Buffer(io.StringIO):
    """Where a query verb's output is collected. It claims to be a terminal, so verbs
    that would write an archive (``save``, ``export`` without ``-o``) refuse as docker does
    on a terminal instead of writing binary into the notebook."""

    def isatty(self) -> bool:
        return True


class _CellInput:
    """stdin for handlers that ask (``container prune``): the notebook's input box."""

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        try:
            return input() + "\n"
        except (EOFError, RuntimeError, OSError):
            return ""
        except Exception:  # noqa: BLE001 - StdinNotImplementedError: no frontend to ask
            return ""


def _context_class():
    from dockerlab.cli.commands import Context

    class CellContext(Context):
        """A handler's Context whose engine is the runner's (one per state root)."""

        def __init__(self, runner: Runner, ns: Any, out: Any, err: Any) -> None:
            super().__init__(ns.root, ns.debug, out, err, _CellInput())
            self.runner = runner
            self.result: Any = None
            self.shown: Any = None
            self.dockerfile: str | None = None
            self._terminal: Any = None

        @property
        def engine(self) -> Any:
            return self.runner.engine(self.root)

        @property
        def terminal(self) -> Any:
            if self._terminal is None:
                from dockerlab.magics.cellterm import CellTerminal

                self._terminal = CellTerminal(self.out, self.err)
            return self._terminal

        def show(self, rendered: Any) -> None:
            """The structure becomes the cell's value; nothing is printed."""
            self.shown = rendered

    return CellContext


class Runner:
    """Runs ``%docker`` lines; keeps one Engine per state root."""

    def __init__(self) -> None:
        self._engines: dict[str | None, Any] = {}
        self.exit_code = 0

    def engine(self, root: str | None = None) -> Any:
        eng = self._engines.get(root)
        if eng is None:
            from dockerlab.engine import Engine

            eng = self._engines[root] = Engine(root)
        return eng

    # ---- entry points -----------------------------------------------------------------
    def line(self, line: str) -> Any:
        """Run one ``%docker`` line; returns its value (see the module docstring)."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            self.exit_code = 1
            return None
        return self.words(words)

    def words(self, words: list[str]) -> Any:
        from dockerlab.cli.parser import ShowText
        from dockerlab.errors import UsageError, exit_code

        try:
            ns = _parse(words)
        except ShowText as shown:
            self.exit_code = 0
            return Output(shown.text.rstrip("\n"))
        except UsageError as exc:
            sys.stderr.write(f"{exc}\n")
            self.exit_code = exit_code(exc)
            return None
        return self._guarded(ns)

    def dockerfile(self, line: str, cell: str) -> Any:
        """``%%dockerfile [build flags] [CONTEXT]`` with ``cell`` as the Dockerfile."""
        from dockerlab.cli.parser import ShowText
        from dockerlab.errors import UsageError, exit_code

        try:
            ns = _parse_dockerfile_line(shlex.split(line))
        except ShowText as shown:
            self.exit_code = 0
            return Output(shown.text.rstrip("\n"))
        except (UsageError, ValueError) as exc:
            sys.stderr.write(f"{exc}\n")
            self.exit_code = exit_code(exc) if isinstance(exc, UsageError) else 1
            return None
        return self._guarded(ns, dockerfile=cell)

    # ---- running a parsed line ----------------------------------------------------------
    def _guarded(self, ns: Any, dockerfile: str | None = None) -> Any:
        try:
            return self._run(ns, dockerfile)
        except Exception as exc:
            problem = host_problem()
            if problem is None or ns.debug:
                raise
            sys.stderr.write(f"dockerlab: {problem} ({type(exc).__name__}: {exc})\n")
            self.exit_code = 125
            return None

    def _run(self, ns: Any, dockerfile: str | None) -> Any:
        from dockerlab.cli import dispatch

        verb = ns.verb
        if dockerfile is not None or (verb in _STREAMING and _streams(ns)):
            ctx = _context_class()(self, ns, sys.stdout, sys.stderr)
            ctx.dockerfile = dockerfile
            handler = _cmd_build if dockerfile is not None or verb == "build" else None
            self.exit_code = dispatch(ctx, ns, handler)
            ctx.terminal.finish()
            return _streamed(ctx, ns, self.exit_code)
        buf = _Buffer()
        ctx = _context_class()(self, ns, buf, sys.stderr)
        self.exit_code = dispatch(ctx, ns)
        if ctx.shown is not None:
            names = (getattr(ns, "names", None) or ()) if verb in _INSPECTS else ()
            return value_of(ctx.shown, len(names))
        text = buf.getvalue().rstrip("\n")
        return Output(text) if text else None


def _streams(ns: Any) -> bool:
    """Whether this line's output streams into the cell (else it becomes the value)."""
    verb = ns.verb
    if verb in ("run", "exec"):
        return not ns.detach
    if verb == "start":
        return bool(ns.attach or ns.interactive)
    if verb == "stats":
        return not ns.no_stream
    return True


def _streamed(ctx: Any, ns: Any, code: int) -> Any:
    """The value of a streamed line: the console that follows it, what the container or
    command wrote (RunResult), the build's result; None for logs and live stats."""
    outcome = ctx.outcome
    if ctx.result is not None:  # the cell's own build handler
        return ctx.result
    if outcome is None or ns.verb in ("logs", "stats", "events"):
        return None
    if outcome.console is not None:
        return outcome.console
    term = ctx.terminal
    return RunResult(outcome.cid, outcome.exit_code, bytes(term.stdout), bytes(term.stderr))


# ---- parsing: the CLI's own parser --------------------------------------------------------


def _parse(words: list[str]) -> Any:
    from dockerlab.cli import parser as p

    return p.parse(words)


def _with_globals(ns: Any, verb: str, path: str) -> Any:
    ns.verb, ns.path, ns.debug = verb, path, False
    ns.root = os.environ.get("DOCKERLAB_ROOT") or None
    return ns


def _parse_dockerfile_line(words: list[str]) -> Any:
    from dockerlab.cli import parser as p

    cmd = p.COMMANDS["build"]
    optional = p.Command(
        cmd.usage, cmd.short, cmd.flags, (0, 1), cmd.names, cmd.interspersed, cmd.extra
    )
    ns = p.DockerParser("build", optional).parse(words)
    if getattr(ns, "file", None):
        raise p.usage_error(
            "the cell is the Dockerfile: -f/--file cannot be used with %%dockerfile", "build"
        )
    return _with_globals(ns, "build", "build")


# ---- %%dockerfile and build: the cell is the Dockerfile --------------------------------------


def _cmd_build(ctx: Any, ns: Any) -> int:
    """``build`` and ``%%dockerfile``: the context is a folder (``-`` needs a terminal), the
    cell's Dockerfile goes into a folder of its own; then :func:`verbs.build`."""
    import tempfile

    from dockerlab.cli.commands import _key_values
    from dockerlab.errors import InvalidParameter
    from dockerlab.terminal import verbs

    positionals = list(getattr(ns, "args", None) or [])
    context = positionals[0] if positionals else getattr(ns, "context_path", None)
    dockerfile = getattr(ns, "file", None) or "Dockerfile"
    tags = list(getattr(ns, "tag", None) or [])
    if context == "-":
        raise InvalidParameter(
            "a build context from stdin needs a terminal: give a folder (or use %%dockerfile)"
        )
    term = ctx.terminal
    with tempfile.TemporaryDirectory(prefix="dockerlab-cell-") as tmp:
        if ctx.dockerfile is not None:
            dockerfile = os.path.join(tmp, "Dockerfile")
            with open(dockerfile, "w") as f:
                f.write(ctx.dockerfile)
            if context is None:
                context = os.path.join(tmp, "context")
                os.mkdir(context)
        elif context is None:
            raise InvalidParameter("build needs a context folder")
        try:
            code, image_id = verbs.build(
                ctx.engine,
                term,
                context,
                quiet=bool(getattr(ns, "quiet", False)),
                dockerfile=dockerfile,
                tags=tags,
                build_args=_key_values(list(getattr(ns, "build_arg", None) or []), env=True),
                no_cache=bool(getattr(ns, "no_cache", False)),
                target=getattr(ns, "target", None) or None,
                labels=_key_values(list(getattr(ns, "label", None) or []), env=False),
                rm=bool(getattr(ns, "rm", True)),
                force_rm=bool(getattr(ns, "force_rm", False)),
            )
        except KeyboardInterrupt:
            ctx.error("Build interrupted")
            return 130
    if code:
        return code
    term.finish()
    result = BuildResult(image_id, tags, "".join(term.transcript))
    ctx.result = result
    if ctx.dockerfile is not None and image_id:
        # the widget names the image by its tag, not its 64-digit ID
        result.layers = _show_layers(ctx, tags[0] if tags else image_id)
    return 0


def _show_layers(ctx: Any, image_id: str) -> Any:
    """The new image's layers: dockerlab.widgets.LayerTree when there is one, else the
    ``history`` table. Displayed now (the build's output is above it)."""
    from IPython.display import display

    shown: Any = None
    try:
        from dockerlab.widgets import LayerTree
    except ImportError:
        LayerTree = None
    if LayerTree is not None:
        try:
            shown = LayerTree(image_id, engine=ctx.engine)
        except Exception:  # noqa: BLE001 - the widget is optional: fall back to the table
            shown = None
    if shown is None:
        from dockerlab.cli import render

        shown = Listing(render.history(ctx.engine.image_history(image_id)))
    display(shown)
    return shown
