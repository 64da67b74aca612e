"""The registry verbs: ``pull``, ``push``, ``login``, ``logout``, ``search``."""

from __future__ import annotations

from dockerlab.errors import ClientError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.cli.parser import Namespace

    Context = Any  # dockerlab.cli.commands.Context (which imports this module)


def _check_ref(name: str) -> tuple[str, bool]:
    """(the reference, whether ``:latest`` was added); Docker's client words a bad one."""
    from dockerlab.engine.images import reference as refs
    from dockerlab.errors import InvalidParameter

    try:
        ref = refs.parse(name)
    except InvalidParameter as exc:
        raise ClientError(str(exc)) from None
    return name, ref.tag is None and ref.digest is None


def cmd_pull(ctx: Context, ns: Namespace) -> int:
    from dockerlab.terminal import verbs

    name, defaulted = _check_ref(ns.name)
    if ns.all_tags and not defaulted:
        raise ClientError("tag can't be used with --all-tags/-a")
    if defaulted and not ns.all_tags:
        ctx.print("Using default tag: latest")
        ctx.out.flush()
    code, _ = verbs.pull(
        ctx.engine,
        ctx.terminal,
        name,
        quiet=ns.quiet,
        all_tags=ns.all_tags,
        platform=ns.platform or "",
    )
    return code


def cmd_push(ctx: Context, ns: Namespace) -> int:
    from dockerlab.engine.images import reference as refs
    from dockerlab.terminal import verbs

    name, defaulted = _check_ref(ns.name)
    ref = refs.parse(name)
    if ns.all_tags:
        if ref.tag is not None or ref.digest is not None:
            raise ClientError("tag can't be used with --all-tags/-a")
        names = ctx.engine.push_tags(name)
        if not names:
            ctx.print(f"The push refers to repository [{ref.name}]")
            ctx.error(f"An image does not exist locally with the tag: {ref.familiar_name}")
            return 1
    else:
        if defaulted:
            ctx.print("Using default tag: latest")
        ctx.out.flush()
        names = [name]
    ctx.print(f"The push refers to repository [{ref.name}]")
    ctx.out.flush()
    term = ctx.terminal
    for n in names:
        code = verbs.push(ctx.engine, term, n, quiet=ns.quiet)
        if code:
            return code
    return 0


def _read_password_stdin(ctx: Context) -> str:
    data = ctx.stdin.readline() if hasattr(ctx.stdin, "readline") else ""
    return data.rstrip("\r\n")


