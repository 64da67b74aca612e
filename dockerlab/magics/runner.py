"""``%docker LINE``: the CLI's parser and handlers, with the notebook as the terminal.

A line goes through :func:`dockerlab.cli.parser.parse` and, for most verbs, the very handler
the ``dockerlab`` command runs (:data:`dockerlab.cli.commands.HANDLERS`, through
:func:`dockerlab.cli.dispatch`, which also words errors as docker's client does). What
differs is where output goes:

* **query verbs** write into a buffer; the buffer becomes the return value
  (:mod:`dockerlab.magics.display`), displayed once as the cell's result;
* **streaming verbs** — ``run`` and ``start -a`` (attached), ``logs``, ``build``, ``stats``
  (live), ``exec`` — write into the cell as output arrives; the kernel's interrupt stops
  following (an attached ``run`` first forwards SIGINT to the container, as docker's
  ``--sig-proxy`` does, and keeps collecting until it exits; a third interrupt detaches);
* **interactive verbs** — ``run -i``/``-it``, ``start -ai``, ``attach`` — return a
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

from dockerlab.magics.display import (
    BuildResult,
    Inspected,
    InspectedList,
    Lines,
    Listing,
    Output,
    RunResult,
)

__all__ = ["Runner", "host_problem"]

# verbs whose (table) output becomes a Listing, or Lines with -q / a non-table --format
_LISTINGS = frozenset({"ps", "images", "history", "volume ls", "top", "system df", "stats"})
_INSPECTS = frozenset({"inspect", "container inspect", "image inspect", "volume inspect"})
_LINE_VERBS = frozenset({"diff"})


def host_problem() -> str | None:
    """What this host lacks to run containers (one sentence), or None when nothing is."""
    if not sys.platform.startswith("linux"):
        import platform

        return (f"dockerlab's engine needs Linux (namespaces, cgroups, overlayfs); this host "
                f"runs {platform.system() or sys.platform}")
    missing = []
    if os.geteuid() != 0:
        missing.append("root (creating namespaces and mounting overlayfs need "
                       "CAP_SYS_ADMIN): start Jupyter as root or with sudo")
    try:
        with open("/proc/filesystems") as f:
            if "overlay" not in f.read():
                missing.append("overlayfs in the kernel (modprobe overlay)")
    except OSError:
        missing.append("/proc (is it mounted?)")
    if not os.path.isdir("/sys/fs/cgroup"):
        missing.append("cgroups at /sys/fs/cgroup")
    if not missing:
        return None
    return "containers cannot run on this host; it lacks " + "; ".join(missing)


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


class _LiveTable:
    """``stats`` without ``--no-stream``: each screen the handler flushes replaces the
    table shown in the cell (the handler clears the screen with an escape sequence)."""

    def __init__(self) -> None:
        self._buf: list[str] = []
        self._handle: Any = None

    def write(self, text: str) -> int:
        self._buf.append(text)
        return len(text)

    def isatty(self) -> bool:
        return True

    def flush(self) -> None:
        if not self._buf:
            return
        from dockerlab.cli.commands import CLEAR_SCREEN

        text = "".join(self._buf).rpartition(CLEAR_SCREEN)[2]
        self._buf = []
        from IPython.display import display

        table = Listing(text)
        if self._handle is None:
            self._handle = display(table, display_id=True)
        else:
            self._handle.update(table)


def _context_class():
    from dockerlab.cli.commands import Context

    class CellContext(Context):
        """A handler's Context whose engine is the runner's (one per state root)."""

        def __init__(self, runner: Runner, ns: Any, out: Any, err: Any) -> None:
            super().__init__(ns.root, ns.debug, out, err, _CellInput())
            self.runner = runner
            self.result: Any = None
            self.dockerfile: str | None = None

        @property
        def engine(self) -> Any:
            return self.runner.engine(self.root)

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
        handler = _STREAMING.get(verb) if _streams(ns) else None
        if dockerfile is not None or verb == "build":
            handler = _cmd_build
        if handler is not None:
            ctx = _context_class()(self, ns, sys.stdout, sys.stderr)
            ctx.dockerfile = dockerfile
            if verb == "stats" and not ns.no_stream:
                ctx.out = _LiveTable()
            self.exit_code = dispatch(ctx, ns, handler)
            if ctx.result is None and verb == "stats":
                ctx.out.flush()
            return ctx.result
        buf = _Buffer()
        ctx = _context_class()(self, ns, buf, sys.stderr)
        self.exit_code = dispatch(ctx, ns)
        return _value(ns, buf.getvalue(), self.exit_code)


def _streams(ns: Any) -> bool:
    """Whether this line's output streams into the cell (else it becomes the value)."""
    verb = ns.verb
    if verb in ("run", "exec"):
        return not ns.detach
    if verb == "start":
        return bool(ns.attach or ns.interactive)
    return True


