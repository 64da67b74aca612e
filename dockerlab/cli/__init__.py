"""The ``dockerlab`` command: Docker's grammar, Docker's outputs, dockerlab's engine.

    main(argv) -> exit code
      parser.parse      words -> Namespace (usage errors: Docker's texts, exit 125 / 1)
      commands.HANDLERS verb -> handler(ctx, ns): calls the Engine, prints as docker does
      errors            Engine errors -> "Error response from daemon: ..." + Docker's codes

Importing this package is cheap: the engine is imported only when a handler first needs it,
so ``dockerlab --help`` and usage errors never load it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["dispatch", "main"]


def _run_verb(verb: str) -> bool:
    return verb in ("run", "create")


def main(
    argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run one ``dockerlab`` command line; returns the exit code docker would."""
    from dockerlab.cli.parser import ShowText, parse
    from dockerlab.errors import UsageError, exit_code

    argv = sys.argv[1:] if argv is None else list(argv)
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        ns = parse(argv)
    except ShowText as shown:
        out.write(shown.text.rstrip("\n") + "\n")
        return 0
    except UsageError as exc:
        err.write(f"{exc}\n")
        return exit_code(exc)

    from dockerlab.cli.commands import Context

    return dispatch(Context(ns.root, ns.debug, out, err), ns)


def dispatch(ctx, ns, handler=None) -> int:
    """Run the handler of a parsed command line (or ``handler``) with ``ctx``; errors are
    written to ``ctx.err`` as docker's client words them. Returns the exit code docker
    would. (The notebook magics call this with a Context writing into the cell.)"""
    from dockerlab.cli.commands import HANDLERS, daemon_message
    from dockerlab.errors import DockerlabError, UsageError, exit_code

    out, err = ctx.out, ctx.err
    verb = ns.verb
    try:
        return (handler or HANDLERS[verb])(ctx, ns)
    except UsageError as exc:
        _trace(ns.debug, err)
        err.write(f"{exc}\n")
        return exit_code(exc, verb)
    except DockerlabError as exc:
        _trace(ns.debug, err)
        if _run_verb(verb):
            message = f"{PROG}: {daemon_message(exc, verb)}"
            if not message.endswith("."):
                message += "."
            err.write(f"{message}\n\nRun '{PROG} {ns.path} --help' for more information\n")
        else:
            err.write(f"{daemon_message(exc, verb)}\n")
        return exit_code(exc, verb)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        from dockerlab.format.gotemplate import TemplateError

        if isinstance(exc, TemplateError):
            _trace(ns.debug, err)
            err.write(f"{exc}\n")
            return 1 if not _run_verb(verb) else 125
        if isinstance(exc, OSError) and not ns.debug:
            err.write(f"Error: {exc}\n")
            return 1
        if ns.debug:
            raise
        # A bug must still not print a traceback at a student: say what failed, in one line.
        err.write(f"Error response from daemon: internal error: {type(exc).__name__}: {exc} "
                  f"(run with --debug for details)\n")
        return 125 if _run_verb(verb) else 1
    finally:
        try:
            out.flush()
        except (BrokenPipeError, ValueError):
            pass


PROG = "dockerlab"


def _trace(debug: bool, err: TextIO) -> None:
    if debug:
        import traceback

        traceback.print_exc(file=err)
