"""``dockerlab registry start|stop|status``: the lab registry (dockerlab's own command).

The engine side is :mod:`dockerlab.engine.registry.lab`; this prints what it did and how to
use it: the address to tag and push to, the users to log in as, and the mirror setting
(``DOCKERLAB_MIRROR``) that makes ``pull busybox`` try the lab registry first.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.cli.parser import Namespace

MIRROR_ENV = "DOCKERLAB_MIRROR"  # as dockerlab.engine.registry.lab (not imported for this)


def _lab(ctx: Any) -> Any:
    return ctx.engine.lab_registry()


def _mirror_lines(state: dict[str, Any]) -> list[str]:
    url = state["URL"]
    current = os.environ.get(MIRROR_ENV, "")
    if current.rstrip("/") == url:
        return [f"Mirror:   {MIRROR_ENV}={current} (pulls of Docker Hub images try it first)"]
    lines = [
        f"Mirror:   not set; to pull Docker Hub images from it first: export {MIRROR_ENV}={url}"
    ]
    if current:
        lines[0] = f"Mirror:   {MIRROR_ENV}={current} (another registry; this one is {url})"
    return lines


def _describe(state: dict[str, Any]) -> list[str]:
    auth = "none (anyone may push and pull)"
    if state.get("Htpasswd"):
        users = ", ".join(state.get("Users") or []) or "no users yet"
        auth = f"htpasswd {state['Htpasswd']} (users: {users})"
    return [
        f"Address:  {state['Address']}",
        f"URL:      {state['URL']}",
        f"Pid:      {state['Pid']}",
        f"Storage:  {state['Storage']}",
        f"Auth:     {auth}",
        f"Log:      {state['Log']}",
        *_mirror_lines(state),
    ]


def cmd_registry_start(ctx: Any, ns: Namespace) -> int:
    state = _lab(ctx).start(port=ns.port, users=list(ns.user), htpasswd=ns.htpasswd)
    addr = state["Address"]
    ctx.print(f"The lab registry is running on {state['URL']} (pid {state['Pid']})")
    for line in _describe(state)[3:-1]:
        ctx.print(line)
    ctx.print("")
    if state.get("Users"):
        ctx.print(f"Log in:      dockerlab login -u {state['Users'][0]} {addr}")
    ctx.print(
        f"Push to it:  dockerlab tag busybox {addr}/lab/busybox && "
        f"dockerlab push {addr}/lab/busybox"
    )
    ctx.print(
        f"As a mirror: dockerlab tag busybox {addr}/library/busybox && "
        f"dockerlab push {addr}/library/busybox"
    )
    ctx.print(
        f"             export {MIRROR_ENV}={state['URL']}   "
        "(then `dockerlab pull busybox` tries it first)"
    )
    return 0


def cmd_registry_status(ctx: Any, ns: Namespace) -> int:
    state = _lab(ctx).status()
    if ns.format:
        from dockerlab.format.gotemplate import parse, parse_format

        ctx.print(parse(parse_format(ns.format)[1]).execute(state))
        return 0
    if not state["Running"]:
        ctx.print("Status:   not running (start it with `dockerlab registry start`)")
        ctx.print(f"Storage:  {state['Storage']}")
        return 0
    ctx.print("Status:   running")
    for line in _describe(state):
        ctx.print(line)
    return 0


def cmd_registry_stop(ctx: Any, ns: Namespace) -> int:
    state = _lab(ctx).stop()
    if state["Running"]:
        ctx.print(f"Stopped the lab registry on {state['Address']} (pid {state['Pid']})")
    else:
        ctx.print("The lab registry is not running")
    return 0


SEED = ("busybox", "debian", "web", "db")  # the course's images, where this store has them


def cmd_registry_seed(ctx: Any, ns: Namespace) -> int:
    """Push the course's local images (or the ones named) into the running lab registry as
    ``library/NAME:TAG``, so that a pull of ``NAME`` through the mirror finds them."""
    from dockerlab.engine.images import reference as refs
    from dockerlab.terminal import verbs

    state = _lab(ctx).status()
    if not state["Running"]:
        ctx.error("The lab registry is not running: start it with `dockerlab registry start`")
        return 1
    wanted = list(ns.images) or [n for n in SEED if _tags_of(ctx, n)]
    if not wanted:
        ctx.error("No course image here to push: make one with `dockerlab image bootstrap`")
        return 1
    for name in wanted:
        tags = _tags_of(ctx, name)
        if not tags:
            ctx.error(f"An image does not exist locally with the tag: {name}")
            return 1
        for tag in tags:
            ref = refs.parse_tagged(tag)
            target = f"{state['Address']}/library/{ref.familiar_name.rpartition('/')[2]}:{ref.tag}"
            ctx.engine.image_tag(tag, target)
            try:
                ctx.print(f"The push refers to repository [{target.rpartition(':')[0]}]")
                ctx.out.flush()
                code = verbs.push(ctx.engine, ctx.terminal, target, quiet=True)
            finally:
                ctx.engine.image_remove(target)  # the registry's name only; the image stays
            if code:
                return code
    ctx.print(f"Seeded: export {MIRROR_ENV}={state['URL']}, then `dockerlab pull NAME`")
    return 0


def _tags_of(ctx: Any, name: str) -> list[str]:
    """The local tags of repository ``name`` (``busybox:latest``, …)."""
    if ":" in name or "@" in name:
        return [name] if _exists(ctx, name) else []
    return sorted(
        tag
        for image in ctx.engine.images()
        for tag in image.get("RepoTags") or []
        if tag.rpartition(":")[0] == name
    )


def _exists(ctx: Any, ref: str) -> bool:
    from dockerlab.errors import NotFound

    try:
        ctx.engine.image_inspect(ref)
    except NotFound:
        return False
    return True