def _value(ns: Any, text: str, code: int) -> Any:
    verb = ns.verb
    fmt = getattr(ns, "format", None) or ""
    if verb in _LISTINGS:
        if getattr(ns, "quiet", False) or (fmt and not fmt.lstrip().startswith("table")):
            return Lines(text.splitlines())
        return Listing(text) if text else None
    if verb in _INSPECTS:
        if fmt:
            lines = text.splitlines()
            return Lines(lines) if len(ns.names) > 1 else (Output("\n".join(lines))
                                                            if lines else None)
        import json

        try:
            found = json.loads(text) if text.strip() else []
        except ValueError:
            return Output(text.rstrip("\n"))
        if len(ns.names) == 1:
            return Inspected(found[0]) if found else None
        return InspectedList(Inspected(x) if isinstance(x, dict) else x for x in found)
    if verb in _LINE_VERBS:
        return Lines(text.splitlines())
    text = text.rstrip("\n")
    return Output(text) if text else None


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
    optional = p.Command(cmd.usage, cmd.short, cmd.flags, (0, 1), cmd.names,
                         cmd.interspersed, cmd.extra)
    ns = p.DockerParser("build", optional).parse(words)
    if getattr(ns, "file", None):
        raise p.usage_error("the cell is the Dockerfile: -f/--file cannot be used with "
                            "%%dockerfile", "build")
    return _with_globals(ns, "build", "build")


# ---- streaming handlers (same signature as the CLI's: (ctx, ns) -> exit code) --------------


def _warnings(ctx: Any, result: dict[str, Any]) -> None:
    for w in result.get("Warnings") or []:
        ctx.error(f"WARNING: {w}")


def _cmd_run(ctx: Any, ns: Any) -> int:
    from dockerlab.cli.commands import HANDLERS
    from dockerlab.cli.options import create_body
    from dockerlab.errors import DockerlabError

    if ns.detach:
        return HANDLERS["run"](ctx, ns)
    name, body = create_body(ns)
    engine = ctx.engine
    result = engine.create(body, name)
    _warnings(ctx, result)
    cid = result["Id"]
    interactive = bool(body.get("AttachStdin"))
    streams = ("i" if interactive else "") + ("o" if body.get("AttachStdout") else "") + (
        "e" if body.get("AttachStderr") else "")
    try:
        att = engine.start(cid, attach=streams or "oe")
    except DockerlabError:
        if ns.rm:  # the container never ran: --rm still removes it, as docker does
            try:
                engine.remove(cid, force=True)
            except DockerlabError:
                pass
        raise
    if interactive:
        ctx.result = _console(engine, cid, att, tty=bool(ns.tty), stdin=True,
                              label=_label(body), sig_proxy=getattr(ns, "sig_proxy", True))
        return 0
    ctx.result = _follow(ctx, engine, cid, att, getattr(ns, "sig_proxy", True))
    return ctx.result.exit_code if ctx.result.exit_code is not None else 0


def _label(body: dict[str, Any]) -> str:
    cmd = body.get("Cmd") or []
    return " ".join([body.get("Image", ""), *cmd]).strip()


def _console(engine: Any, cid: str, att: Any, tty: bool, stdin: bool, label: str,
             sig_proxy: bool = True) -> Any:
    from dockerlab.magics.console import Console

    return Console(att, engine=engine, cid=cid, tty=tty, stdin=stdin, label=label,
                   sig_proxy=sig_proxy)


