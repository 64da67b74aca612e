"""``docker build`` as Docker's classic builder does it (``DOCKER_BUILDKIT=0``).

    parser.py   Dockerfile text -> instructions (directives, continuations, forms)
    shell.py    $VAR / ${VAR:-x} substitution with Docker's quoting rules
    context.py  the build context: folder or tar, .dockerignore, its size
    copy.py     COPY/ADD sources, content hashes, safe writes into an image root
    cache.py    the classic cache: a child image made by the same step
    builder.py  stages and steps: containers for RUN, a commit per step
    events.py   BuildEvent (what the build reports) and BuildFailed

:func:`build` is what :meth:`Engine.build <dockerlab.engine.facade.Engine.build>` runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from dockerlab.engine.build.events import BuildEvent, BuildFailed

if TYPE_CHECKING:
    from dockerlab.engine.build.builder import Engine

__all__ = ["BuildEvent", "BuildFailed", "build"]


def build(
    engine: Engine,
    context: str | os.PathLike[str] | bytes | IO[bytes],
    dockerfile: str = "Dockerfile",
    tags: tuple[str, ...] | list[str] = (),
    build_args: dict[str, str | None] | None = None,
    no_cache: bool = False,
    target: str | None = None,
    labels: dict[str, str] | None = None,
    quiet: bool = False,
    rm: bool = True,
    force_rm: bool = False,
    pull: bool = False,
    host_config: dict[str, Any] | None = None,
) -> Iterator[BuildEvent]:
    from dockerlab.engine.build import context as contexts
    from dockerlab.engine.build.builder import Builder
    from dockerlab.engine.images import reference as refs
    from dockerlab.errors import InvalidParameter

    tags = list(tags)
    for t in tags:
        named = refs.parse_tagged(t)
        if named.digest is not None:
            raise InvalidParameter(f"invalid reference format: {t}")
    if isinstance(context, (str, os.PathLike)):
        ctx = contexts.from_dir(os.fspath(context), dockerfile)
    else:
        data = context if isinstance(context, bytes) else context.read()
        ctx = contexts.from_bytes(data, engine.paths.tmp, dockerfile)
    from dockerlab.engine import work

    folder = work.begin(engine.paths, "build")  # names this build's containers
    try:
        if not quiet:
            yield BuildEvent(
                "context",
                f"Sending build context to Docker daemon  {contexts.human_size(ctx.size)}",
            )
        builder = Builder(
            engine,
            ctx,
            tags,
            build_args or {},
            no_cache,
            target,
            labels or {},
            rm,
            force_rm,
            os.path.basename(folder),
        )
        builder.pull = pull  # --pull: FROM images are pulled even when present
        builder.host_config = dict(host_config or {})
        for event in builder.run():
            if not quiet or event.kind == "aux":
                yield event
    finally:
        ctx.close()
        work.discard(folder)
