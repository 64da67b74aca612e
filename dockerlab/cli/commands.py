"""One small handler per verb: call the engine, print what docker prints, return the exit code.

A handler is ``handler(ctx, ns) -> int``; ``ctx.engine`` is created on first use, so verbs
that fail before needing it never import the engine. Engine errors propagate to
:func:`dockerlab.cli.main`, except in verbs acting on several objects (``stop a b``): those
print each failure, go on with the rest and return 1 at the end, as docker does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from dockerlab.errors import ClientError, DockerlabError, InvalidParameter, NotFound, UsageError

TYPE_CHECKING = False  # typing and the renderers stay off the path of `run`
if TYPE_CHECKING:
    from typing import Any, Protocol, TextIO

    from dockerlab.cli.parser import Namespace

    class Input(Protocol):
        """What the handlers ask of stdin: a TTY or not, a line (an answer); the verbs that
        read bytes or hand it to a terminal take its ``buffer`` or file number if it has one."""

        def isatty(self) -> bool: ...

        def readline(self) -> str: ...


class _LazyRender:
    """``render`` (Go templates, tables) is imported by the first handler that draws."""

    def __getattr__(self, name: str):
        from dockerlab.cli import render as module

        globals()["render"] = module
        return getattr(module, name)


render = _LazyRender()

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"

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
        stdin: Input | None = None,
    ) -> None:
        self.root = root
        self.debug = debug
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.stdin = stdin or sys.stdin
        self._engine: Any = None
        # what a streaming verb gave (dockerlab.terminal.verbs.Followed), for a face that
        # returns values rather than exit codes (the notebook)
        self.outcome: Any = None

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from dockerlab.engine import Engine

            self._engine = Engine(self.root)
        return self._engine

    @property
    def terminal(self) -> Any:
        """Where the streaming verbs (:mod:`dockerlab.terminal.verbs`) run."""
        from dockerlab.cli.terminal import CliTerminal

        return CliTerminal(self.out, self.err, self.stdin)

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def write(self, text: str) -> None:
        self.out.write(text)

    def error(self, text: str) -> None:
        self.err.write(text + "\n")

    def show(self, rendered: Any) -> None:
        """A renderer's result (:mod:`dockerlab.format.rendered`): its text, here; a face
        that draws (the notebook) keeps the structure instead."""
        self.out.write(rendered.text)


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
        raise ClientError("the input device is not a TTY")


# ---- containers: create, run, start -----------------------------------------------------


def _warnings(ctx: Context, result: dict[str, Any]) -> None:
    for w in result.get("Warnings") or []:
        ctx.error(f"WARNING: {w}")


def _cidfile_and_platform(ctx: Context, ns: Namespace, command: str) -> Any:
    """``--platform`` parsed, ``--cidfile`` made, then the platform checked against the
    image (the daemon's check), in the CLI's order; the :class:`CidFile` to write."""
    from dockerlab.cli.options import CidFile, check_platform, host_platform, parse_platform

    wanted = None
    if getattr(ns, "platform", None):
        wanted = parse_platform(ns.platform, host_platform()["architecture"], command)
    cidfile = CidFile(getattr(ns, "cidfile", None), command)
    if wanted is not None:
        try:
            check_platform(ns.image, wanted, ctx.engine.image_inspect(ns.image))
        except BaseException:
            cidfile.close()
            raise
    return cidfile


def cmd_create(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.options import create_body

    name, body = create_body(ns)
    cidfile = _cidfile_and_platform(ctx, ns, "create")
    try:
        _pull_policy(ctx, ns, body)
        result = ctx.engine.create(body, name)
        cidfile.write(result["Id"])
    finally:
        cidfile.close()
    _warnings(ctx, result)
    ctx.print(result["Id"])
    return 0


def cmd_run(ctx: Context, ns: Namespace) -> int:
    from dockerlab.engine.runtime.spawn import prestart

    prestart(ctx.root)  # the monitors' forkserver starts up while we import and create
    from dockerlab.cli.options import create_body

    name, body = create_body(ns)
    if not ns.detach:
        _check_tty(ctx, ns)
    engine = ctx.engine
    cidfile = _cidfile_and_platform(ctx, ns, "run")
    try:
        _pull_policy(ctx, ns, body)
        if ns.detach:
            warned: list[str] = []
            made: list[str] = []

            def created(cid: str) -> None:
                cidfile.write(cid)
                made.append(cid)

            try:
                engine.run(body, name, attach="", created=created, warnings=warned)
            finally:  # docker's client prints the ID once created, even if the start fails
                _warnings(ctx, {"Warnings": warned})
                for cid in made:
                    ctx.print(cid)
            return 0
        from dockerlab.terminal import verbs

        return _code(
            ctx,
            verbs.run(
                engine,
                ctx.terminal,
                body,
                name,
                rm=bool(ns.rm),
                tty=bool(ns.tty),
                sig_proxy=True,
                detach_keys=ns.detach_keys or DEFAULT_DETACH_KEYS,
                created=cidfile.write,
            ),
        )
    finally:
        cidfile.close()


def _pull_policy(ctx: Context, ns: Namespace, body: dict[str, Any]) -> None:
    """``--pull`` of run/create: ``missing`` (Docker's default) pulls an image not in the
    store (``Unable to find image … locally``), ``always`` pulls first, ``never`` never."""
    from dockerlab.cli.registry import pull_for_run

    policy = getattr(ns, "pull", None) or "missing"
    if policy not in ("always", "missing", "never"):
        from dockerlab.cli.parser import usage_error

        raise usage_error(
            f'invalid pull option: \'{policy}\': must be one of "always", "missing" or "never"',
            ns.path,
        )
    image = str(body.get("Image") or "")
    if policy == "never" or not image:
        return
    pull_for_run(ctx, image, policy == "always")


def _code(ctx: Context, followed: Any) -> int:
    """A followed container's exit code (kept in ``ctx.outcome``); 0 when the user
    detached (or a console follows it)."""
    ctx.outcome = followed
    return 0 if followed.exit_code is None else followed.exit_code


def cmd_start(ctx: Context, ns: Namespace) -> int:
    engine = ctx.engine
    if ns.attach or ns.interactive:
        if len(ns.containers) > 1:
            raise InvalidParameter("you cannot start and attach multiple containers at once")
        from dockerlab.errors import ContainerStartError
        from dockerlab.terminal import verbs

        try:
            return _code(
                ctx,
                verbs.start(
                    engine,
                    ctx.terminal,
                    ns.containers[0],
                    interactive=bool(ns.interactive),
                    detach_keys=ns.detach_keys or DEFAULT_DETACH_KEYS,
                ),
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
    from dockerlab.terminal import verbs

    return _code(
        ctx,
        verbs.attach(
            ctx.engine,
            ctx.terminal,
            ns.container,
            no_stdin=ns.no_stdin,
            detach_keys=ns.detach_keys or DEFAULT_DETACH_KEYS,
            sig_proxy=ns.sig_proxy,
        ),
    )


def cmd_exec(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.options import environment

    env = environment(ns.env_file, ns.env, os.environ, "exec")
    if ns.detach:
        import subprocess

        ctx.engine.exec(
            ns.container,
            ns.command,
            env=env,
            workdir=ns.workdir or "",
            user=ns.user or "",
            tty=ns.tty,
            detach=True,
            stdin=None if ns.interactive else subprocess.DEVNULL,
            privileged=bool(ns.privileged),
        )
        return 0
    _check_tty(ctx, ns)
    from dockerlab.terminal import verbs

    return _code(
        ctx,
        verbs.exec_(
            ctx.engine,
            ctx.terminal,
            ns.container,
            ns.command,
            env,
            workdir=ns.workdir or "",
            user=ns.user or "",
            interactive=bool(ns.interactive),
            tty=bool(ns.tty),
            privileged=bool(ns.privileged),
        ),
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


def cmd_update(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.options import update_body
    from dockerlab.cli.parser import COMMANDS

    given = [f for f in COMMANDS["update"].flags if getattr(ns, f.dest, None) is not None]
    if not given:  # Docker counts the flags set, whatever their values
        raise ClientError("you must provide one or more flags when using this command")
    body = update_body(ns)
    warnings: list[str] = []
    code = _each(
        ctx,
        ns.containers,
        lambda ref: warnings.extend(ctx.engine.update(ref, body)["Warnings"] or []),
        "update",
    )
    for line in warnings:
        ctx.print(line)
    return code


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
    result = ctx.engine.prune(_filters(ns.filter))
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
    from dockerlab.format.gotemplate import TemplateError

    limit = 1 if ns.latest else ns.last
    size = ns.size
    if ns.format:  # the CLI tries the template first (so an error shows with no rows)
        try:
            tmpl = _template(ns.format)
        except TemplateError as exc:
            raise ClientError(f"failed to parse template: {exc.detail}", "ps") from None
        try:
            size = size or "Size" in render.ps_fields_used(tmpl)
        except TemplateError as exc:
            raise ClientError(f"failed to execute template: {exc.detail}", "ps") from None
    containers = ctx.engine.containers(
        all=ns.all or limit != -1, filters=_filters(ns.filter), limit=limit, size=size
    )
    ctx.show(render.ps(containers, ns.format, ns.quiet, not ns.no_trunc, ns.size))
    return 0


def _template(fmt: str, parse_status: int = 1) -> Any:
    """The parsed template of a ``--format``; a template that does not parse exits
    ``parse_status`` (64 for the inspect family, ``info`` and ``version``, as Docker's CLI)."""
    from dockerlab.format.gotemplate import TemplateError, parse, parse_format

    try:
        return parse(parse_format(fmt)[1])
    except TemplateError as exc:
        if parse_status != 1:
            exc.exit_status = parse_status
        raise


def _template_each(
    ctx: Context, template: str, objects: list[Any], missingkey_error: bool = False
) -> None:
    from dockerlab.format.rendered import Lines

    tmpl = _template(template, 64)
    lines: list[str] = []
    try:
        for obj in objects:
            lines.append(tmpl.execute(obj, missingkey_error=missingkey_error))
    finally:  # the lines before a failing object are printed, as before
        ctx.show(Lines(lines))


def _inspect_output(ctx: Context, ns: Namespace, objects: list[Any], typed: str = "") -> None:
    """``typed``: the Go struct the docker CLI executes the template on (``volume.Volume``),
    where a missing field is "can't evaluate field"; without it, the JSON maps of
    ``inspect``, where it is "map has no entry for key"."""
    if ns.format:
        if typed:
            from dockerlab.format._gofmt import Struct

            _template_each(ctx, ns.format, [Struct(o, typed) for o in objects])
        else:
            _template_each(ctx, ns.format, objects, missingkey_error=True)
    else:
        from dockerlab.format.rendered import Document

        ctx.show(Document(objects))


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
    from dockerlab.terminal import verbs

    return verbs.logs(
        ctx.engine,
        ctx.terminal,
        ns.container,
        follow=ns.follow,
        tail=tail,
        since=since,
        until=until,
        timestamps=ns.timestamps,
    )


def cmd_top(ctx: Context, ns: Namespace) -> int:
    result = ctx.engine.top(ns.container, " ".join(ns.ps_args) or "-ef")
    ctx.show(render.top(result))
    return 0


def cmd_port(ctx: Context, ns: Namespace) -> int:
    """``port CONTAINER [PRIVATE_PORT[/PROTO]]``, as docker CLI 28 prints it."""
    from dockerlab.format.ports import PortSpecError, port_lines

    found = ctx.engine.inspect(ns.container)["NetworkSettings"]["Ports"] or {}
    try:
        lines = port_lines(found, ns.container, ns.private_port)
    except PortSpecError as exc:
        raise ClientError(str(exc)) from None
    for line in lines:
        ctx.print(line)
    return 0


def cmd_stats(ctx: Context, ns: Namespace) -> int:
    from dockerlab.terminal import verbs

    code, table = verbs.stats(
        ctx.engine,
        ctx.terminal,
        list(ns.containers),
        row=render.StatsRow,
        table=render.stats,
        message=lambda err: daemon_message(err, "stats"),
        all_=ns.all,
        trunc=not ns.no_trunc,
        fmt=ns.format,
        stream=not ns.no_stream,
    )
    if table is not None:
        ctx.show(table)
    return code


# ---- images -----------------------------------------------------------------------------


def cmd_images(ctx: Context, ns: Namespace) -> int:
    filters = _filters(ns.filter)
    if ns.repository:  # `docker images REPOSITORY[:TAG]` is a reference filter
        filters.setdefault("reference", []).append(ns.repository)
    images = ctx.engine.images(all=ns.all, filters=filters)
    ctx.show(render.images(images, ns.format, ns.quiet, not ns.no_trunc))
    return 0


def cmd_history(ctx: Context, ns: Namespace) -> int:
    entries = ctx.engine.image_history(ns.image)
    ctx.show(render.history(entries, ns.format, ns.quiet, not ns.no_trunc, ns.human))
    return 0


def cmd_rmi(ctx: Context, ns: Namespace) -> int:
    def remove(ref: str) -> None:
        for item in ctx.engine.image_remove(ref, force=ns.force):
            for key, value in item.items():
                ctx.print(f"{key}: {value}")

    return _each(ctx, ns.images, remove, "rmi", echo=False)


def cmd_image_bootstrap(ctx: Context, ns: Namespace) -> int:
    """The image ID alone on stdout (scripts capture it); progress on stderr, package by
    package on a terminal (one line rewritten), finished steps only otherwise."""
    tty = ctx.err.isatty()
    shown = [False]  # a transient line is on screen

    def progress(text: str, transient: bool) -> None:
        if transient and not tty:
            return
        if transient:  # one screen line, or the rewrite leaves the wrapped part behind
            import shutil

            text = text[: shutil.get_terminal_size().columns - 1]
        clear = "\r\x1b[K" if tty and shown[0] else ""
        ctx.err.write(clear + text + ("" if transient else "\n"))
        ctx.err.flush()
        shown[0] = transient

    ctx.print(ctx.engine.image_bootstrap(ns.name or "busybox", progress))
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

    options = labels(getattr(ns, "opt", None) or []) or None  # KEY=VALUE, as docker's MapOpts
    volume = ctx.engine.volume_create(ns.name or ns.name_arg, labels(ns.label) or None, options)
    ctx.print(volume["Name"])
    return 0


def cmd_volume_ls(ctx: Context, ns: Namespace) -> int:
    vols = ctx.engine.volumes(filters=_filters(ns.filter))
    ctx.show(render.volumes(vols, ns.format, ns.quiet))
    return 0


def cmd_volume_inspect(ctx: Context, ns: Namespace) -> int:
    found, missing = [], []
    for name in ns.names:
        try:
            found.append(ctx.engine.volume_inspect(name))
        except NotFound:
            missing.append(name)
    _inspect_output(ctx, ns, found, typed="volume.Volume")
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
    result = ctx.engine.volume_prune(_filters(ns.filter))
    deleted = result.get("VolumesDeleted") or []
    if deleted:
        ctx.print("Deleted Volumes:")
        for name in deleted:
            ctx.print(name)
        ctx.print()
    from dockerlab.format import human_size

    ctx.print(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}")
    return 0


def cmd_image_prune(ctx: Context, ns: Namespace) -> int:
    """``docker image prune`` (Docker 20.10's prompt and output)."""
    warning = (
        "This will remove all images without at least one container associated to them."
        if ns.all
        else "This will remove all dangling images."
    )
    if not ns.force and not _confirm(ctx, warning):
        return 0
    filters = _filters(ns.filter)
    filters.setdefault("dangling", []).append("false" if ns.all else "true")  # as the CLI
    result = ctx.engine.image_prune(all=ns.all, filters=filters)
    deleted = result.get("ImagesDeleted") or []
    if deleted:
        lines = [
            f"untagged: {r['Untagged']}" if "Untagged" in r else f"deleted: {r['Deleted']}"
            for r in deleted
        ]
        ctx.print("Deleted Images:\n" + "".join(f"{line}\n" for line in lines))
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
        ctx.print(_version_format(ns.format, client, server))
    else:
        ctx.write(render.version(client, server))
    if error is not None:
        raise error
    return 0


def _version_format(fmt: str, client: dict[str, Any], server: dict[str, Any] | None) -> str:
    """``version --format``: Docker's template named "version" over its versionInfo struct
    (Client with Docker's keys, Server as the engine's ``GET /version``)."""
    from dockerlab.format._gofmt import Struct
    from dockerlab.format.gotemplate import TemplateError

    def named(exc: TemplateError) -> TemplateError:
        detail = exc.detail.replace("template: :", "template: version:", 1)
        renamed = TemplateError(detail.replace('executing ""', 'executing "version"', 1))
        renamed.exit_status = exc.exit_status
        return renamed

    keys = ("Version", "DefaultAPIVersion", "GitCommit", "GoVersion", "Os", "Arch", "BuildTime")
    shown = {"ApiVersion": client.get("APIVersion", ""), **{k: client.get(k, "") for k in keys}}
    shown["Context"] = client.get("Context", "default")
    data: dict[str, Any] = {"Client": Struct(shown, "system.clientVersion")}
    if server is not None:
        data["Server"] = Struct(
            {k: v for k, v in server.items() if k != "APIVersion"}, "*types.Version"
        )
    else:
        data["Server"] = None
    try:
        tmpl = _template(fmt, 64)
    except TemplateError as exc:
        raise named(exc) from None
    try:
        return str(tmpl.execute(Struct(data, "system.versionInfo")))
    except TemplateError as exc:  # printed bare, as info's
        raise ClientError(named(exc).detail, "version") from None


def cmd_info(ctx: Context, ns: Namespace) -> int:
    info = ctx.engine.info()
    if ns.format:
        from dockerlab.format.gotemplate import TemplateError

        tmpl = _template(ns.format, 64)
        try:
            ctx.print(tmpl.execute(render.info_context(info, client_version(), ctx.debug)))
        except TemplateError as exc:  # Docker's info prints Go's error bare
            raise ClientError(exc.detail, "info") from None
        return 0
    ctx.write(render.info(info, ctx.debug))
    for warning in info.get("Warnings") or []:
        ctx.error(warning if warning.startswith("WARNING") else f"WARNING: {warning}")
    return 0


# ---- images: save, load; cp; system df ----


def _binary(stream: Any) -> Any:
    """The byte stream under a text stream (sys.stdout → sys.stdout.buffer)."""
    return getattr(stream, "buffer", stream)


def _write_out(ctx: Context, output: str | None, write: Any, what: str, mode: int) -> int:
    """``save``/``export``: into ``output`` atomically (temp file, rename), or to stdout,
    which must not be a terminal (Docker's refusal). Failures of that file are the client's,
    worded as Docker's CLI words them (``write /out/.dockerlab-…: no space left on device``)."""
    if output:
        import tempfile

        target = os.path.abspath(output)
        folder = os.path.dirname(target)
        if not os.path.isdir(folder):
            raise ClientError(
                f'failed to {what}: invalid output path: directory "{folder}" does not exist'
            )
        try:
            fd, tmp = tempfile.mkstemp(prefix=".dockerlab-", dir=folder)
        except OSError as exc:
            raise _client_os_error("open", exc) from exc
        try:
            with os.fdopen(fd, "wb") as f:
                write(_ClientFile(f, tmp))
            os.chmod(tmp, mode)
        except OSError as exc:
            with _suppress():
                os.unlink(tmp)
            raise _client_os_error("write", exc, tmp) from exc
        except BaseException:
            with _suppress():
                os.unlink(tmp)
            raise
        try:
            os.replace(tmp, target)
        except OSError as exc:
            with _suppress():
                os.unlink(tmp)
            raise _client_os_error("rename", exc) from exc
        return 0
    if _isatty(ctx.out):
        raise ClientError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    ctx.out.flush()
    out = _ClientFile(_binary(ctx.out), "/dev/stdout")
    write(out)
    try:
        out.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _client_os_error("write", exc, "/dev/stdout") from exc
    return 0


def _client_os_error(op: str, exc: OSError, path: str = "") -> ClientError:
    """A failure of the client's own file, as Go's ``PathError``: ``open PATH: reason``."""
    from dockerlab.errors import describe

    if path and exc.filename is None:
        return ClientError(f"{op} {path}: {describe(exc)}")
    return ClientError(f"{op} {describe(exc)}")


class _ClientFile:
    """The binary file ``save``/``export`` write into: its failures are the client's own
    (a ClientError crosses the engine's boundary unchanged); a closed pipe stays one."""

    def __init__(self, f: Any, path: str) -> None:
        self._f, self._path = f, path

    def write(self, data: Any) -> int:
        try:
            return self._f.write(data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _client_os_error("write", exc, self._path) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def cmd_save(ctx: Context, ns: Namespace) -> int:
    return _write_out(ctx, ns.output, lambda f: ctx.engine.save(ns.images, f), "save image", 0o600)


def cmd_load(ctx: Context, ns: Namespace) -> int:
    if ns.input:
        try:
            f = open(ns.input, "rb")
        except OSError as exc:
            raise _client_os_error("open", exc) from None
        with f:
            subjects = ctx.engine.load(f)
    else:
        if _isatty(ctx.stdin):
            raise ClientError("requested load from stdin, but stdin is empty")
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
            size, shown = cp.copy_from_container(
                ctx.engine, sc, sp, dp, _binary(ctx.out), ns.follow_link
            )
        else:
            size, shown = cp.copy_to_container(
                ctx.engine, dc, sp, dp, _binary(ctx.stdin), ns.follow_link, ns.archive
            )
    except OSError as exc:  # the local side (the engine's side is behind its boundary)
        from dockerlab.errors import describe

        raise ClientError(describe(exc)) from exc
    if not ns.quiet and shown != "STDOUT" and _isatty(ctx.err):
        ctx.error(f"Successfully copied {human_size(size)} to {shown}")
    return 0


def cmd_system_df(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli import sysdf

    ctx.show(sysdf.render(ctx.engine.system_df(), ns.format or None, ns.verbose))
    return 0


def cmd_system_prune(ctx: Context, ns: Namespace) -> int:
    """``docker system prune`` (Docker 20.10's prompt and output), plus the work that
    killed commands left behind (dockerlab keeps no build cache of its own)."""
    filters = _filters(ns.filter)
    if not ns.force:
        items = ["all stopped containers", "all networks not used by at least one container"]
        if ns.volumes:
            items.append("all volumes not used by at least one container")
        items.append(
            "all images without at least one container associated to them"
            if ns.all
            else "all dangling images"
        )
        items.append(
            "all work left by interrupted commands (staging folders, temporary "
            "files, unreferenced blobs and layers)"
        )
        shown = sorted(f"{k}={v}" for k, vs in filters.items() for v in vs)
        if shown:
            items_filter = "".join(f"  - {f}\n" for f in shown)
            items_filter = f"\n  Items to be pruned will be filtered with:\n{items_filter}"
        else:
            items_filter = ""
        ctx.write(
            "WARNING! This will remove:\n"
            + "".join(f"  - {i}\n" for i in items)
            + items_filter
            + "\nAre you sure you want to continue? [y/N] "
        )
        ctx.out.flush()
        if ctx.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    result = ctx.engine.system_prune(all=ns.all, volumes=ns.volumes, filters=filters)
    if result.get("ContainersDeleted"):
        ctx.print("Deleted Containers:\n" + "".join(f"{c}\n" for c in result["ContainersDeleted"]))
    if result.get("NetworksDeleted"):
        ctx.print("Deleted Networks:\n" + "".join(f"{n}\n" for n in result["NetworksDeleted"]))
    if result.get("VolumesDeleted"):
        ctx.print("Deleted Volumes:\n" + "".join(f"{v}\n" for v in result["VolumesDeleted"]))
    if result.get("ImagesDeleted"):
        lines = [
            f"untagged: {r['Untagged']}" if "Untagged" in r else f"deleted: {r['Deleted']}"
            for r in result["ImagesDeleted"]
        ]
        ctx.print("Deleted Images:\n" + "".join(f"{line}\n" for line in lines))
    if result.get("WorkDeleted"):
        ctx.print(
            "Deleted interrupted work:\n"
            + "".join(f"{w['Kind']}: {w['Path']}\n" for w in result["WorkDeleted"])
        )
    from dockerlab.format import human_size

    ctx.print(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}")
    return 0


def cmd_tag(ctx: Context, ns: Namespace) -> int:
    """``docker tag``: a digest target is refused by the client, before the engine."""
    if "@" in ns.target:
        raise ClientError("refusing to create a tag with a digest reference")
    ctx.engine.image_tag(ns.source, ns.target)
    return 0


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _suppress() -> Any:
    import contextlib

    return contextlib.suppress(OSError)


# ---- layers: diff, commit, export, import ----

_KIND_LETTERS = ("C", "A", "D")


def cmd_diff(ctx: Context, ns: Namespace) -> int:
    from dockerlab.format.rendered import Lines

    changes = ctx.engine.diff(ns.container)
    ctx.show(Lines(f"{_KIND_LETTERS[c['Kind']]} {c['Path']}" for c in changes))
    return 0


def cmd_commit(ctx: Context, ns: Namespace) -> int:
    image_id = ctx.engine.commit(
        ns.container,
        ns.repository or None,
        message=ns.message or "",
        author=ns.author or "",
        changes=list(ns.change),
        pause=ns.pause,
    )
    ctx.print(image_id)
    return 0


def cmd_export(ctx: Context, ns: Namespace) -> int:
    return _write_out(
        ctx, ns.output, lambda f: ctx.engine.export(ns.container, f), "export container", 0o644
    )


def cmd_import(ctx: Context, ns: Namespace) -> int:
    source = ns.source
    if source.startswith(("http://", "https://")):
        raise ClientError(
            f"importing from a URL ({source}) is not supported by dockerlab: "
            "download the file, then import it from the file or -"
        )
    changes = list(ns.change)
    if source == "-":
        stream = getattr(ctx.stdin, "buffer", ctx.stdin)
        image_id = ctx.engine.import_image(stream, ns.repository or None, changes, ns.message or "")
    else:
        try:
            f = open(source, "rb")
        except OSError as exc:
            raise _client_os_error("open", exc) from None
        with f:
            image_id = ctx.engine.import_image(f, ns.repository or None, changes, ns.message or "")
    ctx.print(image_id)
    return 0


# ---- build ----
def _key_values(items: list[str], env: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        out[key] = value if eq else (os.environ.get(key) if env else "")
    return out


def cmd_build(ctx: Context, ns: Namespace) -> int:
    """``docker build`` with the classic builder's output (``DOCKER_BUILDKIT=0``)."""
    path = ns.context_path
    if path.startswith(("http://", "https://", "git@", "git://")):
        raise UsageError(
            f"unable to prepare context: building from a URL ({path}) is not "
            "supported by dockerlab: clone or download it, then build the folder"
        )
    _check_build_tags(list(ns.tag))
    if path != "-":
        _check_build_context(path)
    dockerfile = ns.file or "Dockerfile"
    if path == "-":
        context: Any = _binary(ctx.stdin).read()
    else:
        context = path
        if ns.file and ns.file != "-":
            dockerfile = os.path.abspath(ns.file)
            if not os.path.exists(dockerfile) and os.path.exists(os.path.join(path, ns.file)):
                dockerfile = os.path.abspath(os.path.join(path, ns.file))
    from dockerlab.terminal import verbs

    code, _ = verbs.build(
        ctx.engine,
        ctx.terminal,
        context,
        quiet=bool(ns.quiet),
        dockerfile=dockerfile,
        tags=list(ns.tag),
        no_cache=ns.no_cache,
        build_args=_key_values(list(ns.build_arg), env=True),
        target=ns.target or None,
        labels=_key_values(list(ns.label), env=False),
        rm=ns.rm,
        force_rm=ns.force_rm,
        pull=bool(ns.pull),
    )
    return code


def _check_build_tags(tags: list[str]) -> None:
    """Docker's client validates ``-t`` as a flag value (opts.ValidateTag): exit 125."""
    from dockerlab.cli.parser import usage_error
    from dockerlab.engine.images import reference as refs

    for tag in tags:
        try:
            digest = refs.parse(tag).digest
        except DockerlabError as exc:
            reason = str(exc)
        else:
            if not digest:
                continue
            reason = "refusing to create a tag with a digest reference"
        raise usage_error(f'invalid argument "{tag}" for "-t, --tag" flag: {reason}', "build")


def _check_build_context(path: str) -> None:
    """The client's checks of a local context, before anything is sent (exit 1, no
    "Error response from daemon"): the course's ``build -t x path/to/Dockerfile``."""
    if not os.path.exists(path):
        raise ClientError(f'unable to prepare context: path "{path}" not found', "build")
    real = os.path.realpath(path)  # Docker names it after filepath.Abs and EvalSymlinks
    if not os.path.isdir(real):
        raise ClientError(
            f"unable to prepare context: context must be a directory: {real}", "build"
        )


# ---- the table: verb -> handler ----------------------------------------------------------

HANDLERS: dict[str, Callable[[Context, Namespace], int]] = {
    "attach": cmd_attach,
    "build": cmd_build,
    "commit": cmd_commit,
    "cp": cmd_cp,
    "create": cmd_create,
    "diff": cmd_diff,
    "exec": cmd_exec,
    "export": cmd_export,
    "history": cmd_history,
    "images": cmd_images,
    "import": cmd_import,
    "info": cmd_info,
    "inspect": cmd_inspect,
    "kill": cmd_kill,
    "load": cmd_load,
    "logs": cmd_logs,
    "pause": cmd_pause,
    "ps": cmd_ps,
    "rename": cmd_rename,
    "restart": cmd_restart,
    "rm": cmd_rm,
    "rmi": cmd_rmi,
    "run": cmd_run,
    "save": cmd_save,
    "start": cmd_start,
    "stats": cmd_stats,
    "stop": cmd_stop,
    "tag": cmd_tag,
    "top": cmd_top,
    "port": cmd_port,
    "unpause": cmd_unpause,
    "update": cmd_update,
    "version": cmd_version,
    "wait": cmd_wait,
    "container inspect": cmd_inspect,
    "container prune": cmd_container_prune,
    "image bootstrap": cmd_image_bootstrap,
    "image prune": cmd_image_prune,
    "image inspect": cmd_inspect,
    "system df": cmd_system_df,
    "system prune": cmd_system_prune,
    "volume create": cmd_volume_create,
    "volume inspect": cmd_volume_inspect,
    "volume ls": cmd_volume_ls,
    "volume prune": cmd_volume_prune,
    "volume rm": cmd_volume_rm,
}


def cmd_events(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.events import cmd_events as events

    return events(ctx, ns)


HANDLERS["events"] = cmd_events


# ---- networks (user-defined bridge networks) ----------------------------------------------


def cmd_network_create(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.options import labels

    subnets, gateways = ns.subnet or [], ns.gateway or []
    if len(subnets) > 1 or len(gateways) > 1:
        raise InvalidParameter("dockerlab networks have one IPv4 subnet (one --subnet)")
    body: dict[str, Any] = {
        "Name": ns.name,
        "CheckDuplicate": True,
        "Driver": ns.driver or "bridge",
        "Internal": bool(ns.internal),
        "Options": labels(ns.opt or []),
        "Labels": labels(ns.label or []),
    }
    if gateways and not subnets:  # the CLI's own checks (no "Error response from daemon")
        raise ClientError("every ip-range or gateway must have a corresponding subnet")
    if gateways:
        from dockerlab.engine.network.networks import in_subnet

        if not in_subnet(gateways[0], subnets[0]):
            raise ClientError(f"no matching subnet for gateway {gateways[0]}")
    if subnets or gateways:
        entry = {"Subnet": subnets[0] if subnets else ""}
        if gateways:
            entry["Gateway"] = gateways[0]
        body["IPAM"] = {"Driver": "default", "Config": [entry]}
    ctx.print(ctx.engine.network_create(body)["Id"])
    return 0


def cmd_network_ls(ctx: Context, ns: Namespace) -> int:
    from dockerlab.cli.network import NETWORKS_FORMAT, NETWORKS_HEADER, NetworkRow
    from dockerlab.format.rendered import Lines

    nets = ctx.engine.networks(_filters(ns.filter or []))
    if ns.quiet:
        ctx.show(Lines(n["Id"] if ns.no_trunc else n["Id"][:12] for n in nets))
        return 0
    rows = [NetworkRow(n, not ns.no_trunc) for n in nets]
    ctx.show(render.listing(ns.format, NETWORKS_FORMAT, NETWORKS_HEADER, rows))
    return 0


def cmd_network_inspect(ctx: Context, ns: Namespace) -> int:
    found, missing = [], []
    for name in ns.names:
        try:
            found.append(ctx.engine.network_inspect(name))
        except NotFound:
            missing.append(name)
    _inspect_output(ctx, ns, found)
    for name in missing:
        ctx.error(f"Error: No such network: {name}")
    return 1 if missing else 0


def cmd_network_rm(ctx: Context, ns: Namespace) -> int:
    return _each(ctx, ns.names, ctx.engine.network_remove, "network rm")


def cmd_network_connect(ctx: Context, ns: Namespace) -> int:
    ctx.engine.network_connect(ns.network, ns.container, list(ns.alias or []), ns.ip or "")
    return 0


def cmd_network_disconnect(ctx: Context, ns: Namespace) -> int:
    ctx.engine.network_disconnect(ns.network, ns.container, bool(ns.force))
    return 0


def cmd_network_prune(ctx: Context, ns: Namespace) -> int:
    if not ns.force and not _confirm(
        ctx, "This will remove all custom networks not used by at least one container."
    ):
        return 0
    deleted = ctx.engine.network_prune(_filters(ns.filter or [])).get("NetworksDeleted") or []
    if deleted:
        ctx.print("Deleted Networks:")
        for name in deleted:
            ctx.print(name)
        ctx.print()
    return 0


HANDLERS.update(
    {
        "network connect": cmd_network_connect,
        "network create": cmd_network_create,
        "network disconnect": cmd_network_disconnect,
        "network inspect": cmd_network_inspect,
        "network ls": cmd_network_ls,
        "network prune": cmd_network_prune,
        "network rm": cmd_network_rm,
    }
)


def cmd_registry(ctx: Context, ns: Namespace) -> int:
    """``registry start|stop|status`` (dockerlab's own): :mod:`dockerlab.cli.labregistry`."""
    from dockerlab.cli import labregistry

    return int(getattr(labregistry, "cmd_" + ns.verb.replace(" ", "_"))(ctx, ns))


HANDLERS.update(
    {
        v: cmd_registry
        for v in ("registry start", "registry status", "registry stop", "registry seed")
    }
)


def _registry_verb(name: str) -> Callable[[Context, Namespace], int]:
    """The handler ``name`` of :mod:`dockerlab.cli.registry`, imported when called."""

    def handler(ctx: Context, ns: Namespace) -> int:
        from dockerlab.cli import registry

        fn: Callable[[Context, Namespace], int] = getattr(registry, name)
        return fn(ctx, ns)

    return handler


for _verb in ("pull", "push", "login", "logout", "search"):
    HANDLERS[_verb] = _registry_verb(f"cmd_{_verb}")


def cmd_daemon(ctx: Context, ns: Namespace) -> int:
    """``daemon``: the Docker Engine API on a socket (:mod:`dockerlab.daemon.server`)."""
    from dockerlab.daemon import server

    tls = None
    if ns.tls or ns.tlsverify:
        missing = [f"--{n}" for n in ("tlscert", "tlskey") if not getattr(ns, n)]
        if ns.tlsverify and not ns.tlscacert:
            missing.insert(0, "--tlscacert")
        if missing:
            raise ClientError(f"TLS needs {', '.join(missing)}")
        tls = server.Tls(ns.tlscacert or "", ns.tlscert, ns.tlskey, bool(ns.tlsverify))
    return server.run(ns.host, ctx.root, ns.group, tls, ns.trace, ctx.out, ctx.err)


HANDLERS["daemon"] = cmd_daemon