def _follow(ctx: Any, engine: Any, cid: str, att: Any, sig_proxy: bool = True) -> RunResult:
    """Copy an attachment's output into the cell until the container exits.

    The kernel's interrupt (KeyboardInterrupt) is forwarded as SIGINT when ``sig_proxy``;
    the third one (or the first without ``sig_proxy``) stops following, leaving the
    container running: the result's ``exit_code`` is then None."""
    import codecs

    from dockerlab.engine.streams import STDERR
    from dockerlab.errors import DockerlabError

    decoders = {k: codecs.getincrementaldecoder("utf-8")(errors="replace") for k in (1, 2)}
    collected: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
    interrupts = 0
    try:
        while True:
            try:
                item = att.read()
            except KeyboardInterrupt:
                interrupts += 1
                if sig_proxy and interrupts < 3:
                    try:
                        engine.kill(cid, "INT")
                    except DockerlabError:
                        pass
                    continue
                ctx.error(f"Stopped following {cid[:12]}; it keeps running "
                          f"(%docker stop {cid[:12]})")
                return RunResult(cid, None, bytes(collected[1]), bytes(collected[2]))
            if item is None:
                break
            kind, data = item
            kind = 2 if kind == STDERR else 1
            collected[kind] += data
            stream = ctx.err if kind == 2 else ctx.out
            stream.write(decoders[kind].decode(data))
            stream.flush()
    finally:
        att.close()
    for kind, stream in ((1, ctx.out), (2, ctx.err)):
        tail = decoders[kind].decode(b"", final=True)
        if tail:
            stream.write(tail)
    exit_ = att.exit or {}
    if exit_.get("Error") and exit_.get("ExitCode", 0) < 0:
        ctx.error(f"Error: {exit_['Error']}")
    return RunResult(cid, int(exit_.get("ExitCode", -1)), bytes(collected[1]),
                     bytes(collected[2]))


def _cmd_start(ctx: Any, ns: Any) -> int:
    from dockerlab.cli.commands import HANDLERS
    from dockerlab.errors import InvalidParameter

    if not (ns.attach or ns.interactive):
        return HANDLERS["start"](ctx, ns)
    if len(ns.containers) > 1:
        raise InvalidParameter("you cannot start and attach multiple containers at once")
    engine = ctx.engine
    info = engine.inspect(ns.containers[0])
    cid, config = info["Id"], info["Config"]
    interactive = bool(ns.interactive and config.get("OpenStdin"))
    att = engine.start(cid, attach="ioe" if interactive else "oe")
    if att is None:  # already running
        att = engine.attach(cid, stdin=interactive)
    if interactive:
        ctx.result = _console(engine, cid, att, bool(config.get("Tty")), True,
                              _label(config))
        return 0
    ctx.result = _follow(ctx, engine, cid, att)
    return ctx.result.exit_code if ctx.result.exit_code is not None else 0


def _cmd_attach(ctx: Any, ns: Any) -> int:
    engine = ctx.engine
    info = engine.inspect(ns.container)
    config = info["Config"]
    stdin = bool(config.get("OpenStdin") and not ns.no_stdin)
    att = engine.attach(info["Id"], stdin=stdin)
    ctx.result = _console(engine, info["Id"], att, bool(config.get("Tty")), stdin,
                          _label(config), sig_proxy=getattr(ns, "sig_proxy", True))
    return 0


def _cmd_exec(ctx: Any, ns: Any) -> int:
    import selectors
    import signal
    import subprocess

    from dockerlab.cli.commands import HANDLERS
    from dockerlab.cli.options import environment

    if ns.detach:
        return HANDLERS["exec"](ctx, ns)
    env = environment(ns.env_file, ns.env, os.environ, "exec")
    if ns.interactive or ns.tty:  # a console on a terminal made for this command
        from dockerlab.magics.ptyattach import exec_console

        att = exec_console(ctx.engine, ns.container, ns.command, env, ns.workdir or "",
                           ns.user or "")
        label = " ".join([ns.container, *ns.command])
        ctx.result = _console(ctx.engine, "", att, tty=True, stdin=True, label=label,
                              sig_proxy=False)
        return 0
    proc = ctx.engine.exec(ns.container, ns.command, env=env, workdir=ns.workdir or "",
                           user=ns.user or "", stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           privileged=bool(getattr(ns, "privileged", False)))
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, (1, ctx.out))
    sel.register(proc.stderr, selectors.EVENT_READ, (2, ctx.err))
    collected = {1: bytearray(), 2: bytearray()}
    interrupts = 0
    while sel.get_map():
        try:
            events = sel.select()
        except KeyboardInterrupt:
            interrupts += 1
            proc.send_signal(signal.SIGINT if interrupts < 3 else signal.SIGKILL)
            continue
        for key, _ in events:
            data = os.read(key.fd, 65536)
            if not data:
                sel.unregister(key.fileobj)
                continue
            kind, stream = key.data
            collected[kind] += data
            stream.write(data.decode(errors="replace"))
            stream.flush()
    code = proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    ctx.result = RunResult(ns.container, code, bytes(collected[1]), bytes(collected[2]))
    return code


