"""The course's small ``web`` and ``db`` images, built from busybox with the engine's own
Dockerfile builder (no registry needed). Their Dockerfiles live in ``dockerlab/data/images/``:

    web   busybox httpd serving one page from /var/www, EXPOSE 80
    db    a tiny key-value store (busybox sh behind ``nc -ll``) on 3306, with the ENV a
          linked container sees as DB_ENV_* in the --link lesson
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from dockerlab.errors import DockerlabError, NoSuchImage

LAB_IMAGES = ("web", "db")
DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "data", "images")


def context_of(name: str) -> str:
    return os.path.join(DATA, name)


def bootstrap_lab_image(
    engine: Any, name: str, progress: Callable[[str, bool], None] | None = None
) -> str:
    """Build ``<name>:latest`` from its Dockerfile (busybox:latest made first if missing);
    the builder's lines go to ``progress``. Returns the image ID."""
    progress = progress or (lambda text, transient: None)
    try:
        engine.image_store.resolve("busybox:latest")
    except NoSuchImage:
        from dockerlab.engine.images.bootstrap import bootstrap_busybox

        progress("busybox:latest is missing: bootstrapping it first", False)
        bootstrap_busybox(engine.image_store)
    image_id = ""
    for event in engine.build(context_of(name), tags=[f"{name}:latest"]):
        if event.kind == "aux":
            image_id = event.image_id
        elif event.text and event.kind != "context":
            for line in event.text.splitlines():
                progress(line, False)
    if not image_id:
        raise DockerlabError(f"building {name} gave no image")
    progress(f"Status: Built {name}:latest", False)
    return image_id
