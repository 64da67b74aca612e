"""One small handler per verb: call the engine, print what docker prints, return the exit code.

A handler is ``handler(ctx, ns) -> int``; ``ctx.engine`` is created on first use, so verbs
that fail before needing it never import the engine. Engine errors propagate to
:func:`dockerlab.cli.main`, except in verbs acting on several objects (``stop a b``): those
print each failure, go on with the rest and return 1 at the end, as docker does.
"""

from __future__ import annotations

import os
import sys
import time
from argparse import Namespace
from collections.abc import Callable

from dockerlab.errors import DockerlabError, InvalidParameter, NotFound, UsageError

TYPE_CHECKING = False  # typing and the renderers stay off the path of `run`
if TYPE_CHECKING:
    from typing import Any, TextIO


class _LazyRender:
    """``render`` (Go templates, tables) is imported by the first handler that draws."""

    def __getattr__(self, name: str):
        from dockerlab.cli import render as module

        globals()["render"] = module
        return getattr(module, name)


render = _LazyRender()

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
CLEAR_SCREEN = "\033[2J\033[H"

# Verbs whose "not found" docker's client reports as "Error: ..." (its wrapResponseError)
# rather than passing the daemon's "Error response from daemon: ..." through.
_CLIENT_NOT_FOUND = frozenset(
    {
        "rm",
        "rmi",
        "wait",
        "logs",
        "exec",
        "top",
        "attach",
        "history",
        "inspect",
        "container inspect",
        "image inspect",
        "volume inspect",
        "image bootstrap",
    }
)


class Context:
    """What a handler needs: the engine (made lazily) and the output streams."""

    def __init__(
        self,
        root: str | None = None,
        debug: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
        stdin: TextIO | None = None,
    ) -> None:
        self.root = root
        self.debug = debug
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.stdin = stdin or sys.stdin
        self._engine: Any = None

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from dockerlab.engine import Engine

            self._engine = Engine(self.root)
        return self._engine

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def write(self, text: str) -> None:
        self.out.write(text)

    def error(self, text: str) -> None:
        self.err.write(text + "\n")


def daemon_message(err: DockerlabError, verb: str) -> str:
    """How docker's client words an engine error for ``verb`` (without the "docker:" prefix)."""
    if isinstance(err, NotFound) and verb in _CLIENT_NOT_FOUND:
        return f"Error: {err}"
    return f"Error response from daemon: {err}"


def _each(
    ctx: Context, refs: list[str], act: Callable[[str], Any], verb: str, echo: bool = True
) -> int:
    """Act on each ref; print it on success; errors after, joined; 1 if any failed."""
    errors = []
    for ref in refs:
        try:
            act(ref)
        except DockerlabError as exc:
            errors.append(daemon_message(exc, verb))
            continue
        if echo:
            ctx.print(ref)
    for line in errors:
        ctx.error(line)
    return 1 if errors else 0


def _check_tty(ctx: Context, ns: Namespace) -> None:
    if ns.tty and ns.interactive and not ctx.stdin.isatty():
        raise _InputNotTTY()


class _InputNotTTY(UsageError):
    exit_code = 1

    def __init__(self) -> None:
        super().__init__("the input device is not a TTY")


# ---- containers: create, run, start -----------------------------------------------------


def _warnings(ctx: Context, result: dict[str, Any]) -> None:
    for w in result.get("Warnings") or []:
        ctx.error(f"WARNING: {w}")