def _cmd_build(ctx: Any, ns: Any) -> int:
    import tempfile

    from dockerlab.engine.build import BuildFailed
    from dockerlab.errors import InvalidParameter

    positionals = list(getattr(ns, "args", None) or [])
    context = positionals[0] if positionals else None
    dockerfile = getattr(ns, "file", None) or "Dockerfile"
    build_args: dict[str, str | None] = {}
    for item in getattr(ns, "build_arg", None) or []:
        key, eq, value = item.partition("=")
        build_args[key] = value if eq else os.environ.get(key)
    labels = {}
    for item in getattr(ns, "label", None) or []:
        key, _, value = item.partition("=")
        labels[key] = value
    tags = list(getattr(ns, "tag", None) or [])
    if context == "-":
        raise InvalidParameter("a build context from stdin needs a terminal: give a folder "
                               "(or use %%dockerfile)")
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
        output: list[str] = []
        image_id = ""
        quiet = bool(getattr(ns, "quiet", False))

        def show(stream: Any, text: str) -> None:
            output.append(text)
            stream.write(text)
            stream.flush()

        try:
            for event in ctx.engine.build(
                context, dockerfile=dockerfile, tags=tags, build_args=build_args,
                no_cache=bool(getattr(ns, "no_cache", False)),
                target=getattr(ns, "target", None) or None, labels=labels, quiet=quiet,
                rm=bool(getattr(ns, "rm", True)), force_rm=bool(getattr(ns, "force_rm", False)),
            ):
                if event.kind == "aux":
                    image_id = event.image_id
                elif event.kind == "context":
                    show(ctx.out, event.text + "\n")
                elif event.kind in ("stderr", "warning"):
                    show(ctx.err, event.text if event.text.endswith("\n")
                         else event.text + "\n")
                else:
                    show(ctx.out, event.text)
        except BuildFailed as exc:  # docker's client prints the daemon's message as is
            ctx.error(str(exc))
            return exc.exit_code
        except KeyboardInterrupt:
            ctx.error("Build interrupted")
            return 130
    if quiet and image_id:
        show(ctx.out, image_id + "\n")
    result = BuildResult(image_id, tags, "".join(output))
    ctx.result = result
    if ctx.dockerfile is not None and image_id:
        result.layers = _show_layers(ctx, image_id)
    return 0


def _show_layers(ctx: Any, image_id: str) -> Any:
    """The new image's layers: dockerlab.widgets.LayerTree when there is one, else the
    ``history`` table. Displayed now (the build's output is above it)."""
    from IPython.display import display

    shown: Any = None
    try:
        from dockerlab.widgets import LayerTree  # type: ignore[attr-defined]
    except ImportError:
        LayerTree = None
    if LayerTree is not None:
        try:
            shown = LayerTree(image_id, engine=ctx.engine)
        except Exception:  # noqa: BLE001 - the widget is optional: fall back to the table
            shown = None
    if shown is None:
        from dockerlab.cli.commands import HANDLERS
        from dockerlab.cli.parser import parse

        buf = _Buffer()
        ns = parse(["history", image_id])
        ctx2 = _context_class()(ctx.runner, ns, buf, ctx.err)
        HANDLERS["history"](ctx2, ns)
        shown = Listing(buf.getvalue())
    display(shown)
    return shown


def _cmd_logs(ctx: Any, ns: Any) -> int:
    from dockerlab.cli.commands import HANDLERS

    return HANDLERS["logs"](ctx, ns)


def _cmd_stats(ctx: Any, ns: Any) -> int:
    from dockerlab.cli.commands import HANDLERS

    if ns.no_stream:
        buf = _Buffer()
        out, ctx.out = ctx.out, buf
        try:
            code = HANDLERS["stats"](ctx, ns)
        finally:
            ctx.out = out
        ctx.result = _value(ns, buf.getvalue(), code)
        return code
    return HANDLERS["stats"](ctx, ns)


_STREAMING = {
    "run": _cmd_run,
    "start": _cmd_start,
    "attach": _cmd_attach,
    "exec": _cmd_exec,
    "logs": _cmd_logs,
    "stats": _cmd_stats,
}
