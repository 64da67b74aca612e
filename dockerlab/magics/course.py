"""The course notebooks' first cell: one shared state root, a clean start, what this server can do.

Every chapter calls :func:`start` first. All chapters share one state root, the
``.dockerlab-root`` folder beside the notebooks (the course's ``/var/lib/docker``, never the
host's ``/var/lib/dockerlab``), so images made in one chapter are there in the next; each
chapter starts clean instead of ending by deleting what its widgets show: containers,
networks and volumes are removed, and images other than the ones kept (``busybox`` and those
named). Messages are Chinese, the course's language.
"""

from __future__ import annotations

import os
import pathlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockerlab.engine import Engine

KEEP = ("busybox:latest",)


def start(keep: tuple[str, ...] = (), root: str | os.PathLike[str] | None = None) -> Engine:
    """Point ``%docker`` and the engine at the course's state root, say what this server lacks
    (or that it runs rootless), make ``busybox`` if missing, and remove what an earlier run of
    a chapter left (images in ``keep`` stay too). Returns the :class:`Engine` of that root."""
    from dockerlab.engine import Engine
    from dockerlab.magics.runner import host_note, host_problem
    from dockerlab.widgets.i18n import set_language

    set_language("zh")  # the widgets speak the course's language

    path = pathlib.Path(root) if root is not None else pathlib.Path.cwd() / ".dockerlab-root"
    os.environ["DOCKERLAB_ROOT"] = str(path)
    engine = Engine(str(path))
    problem = host_problem()
    if problem:
        print(
            "注意：这里无法创建容器（例如 Binder 不允许用户命名空间（user namespace）时）。"
            "本笔记本在这里只能阅读，运行容器的单元格会报错。原因：",
            problem,
        )
    elif host_note():  # an ordinary user: rootless mode runs containers, without limits
        print("注意：", host_note())
    try:
        _clean(engine, (*KEEP, *keep))
    except Exception as err:  # the state root cannot be written here, for one
        print("准备状态根目录时出错：", err)
    print("状态根目录:", path)
    print("镜像:", ", ".join(sorted(t for img in _images(engine) for t in img["RepoTags"])))
    return engine


def _images(engine: Engine) -> list[dict]:
    try:
        return engine.images()
    except Exception:  # (said by start's clean-up already)
        return []


def _clean(engine: Engine, keep: tuple[str, ...]) -> None:
    if not engine.images():
        engine.image_bootstrap("busybox")
    for cid in engine.container_ids():
        engine.remove(cid, force=True)
    for img in engine.images():
        if not any(tag in keep for tag in img["RepoTags"]):
            engine.image_remove(img["Id"], force=True)
    for net in engine.networks():
        if net["Name"] not in ("bridge", "host", "none"):
            engine.network_remove(net["Id"])
    for vol in engine.volumes():
        engine.volume_remove(vol["Name"], force=True)