def cmd_create(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.options import create_body

    name, body = create_body(ns)
    result = ctx.engine.create(body, name)
    _warnings(ctx, result)
    ctx.print(result["Id"])
    return 0


def cmd_run(ctx: Context, ns: Namespace) -> int:
    from dockerlab.engine.runtime import prestart

    prestart()  # the monitors' forkserver starts up while we import and create
    from dockerlab.cli.options import create_body

    name, body = create_body(ns)
    if not ns.detach:
        _check_tty(ctx, ns)
    engine = ctx.engine
    if ns.detach:
        cid, _ = engine.run(body, name, attach="")
        ctx.print(cid)
        return 0
    result = engine.create(body, name)
    _warnings(ctx, result)
    cid = result["Id"]
    from dockerlab.cli.attach import run_attached

    try:
        return run_attached(
            engine,
            cid,
            interactive=bool(body["AttachStdin"]),
            tty=bool(ns.tty),
            detach_keys=ns.detach_keys or DEFAULT_DETACH_KEYS,
            sig_proxy=True,
        )
    except DockerlabError:
        if ns.rm:  # the container never ran: --rm still removes it, as docker's daemon does
            try:
                engine.remove(cid, force=True)
            except DockerlabError:
                pass
        raise


def cmd_start(ctx: Context, ns: Namespace) -> int:
    engine = ctx.engine
    if ns.attach or ns.interactive:
        if len(ns.containers) > 1:
            raise InvalidParameter("you cannot start and attach multiple containers at once")
        ref = ns.containers[0]
        config = engine.inspect(ref)["Config"]
        from dockerlab.cli.attach import run_attached
        from dockerlab.errors import ContainerStartError

        try:
            return run_attached(
                engine,
                ref,
                interactive=bool(ns.interactive and config.get("OpenStdin")),
                tty=bool(config.get("Tty")),
                detach_keys=ns.detach_keys or DEFAULT_DETACH_KEYS,
                sig_proxy=True,
            )
        except ContainerStartError as exc:  # docker start -a: 1, not run's 125/126/127
            ctx.error(daemon_message(exc, "start"))
            return 1
    failed = []
    for ref in ns.containers:
        try:
            engine.start(ref)
        except DockerlabError as exc:
            ctx.error(daemon_message(exc, "start"))
            failed.append(ref)
            continue
        ctx.print(ref)
    if failed:
        ctx.error(f"Error: failed to start containers: {', '.join(failed)}")
        return 1
    return 0


def cmd_attach(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.attach import attach

    return attach(
        ctx.engine,
        ns.container,
        no_stdin=ns.no_stdin,
        detach_keys=ns.detach_keys or DEFAULT_DETACH_KEYS,
        sig_proxy=ns.sig_proxy,
    )


def cmd_exec(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.options import environment

    env = environment(ns.env_file, ns.env, os.environ, "exec")
    if not ns.detach:
        _check_tty(ctx, ns)
    from dockerlab.cli.attach import exec_

    return exec_(
        ctx.engine,
        ns.container,
        ns.command,
        env,
        ns.workdir or "",
        ns.user or "",
        ns.interactive,
        ns.tty,
        ns.detach,
        ns.privileged,
    )


# ---- containers: lifecycle --------------------------------------------------------------


def cmd_stop(ctx: Context, ns: Namespace) -> int:
    return _each(
        ctx,
        ns.containers,
        lambda ref: ctx.engine.stop(ref, timeout=ns.time, signal=ns.signal),
        "stop",
    )


def cmd_kill(ctx: Context, ns: Namespace) -> int:
    return _each(ctx, ns.containers, lambda ref: ctx.engine.kill(ref, ns.signal), "kill")


def cmd_pause(ctx: Context, ns: Namespace) -> int:
    return _each(ctx, ns.containers, ctx.engine.pause, "pause")


def cmd_unpause(ctx: Context, ns: Namespace) -> int:
    return _each(ctx, ns.containers, ctx.engine.unpause, "unpause")


def cmd_restart(ctx: Context, ns: Namespace) -> int:
    return _each(
        ctx, ns.containers, lambda ref: ctx.engine.restart(ref, timeout=ns.time), "restart"
    )


def cmd_rm(ctx: Context, ns: Namespace) -> int:
    return _each(
        ctx,
        ns.containers,
        lambda ref: ctx.engine.remove(ref, force=ns.force, volumes=ns.volumes),
        "rm",
    )


def cmd_wait(ctx: Context, ns: Namespace) -> int:
    return _each(
        ctx,
        ns.containers,
        lambda ref: ctx.print(str(ctx.engine.wait(ref)["StatusCode"])),
        "wait",
        echo=False,
    )


def cmd_rename(ctx: Context, ns: Namespace) -> int:
    if not ns.new_name.strip():
        raise InvalidParameter("Neither old nor new names may be empty")
    ctx.engine.rename(ns.container, ns.new_name)
    return 0


def _confirm(ctx: Context, warning: str) -> bool:
    ctx.write(f"WARNING! {warning}\nAre you sure you want to continue? [y/N] ")
    ctx.out.flush()
    answer = ctx.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def cmd_container_prune(ctx: Context, ns: Namespace) -> int:
    if not ns.force and not _confirm(ctx, "This will remove all stopped containers."):
        return 0
    result = ctx.engine.prune()
    deleted = result.get("ContainersDeleted") or []
    if deleted:
        ctx.print("Deleted Containers:")
        for cid in deleted:
            ctx.print(cid)
        ctx.print()
    from dockerlab.format import human_size

    ctx.print(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}")
    return 0


# ---- containers: looking ----------------------------------------------------------------


def _filters(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        key, _, value = item.partition("=")
        out.setdefault(key, []).append(value)
    return out


def cmd_ps(ctx: Context, ns: Namespace) -> int:
    limit = 1 if ns.latest else ns.last
    containers = ctx.engine.containers(
        all=ns.all or limit != -1, filters=_filters(ns.filter), limit=limit
    )
    ctx.write(render.ps(containers, ns.format, ns.quiet, not ns.no_trunc, ns.size))
    return 0


def _template_each(ctx: Context, template: str, objects: list[Any]) -> None:
    from dockerlab.format.gotemplate import parse, parse_format

    _, src = parse_format(template)
    tmpl = parse(src)
    for obj in objects:
        ctx.print(tmpl.execute(obj))


def _inspect_output(ctx: Context, ns: Namespace, objects: list[Any]) -> None:
    if ns.format:
        _template_each(ctx, ns.format, objects)
    else:
        ctx.print(render.inspect_json(objects))


def cmd_inspect(ctx: Context, ns: Namespace) -> int:
    kind = getattr(ns, "type", None) or ""
    if kind not in ("", "container", "image"):
        raise UsageError(f'"{kind}" is not a valid value for --type', "inspect")
    engine = ctx.engine
    found, missing = [], []
    for name in ns.names:
        lookups = {
            "container": [engine.inspect],
            "image": [engine.image_inspect],
            "": [engine.inspect, engine.image_inspect],
        }[kind]
        for look in lookups:
            try:
                found.append(look(name))
                break
            except NotFound:
                continue
        else:
            missing.append(name)
    _inspect_output(ctx, ns, found)
    what = {"container": "container", "image": "image", "": "object"}[kind]
    for name in missing:
        ctx.error(f"Error: No such {what}: {name}")
    return 1 if missing else 0


def cmd_logs(ctx: Context, ns: Namespace) -> int:
    tail = None
    if ns.tail != "all":
        try:
            tail = int(ns.tail)
        except ValueError:
            tail = None  # docker's daemon shows everything for a tail it cannot read
        if tail is not None and tail < 0:
            tail = None
    since = until = None
    try:
        if ns.since:
            since = render.since_seconds(ns.since)
        if ns.until:
            until = render.since_seconds(ns.until, name="until")
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    entries = ctx.engine.logs(ns.container, follow=ns.follow, tail=tail, since=since,
                              until=until)
    out = getattr(ctx.out, "buffer", None)
    err = getattr(ctx.err, "buffer", None)
    ctx.out.flush()
    for entry in entries:
        data = entry.data
        if ns.timestamps:
            data = fixed_nano(entry.time).encode() + b" " + data
        stream = err if entry.stream == "stderr" else out
        if stream is None:  # a text stream without a buffer (tests, notebooks)
            (ctx.err if entry.stream == "stderr" else ctx.out).write(data.decode(errors="replace"))
        else:
            stream.write(data)
            if ns.follow:
                stream.flush()
    for s in (out, err):
        if s is not None:
            s.flush()
    return 0


def fixed_nano(stamp: str) -> str:
    """jsonmessage.RFC3339NanoFixed (always 9 fraction digits) in UTC, as ``logs -t`` prints."""
    from datetime import UTC, datetime

    from dockerlab.format import parse_rfc3339_ns

    ns = parse_rfc3339_ns(stamp)
    base = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    return base.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000:09d}Z"


def cmd_top(ctx: Context, ns: Namespace) -> int:
    result = ctx.engine.top(ns.container, " ".join(ns.ps_args) or "-ef")
    ctx.write(render.top(result))
    return 0


def cmd_stats(ctx: Context, ns: Namespace) -> int:
    engine = ctx.engine
    named = list(ns.containers)
    trunc = not ns.no_trunc

    def targets() -> list[str]:
        if named:
            return named
        return [c["Id"] for c in engine.containers(all=ns.all)]

    previous: dict[str, dict[str, Any]] = {}

    def sample(refs: list[str]) -> tuple[list[render.StatsRow], list[str]]:
        rows, errors = [], []
        for ref in refs:
            try:
                s = engine.stats(ref, previous.get(ref))
            except DockerlabError as exc:
                errors.append(daemon_message(exc, "stats"))
                continue
            previous[ref] = s
            rows.append(render.StatsRow(s, ref, trunc))
        return rows, errors

    refs = targets()
    rows, errors = sample(refs)
    if errors and named:
        for line in errors:
            ctx.error(line)
        return 1
    if ns.no_stream:
        if any(r.s.get("memory_stats") for r in rows):  # running: a second sample gives CPU %
            time.sleep(1.0)
            rows, _ = sample(refs)
        ctx.write(render.stats(rows, ns.format))
        return 0
    while True:
        ctx.write(CLEAR_SCREEN + render.stats(rows, ns.format))
        ctx.out.flush()
        time.sleep(1.0)
        refs = targets()
        rows, _ = sample(refs)


# ---- images -----------------------------------------------------------------------------


def cmd_images(ctx: Context, ns: Namespace) -> int:
    filters = _filters(ns.filter)
    if ns.repository:  # `docker images REPOSITORY[:TAG]` is a reference filter
        filters.setdefault("reference", []).append(ns.repository)
    images = ctx.engine.images(all=ns.all, filters=filters)
    ctx.write(render.images(images, ns.format, ns.quiet, not ns.no_trunc))
    return 0


def cmd_history(ctx: Context, ns: Namespace) -> int:
    entries = ctx.engine.image_history(ns.image)
    ctx.write(render.history(entries, ns.format, ns.quiet, not ns.no_trunc, ns.human))
    return 0


def cmd_rmi(ctx: Context, ns: Namespace) -> int:
    def remove(ref: str) -> None:
        for item in ctx.engine.image_remove(ref, force=ns.force):
            for key, value in item.items():
                ctx.print(f"{key}: {value}")

    return _each(ctx, ns.images, remove, "rmi", echo=False)


def cmd_tag(ctx: Context, ns: Namespace) -> int:
    ctx.engine.image_tag(ns.source, ns.target)
    return 0


def cmd_image_bootstrap(ctx: Context, ns: Namespace) -> int:
    ctx.print(ctx.engine.image_bootstrap(ns.name or "busybox"))
    return 0


# ---- volumes ----------------------------------------------------------------------------


def cmd_volume_create(ctx: Context, ns: Namespace) -> int:
    if ns.name and ns.name_arg and ns.name != ns.name_arg:
        raise InvalidParameter(
            "conflicting options: either specify --name or provide positional arg, not both"
        )
    if ns.driver != "local":
        raise NotFound(f'plugin "{ns.driver}" not found')
    from dockerlab.cli.options import labels

    volume = ctx.engine.volume_create(ns.name or ns.name_arg, labels(ns.label) or None)
    ctx.print(volume["Name"])
    return 0


def cmd_volume_ls(ctx: Context, ns: Namespace) -> int:
    vols = ctx.engine.volumes(filters=_filters(ns.filter))
    ctx.write(render.volumes(vols, ns.format, ns.quiet))
    return 0


def cmd_volume_inspect(ctx: Context, ns: Namespace) -> int:
    found, missing = [], []
    for name in ns.names:
        try:
            found.append(ctx.engine.volume_inspect(name))
        except NotFound:
            missing.append(name)
    _inspect_output(ctx, ns, found)
    for name in missing:
        ctx.error(f"Error: No such volume: {name}")
    return 1 if missing else 0


def cmd_volume_rm(ctx: Context, ns: Namespace) -> int:
    return _each(ctx, ns.names, lambda n: ctx.engine.volume_remove(n, force=ns.force), "volume rm")


def cmd_volume_prune(ctx: Context, ns: Namespace) -> int:
    if not ns.force and not _confirm(
        ctx, "This will remove all local volumes not used by at least one container."
    ):
        return 0
    result = ctx.engine.volume_prune()
    deleted = result.get("VolumesDeleted") or []
    if deleted:
        ctx.print("Deleted Volumes:")
        for name in deleted:
            ctx.print(name)
        ctx.print()
    from dockerlab.format import human_size

    ctx.print(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}")
    return 0


# ---- system -----------------------------------------------------------------------------


def client_version() -> dict[str, Any]:
    import platform

    from dockerlab import __version__

    return {
        "Version": __version__,
        "APIVersion": "1.41",
        "DefaultAPIVersion": "1.41",
        "PythonVersion": platform.python_version(),
        "GoVersion": platform.python_version(),
        "Os": sys.platform,
        "Arch": _arch(platform.machine()),
        "GitCommit": "",
        "BuildTime": "",
        "Context": "default",
        "Experimental": True,
    }


def _arch(machine: str) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def cmd_version(ctx: Context, ns: Namespace) -> int:
    client = client_version()
    server, error = None, None
    try:
        server = dict(ctx.engine.version())
        server.setdefault("APIVersion", server.get("ApiVersion", ""))
    except DockerlabError as exc:
        error = exc
    if ns.format:
        from dockerlab.format.gotemplate import render as render_template

        ctx.print(
            render_template(
                render.parse_format_only(ns.format), {"Client": client, "Server": server}
            )
        )
    else:
        ctx.write(render.version(client, server))
    if error is not None:
        raise error
    return 0


def cmd_info(ctx: Context, ns: Namespace) -> int:
    info = ctx.engine.info()
    if ns.format:
        from dockerlab.format.gotemplate import render as render_template

        ctx.print(render_template(render.parse_format_only(ns.format), info))
        return 0
    ctx.write(render.info(info, ctx.debug))
    for warning in info.get("Warnings") or []:
        ctx.error(warning if warning.startswith("WARNING") else f"WARNING: {warning}")
    return 0


HANDLERS: dict[str, Callable[[Context, Namespace], int]] = {
    "attach": cmd_attach,
    "create": cmd_create,
    "exec": cmd_exec,
    "history": cmd_history,
    "images": cmd_images,
    "info": cmd_info,
    "inspect": cmd_inspect,
    "kill": cmd_kill,
    "logs": cmd_logs,
    "pause": cmd_pause,
    "ps": cmd_ps,
    "rename": cmd_rename,
    "restart": cmd_restart,
    "rm": cmd_rm,
    "rmi": cmd_rmi,
    "run": cmd_run,
    "start": cmd_start,
    "stats": cmd_stats,
    "stop": cmd_stop,
    "tag": cmd_tag,
    "top": cmd_top,
    "unpause": cmd_unpause,
    "version": cmd_version,
    "wait": cmd_wait,
    "container inspect": cmd_inspect,
    "container prune": cmd_container_prune,
    "image bootstrap": cmd_image_bootstrap,
    "image inspect": cmd_inspect,
    "volume create": cmd_volume_create,
    "volume inspect": cmd_volume_inspect,
    "volume ls": cmd_volume_ls,
    "volume prune": cmd_volume_prune,
    "volume rm": cmd_volume_rm,
}


# ---- images: save, load; cp; system df (issue 3) ----


def _binary(stream: Any) -> Any:
    """The byte stream under a text stream (sys.stdout → sys.stdout.buffer)."""
    return getattr(stream, "buffer", stream)


def _write_out(ctx: Context, output: str | None, write: Any, what: str, mode: int) -> int:
    """``save``/``export``: into ``output`` atomically (temp file, rename), or to stdout,
    which must not be a terminal (Docker's refusal)."""
    if output:
        import tempfile

        target = os.path.abspath(output)
        folder = os.path.dirname(target)
        if not os.path.isdir(folder):
            raise InvalidParameter(f'failed to {what}: invalid output path: directory '
                                   f'"{folder}" does not exist')
        fd, tmp = tempfile.mkstemp(prefix=".dockerlab-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            with _suppress():
                os.unlink(tmp)
            raise
        return 0
    if _isatty(ctx.out):
        raise _Plain("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    ctx.out.flush()
    out = _binary(ctx.out)
    write(out)
    out.flush()
    return 0


def cmd_save(ctx: Context, ns: Namespace) -> int:
    return _write_out(ctx, ns.output, lambda f: ctx.engine.save(ns.images, f), "save image",
                      0o600)


def cmd_load(ctx: Context, ns: Namespace) -> int:
    if ns.input:
        try:
            f = open(ns.input, "rb")
        except OSError as exc:
            raise _Plain(f"open {ns.input}: {exc.strerror.lower()}") from None
        with f:
            subjects = ctx.engine.load(f)
    else:
        if _isatty(ctx.stdin):
            raise _Plain("requested load from stdin, but stdin is empty")
        subjects = ctx.engine.load(_binary(ctx.stdin))
    for s in subjects:
        ctx.print(f"Loaded image ID: {s}" if s.startswith("sha256:") else f"Loaded image: {s}")
    return 0


def cmd_cp(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli import cp
    from dockerlab.format.units import human_size

    try:
        sc, sp, dc, dp = cp.check_args(ns.src, ns.dst)
        if sc:
            size, shown = cp.copy_from_container(ctx.engine, sc, sp, dp, _binary(ctx.out),
                                                 ns.follow_link)
        else:
            size, shown = cp.copy_to_container(ctx.engine, dc, sp, dp, _binary(ctx.stdin),
                                               ns.follow_link, ns.archive)
    except cp.CopyError as exc:
        raise _Plain(str(exc)) from None
    except OSError as exc:
        if exc.filename is None:
            raise
        raise _Plain(f"lstat {exc.filename}: {exc.strerror.lower()}") from None
    if not ns.quiet and shown != "STDOUT" and _isatty(ctx.err):
        ctx.error(f"Successfully copied {human_size(size)} to {shown}")
    return 0


def cmd_system_df(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli import sysdf

    ctx.write(sysdf.render(ctx.engine.system_df(), ns.format or None, ns.verbose))
    return 0


def cmd_system_prune(ctx: Context, ns: Namespace) -> int:
    """``docker system prune`` (Docker 20.10's prompt and output), plus the work that
    killed commands left behind (dockerlab keeps no build cache of its own)."""
    if not ns.force:
        items = ["all stopped containers"]
        if ns.volumes:
            items.append("all volumes not used by at least one container")
        items.append("all images without at least one container associated to them"
                     if ns.all else "all dangling images")
        items.append("all work left by interrupted commands (staging folders, temporary "
                     "files, unreferenced blobs and layers)")
        ctx.write("WARNING! This will remove:\n" + "".join(f"  - {i}\n" for i in items)
                  + "\nAre you sure you want to continue? [y/N] ")
        ctx.out.flush()
        if ctx.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    result = ctx.engine.system_prune(all=ns.all, volumes=ns.volumes)
    if result.get("ContainersDeleted"):
        ctx.print("Deleted Containers:\n" + "".join(f"{c}\n" for c in
                                                   result["ContainersDeleted"]))
    if result.get("VolumesDeleted"):
        ctx.print("Deleted Volumes:\n" + "".join(f"{v}\n" for v in result["VolumesDeleted"]))
    if result.get("ImagesDeleted"):
        lines = [f"untagged: {r['Untagged']}" if "Untagged" in r else f"deleted: {r['Deleted']}"
                 for r in result["ImagesDeleted"]]
        ctx.print("Deleted Images:\n" + "".join(f"{line}\n" for line in lines))
    if result.get("WorkDeleted"):
        ctx.print("Deleted interrupted work:\n" + "".join(
            f"{w['Kind']}: {w['Path']}\n" for w in result["WorkDeleted"]))
    from dockerlab.format import human_size

    ctx.print(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}")
    return 0


def cmd_tag_checked(ctx: Context, ns: Namespace) -> int:
    """``docker tag``: a digest target is refused by the client, before the engine."""
    if "@" in ns.target:
        raise _Plain("refusing to create a tag with a digest reference")
    ctx.engine.image_tag(ns.source, ns.target)
    return 0


class _Plain(UsageError):
    """An error docker's client prints as is, exit 1."""

    exit_code = 1


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _suppress() -> Any:
    import contextlib

    return contextlib.suppress(OSError)


HANDLERS.update(
    {
        "save": cmd_save,
        "load": cmd_load,
        "cp": cmd_cp,
        "system df": cmd_system_df,
        "system prune": cmd_system_prune,
        "tag": cmd_tag_checked,
    }
)


# ---- layers: diff, commit, export, import (issue 3) ----

_KIND_LETTERS = ("C", "A", "D")


def cmd_diff(ctx: Context, ns: Namespace) -> int:
    for change in ctx.engine.diff(ns.container):
        ctx.print(f"{_KIND_LETTERS[change['Kind']]} {change['Path']}")
    return 0


def cmd_commit(ctx: Context, ns: Namespace) -> int:
    image_id = ctx.engine.commit(ns.container, ns.repository or None, message=ns.message or "",
                                 author=ns.author or "", changes=list(ns.change),
                                 pause=ns.pause)
    ctx.print(image_id)
    return 0


def cmd_export(ctx: Context, ns: Namespace) -> int:
    return _write_out(ctx, ns.output, lambda f: ctx.engine.export(ns.container, f),
                      "export container", 0o644)


def cmd_import(ctx: Context, ns: Namespace) -> int:
    source = ns.source
    if source.startswith(("http://", "https://")):
        raise _Plain(f"importing from a URL ({source}) is not supported by dockerlab: "
                             "download the file, then import it from the file or -")
    changes = list(ns.change)
    if source == "-":
        stream = getattr(ctx.stdin, "buffer", ctx.stdin)
        image_id = ctx.engine.import_image(stream, ns.repository or None, changes,
                                           ns.message or "")
    else:
        try:
            f = open(source, "rb")
        except OSError as exc:
            raise _Plain(f"open {source}: {(exc.strerror or str(exc)).lower()}"
                                 ) from None
        with f:
            image_id = ctx.engine.import_image(f, ns.repository or None, changes,
                                               ns.message or "")
    ctx.print(image_id)
    return 0


HANDLERS.update(
    {
        "diff": cmd_diff,
        "commit": cmd_commit,
        "export": cmd_export,
        "import": cmd_import,
    }
)


# ---- build (issue 3) ----
def _key_values(items: list[str], env: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        out[key] = value if eq else (os.environ.get(key) if env else "")
    return out


def cmd_build(ctx: Context, ns: Namespace) -> int:
    """``docker build`` with the classic builder's output (``DOCKER_BUILDKIT=0``)."""
    from dockerlab.engine.build import BuildFailed

    path = ns.context_path
    if path.startswith(("http://", "https://", "git@", "git://")):
        raise UsageError(f"unable to prepare context: building from a URL ({path}) is not "
                         "supported by dockerlab: clone or download it, then build the folder")
    dockerfile = ns.file or "Dockerfile"
    if path == "-":
        context: Any = getattr(ctx.stdin, "buffer", ctx.stdin).read()
    else:
        context = path
        if ns.file and ns.file != "-":
            dockerfile = os.path.abspath(ns.file)
            if not os.path.exists(dockerfile) and os.path.exists(os.path.join(path, ns.file)):
                dockerfile = os.path.abspath(os.path.join(path, ns.file))
    events = ctx.engine.build(
        context, dockerfile=dockerfile, tags=list(ns.tag), no_cache=ns.no_cache,
        build_args=_key_values(list(ns.build_arg), env=True), target=ns.target or None,
        labels=_key_values(list(ns.label), env=False), quiet=False, rm=ns.rm,
        force_rm=ns.force_rm)
    buffered: list[str] = []
    emit = buffered.append if ns.quiet else ctx.write
    image_id = ""
    try:
        for event in events:
            if event.kind == "aux":
                image_id = event.image_id
            elif event.kind == "context":
                emit(event.text + "\r\r\n")
            elif event.kind == "stderr":
                emit(f"\x1b[91m{event.text}\x1b[0m")
            else:
                emit(event.text)
            if not ns.quiet:
                ctx.out.flush()
    except BuildFailed as exc:
        if ns.quiet:
            ctx.err.write("".join(buffered))
        ctx.error(str(exc))
        return exc.exit_code
    except DockerlabError:
        if ns.quiet:
            ctx.err.write("".join(buffered))
        raise
    if ns.quiet:
        ctx.print(image_id)
    return 0


HANDLERS["build"] = cmd_build
