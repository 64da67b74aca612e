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
    from dockerlab.errors import ClientError, DockerlabError, exit_code

    out, err = ctx.out, ctx.err
    verb = ns.verb
    try:
        return (handler or HANDLERS[verb])(ctx, ns)
    except ClientError as exc:  # the client's own words, printed as they are
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
        if ns.debug:
            raise
        # The last resort: the engine's boundary converts what fails inside it, so this is
        # the client's own I/O or a bug. Either way one line, never a traceback or [Errno N].
        err.write(_last_resort(exc) + "\n")
        return 125 if _run_verb(verb) else 1
    finally:
        try:
            out.flush()
        except (BrokenPipeError, ValueError):
            pass


PROG = "dockerlab"


def _last_resort(exc: Exception) -> str:
    from dockerlab.errors import describe

    if isinstance(exc, OSError):
        return f"Error: {describe(exc)}"
    import re

    text = re.sub(r"\[Errno \d+\] ", "", str(exc))  # an OSError's text inside another's
    return (
        f"Error response from daemon: internal error: {type(exc).__name__}: {text} "
        "(run with --debug for details)"
    )


def _trace(debug: bool, err: TextIO) -> None:
    if debug:
        import traceback

        traceback.print_exc(file=err)