def cmd_login(ctx: Context, ns: Namespace) -> int:
    user, password = ns.username or "", ns.password or ""
    if ns.password and ns.password_stdin:
        raise ClientError("--password and --password-stdin are mutually exclusive")
    if ns.password_stdin:
        if not user:
            raise ClientError("Must provide --username with --password-stdin")
        password = _read_password_stdin(ctx)
    if ns.password:
        ctx.error("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    interactive = ctx.stdin.isatty() and ctx.out.isatty() if hasattr(ctx.out, "isatty") else False
    if not user or not password:
        if not interactive:
            raise ClientError("Error: Cannot perform an interactive login from a non TTY device")
        if not user:
            ctx.write("Username: ")
            ctx.out.flush()
            user = ctx.stdin.readline().strip()
            if not user:
                raise ClientError("Error: Non-null Username Required")
        if not password:
            import getpass

            password = getpass.getpass("Password: ")
            if not password:
                raise ClientError("Error: Password Required")
    server = ns.server or ""
    _, path, plain = ctx.engine.login(server, user, password)
    if plain:
        ctx.error(
            f"WARNING! Your password will be stored unencrypted in {path}.\n"
            "Configure a credential helper to remove this warning. See\n"
            "https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n"
        )
    ctx.print("Login Succeeded")
    return 0


def cmd_logout(ctx: Context, ns: Namespace) -> int:
    shown = ctx.engine.logout(ns.server or "")
    ctx.print(f"Removing login credentials for {shown}")
    return 0


def cmd_search(ctx: Context, ns: Namespace) -> int:
    from dockerlab.format import gotemplate

    limit = ns.limit if ns.limit else 25
    if limit < 1 or limit > 100:
        raise ClientError(
            "Error response from daemon: limit 0 is outside the range of [1, 100]"
            if limit < 1
            else f"Error response from daemon: limit {limit} is outside the range of [1, 100]"
        )
    filters = _search_filters(list(ns.filter))
    results = ctx.engine.search(ns.term, limit)
    rows = []
    for r in results:
        stars = int(r.get("star_count") or 0)
        official = bool(r.get("is_official"))
        automated = bool(r.get("is_automated"))
        if "stars" in filters and stars < int(str(filters["stars"])):
            continue
        if "is-official" in filters and official != filters["is-official"]:
            continue
        if "is-automated" in filters and automated != filters["is-automated"]:
            continue
        desc = str(r.get("description") or "").replace("\n", " ")
        if not ns.no_trunc and len(desc) > 45:
            desc = desc[:44] + "…"
        rows.append(
            {
                "Name": r.get("name", ""),
                "Description": desc,
                "StarCount": stars,
                "IsOfficial": official,
                "IsAutomated": automated,
            }
        )
    if ns.format:
        is_table, fmt = gotemplate.parse_format(ns.format)
        if is_table:  # a table's header: the field names, as docker's search context says
            ctx.print(gotemplate.render(fmt, _SEARCH_HEADERS).expandtabs())
        for row in rows:
            ctx.print(gotemplate.render(fmt, _search_fields(row)))
        return 0
    lines = [("NAME", "DESCRIPTION", "STARS", "OFFICIAL")]
    for row in rows:
        lines.append(
            (
                str(row["Name"]),
                str(row["Description"]),
                str(row["StarCount"]),
                "[OK]" if row["IsOfficial"] else "",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    for line in lines:
        ctx.print("   ".join(c.ljust(w) for c, w in zip(line[:3], widths)) + "   " + line[3])
    return 0


_SEARCH_HEADERS = {
    "Name": "NAME",
    "Description": "DESCRIPTION",
    "StarCount": "STARS",
    "IsOfficial": "OFFICIAL",
    "IsAutomated": "AUTOMATED",
}


def _search_fields(row: dict[str, object]) -> dict[str, object]:
    return {
        "Name": row["Name"],
        "Description": row["Description"],
        "StarCount": str(row["StarCount"]),
        "IsOfficial": "[OK]" if row["IsOfficial"] else "",
        "IsAutomated": "[OK]" if row["IsAutomated"] else "",
    }


def _search_filters(items: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ClientError(f"Error response from daemon: invalid filter '{item}'")
        if key == "stars":
            try:
                out[key] = int(value)
            except ValueError:
                raise ClientError(
                    f"Error response from daemon: invalid filter 'stars={value}'"
                ) from None
        elif key in ("is-official", "is-automated"):
            if value not in ("true", "false"):
                raise ClientError(f"Error response from daemon: invalid filter '{key}={value}'")
            out[key] = value == "true"
        else:
            raise ClientError(f"Error response from daemon: invalid filter '{key}'")
    return out


def pull_for_run(ctx: Context, image: str, always: bool) -> None:
    """``run``/``create`` of an image the store lacks pull it first, as Docker's client does:
    ``Unable to find image 'busybox:latest' locally`` then the pull's lines, on stderr."""
    from dockerlab.cli.terminal import CliTerminal
    from dockerlab.engine.images import reference as refs
    from dockerlab.errors import InvalidParameter
    from dockerlab.terminal import verbs

    if refs.is_full_id(image):
        return
    try:
        shown = refs.familiar(image)
    except InvalidParameter:
        return  # create says why
    if not always:
        if ctx.engine.image_store.exists(image):
            return
        ctx.error(f"Unable to find image '{shown}' locally")
        ctx.err.flush()
    term = ctx.terminal
    if isinstance(term, CliTerminal):  # the pull's lines go to stderr
        term = CliTerminal(ctx.err, ctx.err, ctx.stdin)
    for msg in ctx.engine.pull(image):
        verbs.show_progress(term, msg)
    term.flush()
