"""``export``: one flat tar of a container's merged filesystem, as ``docker export`` writes.

A running container's overlay is already mounted at its ``MergedDir`` on the host (its
/proc, /dev, /sys and bind mounts live in the container's own mount namespace, so they are
not seen there). A stopped container's layers are mounted read-only in a temporary folder
(the writable layer on top of the init layer and the image's layers, no upper folder), read
and unmounted. Either way the engine's files are the empty ones of the init layer, as in
Docker's export, and volume contents are not included.

The tree is written by :class:`~dockerlab.engine.images.archive.Packer`, which walks it through
directory descriptors only (every child opened ``O_NOFOLLOW`` relative to its folder), so a
running container that swaps a folder for a symlink mid-export cannot make us pack a host
file (CVE-2018-15664's class). Docker 20.10 does not pause the container for export either.

The lower folders are named through ``/proc/self/fd/N`` (an ``O_PATH`` descriptor of the
overlay folder) so mount options stay short without changing the process's working folder,
which would be unsafe in a multi-threaded Jupyter kernel.
"""

from __future__ import annotations

import os
import tempfile
from typing import IO

from dockerlab.engine.runtime import linux as L
from dockerlab.engine.work import prefix as work_prefix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockerlab.engine.containers.store import ContainerStore


def export(containers: ContainerStore, ref: str, fileobj: IO[bytes]) -> None:
    from dockerlab.engine.checks import require_privileges
    from dockerlab.engine.images.archive import pack_dir

    c = containers.find(ref)
    paths = containers.paths
    from dockerlab.engine import userns

    if userns.needed():  # rootless: packed in the user's namespace (the monitor's if running)
        join = userns.monitor_of(c)
        userns.call("export", paths.root, [paths.run, ref], join=join, data_out=fileobj)
        return
    merged = os.path.join(c.layer_dir, "merged")
    if (c.running and os.path.ismount(merged)) or (c.config.get("Runtime") or {}).get(
        "Driver"
    ) == "vfs":  # (vfs: the copy is the container's files, running or not)
        pack_dir(merged, fileobj)  # type: ignore[arg-type]
        return
    require_privileges()
    os.makedirs(paths.tmp, mode=0o700, exist_ok=True)
    target = tempfile.mkdtemp(prefix=work_prefix("export"), dir=paths.tmp)
    base = os.open(paths.overlay, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    mounted = False
    try:
        prefix = f"/proc/self/fd/{base}"
        links = [
            link if link.startswith("/") else f"{prefix}/{link}"
            for link in c.config["Runtime"]["LowerLinks"]
        ]
        upper = f"{prefix}/{c.config['Runtime']['Layer']}/diff"
        if c.config["Runtime"].get("Driver") == "fuse-overlayfs":  # the kernel's is refused
            from dockerlab.engine.storage import fuse

            here = [p.replace(prefix, paths.overlay, 1) for p in [upper, *links]]
            fuse.mount("lowerdir=" + ":".join(here) + ",ro", target)
        else:
            data = "lowerdir=" + ":".join([upper, *links])
            if os.environ.get("DOCKERLAB_ROOTLESS") == "1":  # (the helper's) opaque: user.*
                data += ",userxattr"
            L.mount("overlay", target, "overlay", L.MS_RDONLY, data)
        mounted = True
        pack_dir(target, fileobj)  # type: ignore[arg-type]
    finally:
        if mounted and c.config["Runtime"].get("Driver") == "fuse-overlayfs":
            from dockerlab.engine.storage import fuse

            fuse.unmount(target)
        elif mounted:
            L.umount(target, L.MNT_DETACH)
        os.close(base)
        os.rmdir(target)


def export_inside(root: str, run: str, ref: str, out: IO[bytes]) -> None:
    """(In the rootless helper, engine/userns.py) :func:`export`."""
    from dockerlab.engine.containers.store import ContainerStore
    from dockerlab.engine.paths import Paths

    export(ContainerStore(Paths(root, run)), ref, out)
