"""What a container's own layer takes on disk, whatever its storage driver."""

from __future__ import annotations

import os

from dockerlab.engine.storage.drivers import of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def rw_size(c: Any) -> int:
    """Docker's SizeRw of container ``c``: its upper folder, or on vfs what it changed."""
    if of(c.config) == "vfs":
        from dockerlab.engine.storage import vfs

        return vfs.rw_size(c)
    from dockerlab.engine.basics import tree_size

    return tree_size(os.path.join(c.layer_dir, "diff"))
