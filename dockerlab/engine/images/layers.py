"""Image layers on disk, in Docker's overlay2 layout.

    $DOCKERLAB_ROOT/overlay/
    ├── <chainhex>/             one per image layer; <chainhex> = hex of the layer's ChainID
    │   ├── diff/               the layer's files (overlay whiteouts: char 0/0, opaque xattr)
    │   ├── link                the layer's short id, e.g. 5TBBDCJ2AXRF6VMZTO7SZYDFJQ
    │   ├── lower               short links of the layers below, "l/AAA:l/BBB" (top first)
    │   └── layer.json          {"ChainID","DiffID","Parent","Size"}: written last
    ├── l/<short> -> ../<chainhex>/diff    so overlay mount options stay short
    └── .incomplete/<chainhex>  flag: this layer is being created (removed when complete)

A layer is created under the image store's lock: its flag is set first, the folder is filled
(unpacked from the layer's tar, or, for a pull, a ``diff/`` unpacked while it downloaded is
renamed in: :meth:`LayerStore.adopt`), ``layer.json`` is written, then the flag is dropped.
On the next load a flagged layer that no image references is removed: nothing half-written
is trusted. Layers carry no reference count of their own: the image store counts the images
(and containers) that use them.

Container layers (``overlay/<container id>/``) share the folder but are not managed here.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from dockerlab.engine import atomic
from dockerlab.engine.paths import Paths
from dockerlab.errors import NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

INCOMPLETE_DIR = ".incomplete"
LINK_DIR = "l"


def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """ChainIDs (``sha256:…``) of a stack of DiffIDs, bottom first (OCI config.md)."""
    out: list[str] = []
    for diff in diff_ids:
        if not out:
            out.append(diff)
        else:
            import hashlib  # only for stacked layers: ~4 ms off a one-layer image's start

            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff}".encode()).hexdigest())
    return out


def short_link(chain_id: str) -> str:
    """The layer's 26-character short id (derived from its ChainID, so stable)."""
    import base64

    raw = bytes.fromhex(_hex(chain_id))
    return base64.b32encode(raw).decode()[:26]


class LayerStore:
    """Unpacked image layers under ``paths.overlay``."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.root = paths.overlay

    # ---- paths ----------------------------------------------------------------------------
    def dir(self, chain_id: str) -> str:
        return os.path.join(self.root, _hex(chain_id))

    def diff_dir(self, chain_id: str) -> str:
        """The layer's files (unpacked now if the layer was registered lazily)."""
        self.ensure(chain_id)
        return os.path.join(self.root, _hex(chain_id), "diff")

    def link_path(self, chain_id: str, relative: bool = False) -> str:
        rel = f"{LINK_DIR}/{short_link(chain_id)}"
        return rel if relative else os.path.join(self.root, rel)

    def _flag(self, chain_id: str) -> str:
        return os.path.join(self.root, INCOMPLETE_DIR, _hex(chain_id))

    # ---- queries --------------------------------------------------------------------------
    def exists(self, chain_id: str) -> bool:
        """True when the layer is complete (``layer.json`` written, no incomplete flag)."""
        return os.path.exists(
            os.path.join(self.dir(chain_id), "layer.json")
        ) and not os.path.exists(self._flag(chain_id))

    def get(self, chain_id: str) -> dict[str, Any]:
        try:
            record = atomic.read_json(os.path.join(self.dir(chain_id), "layer.json"))
        except FileNotFoundError:
            raise NotFound(f"layer does not exist: {chain_id}") from None
        except ValueError:  # cut by a crash: sizes read as unknown, never a traceback
            raise NotFound(f"layer {chain_id} is corrupt: its layer.json cannot be read") from None
        if not isinstance(record, dict):
            raise NotFound(f"layer {chain_id} is corrupt: its layer.json is not an object")
        return record

    def size(self, chain_id: str) -> int:
        return int(self.get(chain_id).get("Size", 0))

    def lowerdirs(self, chain: list[str], relative: bool = False) -> list[str]:
        """Short links of the layers ``chain`` (bottom first), returned top first.

        With ``relative`` they are relative to :attr:`root` (``l/<short>``): mount with the
        current directory there and a 128-layer image still fits a page of mount options.
        """
        for c in chain:
            self.ensure(c)
        return [self.link_path(c, relative) for c in reversed(chain)]

    def ids(self) -> list[str]:
        """ChainIDs of all complete layers."""
        out = []
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        for name in names:
            if len(name) == 64 and self.exists(name):
                out.append("sha256:" + name)
        return sorted(out)

    # ---- changes (caller holds the image store's lock) ------------------------------------
    def ensure(self, chain_id: str) -> None:
        """Unpack a layer registered with ``lazy`` (its ``pending`` file names the tar).

        Until then only its tar exists: a ``commit`` need not create every file of the layer
        at once. A crash mid-unpack leaves ``pending`` in place, so the next use redoes it.
        """
        folder = self.dir(chain_id)
        pending = os.path.join(folder, "pending")
        if not os.path.exists(pending):
            return
        with atomic.locked(os.path.join(folder, "unpack.lock")):
            try:
                with open(pending) as f:
                    tar_path = f.read()
            except FileNotFoundError:  # unpacked by someone else meanwhile
                return
            diff = os.path.join(folder, "diff")
            _rmtree(diff)
            os.makedirs(diff, mode=0o755)
            record = self.get(chain_id)
            record["Size"] = unpack(tar_path, diff, os.path.dirname(self.root))
            atomic.write_json(os.path.join(folder, "layer.json"), record)
            os.unlink(pending)

    def create(
        self, chain_id: str, diff_id: str, parent: str | None, tar_path: str, lazy: bool = False
    ) -> dict[str, Any]:
        """Unpack ``tar_path`` as layer ``chain_id`` on top of ``parent`` (idempotent); with
        ``lazy`` only register it, and unpack on first use (:meth:`ensure`)."""
        if self.exists(chain_id):
            return self.get(chain_id)
        folder = self._begin(chain_id)
        diff = os.path.join(folder, "diff")
        os.makedirs(diff, mode=0o755)
        if lazy:
            with open(os.path.join(folder, "pending"), "w") as f:
                f.write(tar_path)
        # until a lazy layer is unpacked, its tar's size stands in for its files'
        root = os.path.dirname(self.root)
        size = os.path.getsize(tar_path) if lazy else unpack(tar_path, diff, root)
        return self._finish(chain_id, diff_id, parent, size)

    def adopt(
        self, chain_id: str, diff_id: str, parent: str | None, staged: str, size: int
    ) -> dict[str, Any]:
        """Make ``staged`` (a folder on the store's filesystem, filled by
        :func:`~dockerlab.engine.images.archive.unpack_layer` and measured by
        :func:`diff_size`) the ``diff/`` of layer ``chain_id``: a pull unpacks each layer while
        it downloads, outside the lock; only this rename and the records are done under it."""
        if self.exists(chain_id):
            return self.get(chain_id)
        folder = self._begin(chain_id)
        os.mkdir(folder)  # as create's makedirs makes it
        os.rename(staged, os.path.join(folder, "diff"))
        return self._finish(chain_id, diff_id, parent, size)

    def _begin(self, chain_id: str) -> str:
        """Flag the layer incomplete and clear its folder (what a crash left); its path."""
        os.makedirs(os.path.join(self.root, INCOMPLETE_DIR), mode=0o700, exist_ok=True)
        os.makedirs(os.path.join(self.root, LINK_DIR), mode=0o700, exist_ok=True)
        flag = self._flag(chain_id)
        with open(flag, "w"):
            pass
        atomic.fsync_dir(os.path.dirname(flag))
        folder = self.dir(chain_id)
        if os.path.lexists(folder):
            _rmtree(folder)
        return folder

    def _finish(self, chain_id: str, diff_id: str, parent: str | None, size: int) -> dict[str, Any]:
        """Write the layer's link, lower and ``layer.json``, then drop its flag."""
        folder = self.dir(chain_id)
        short = short_link(chain_id)
        with open(os.path.join(folder, "link"), "w") as f:
            f.write(short)
        if parent:
            lower = [self.link_path(parent, relative=True)]
            parent_lower = os.path.join(self.dir(parent), "lower")
            if os.path.exists(parent_lower):
                with open(parent_lower) as f:
                    lower.append(f.read().strip())
            with open(os.path.join(folder, "lower"), "w") as f:
                f.write(":".join(lower))
        link = self.link_path(chain_id)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(f"../{_hex(chain_id)}/diff", link)
        record = {"ChainID": chain_id, "DiffID": diff_id, "Parent": parent or "", "Size": size}
        atomic.write_json(os.path.join(folder, "layer.json"), record)
        os.unlink(self._flag(chain_id))
        return record

    def remove(self, chain_id: str) -> None:
        link = self.link_path(chain_id)
        if os.path.islink(link):
            os.unlink(link)
        folder = self.dir(chain_id)
        if os.path.lexists(folder):
            _rmtree(folder)
        try:
            os.unlink(self._flag(chain_id))
        except FileNotFoundError:
            pass

    def incomplete(self) -> list[str]:
        """ChainIDs flagged incomplete (being created now, or left by a crash)."""
        try:
            return ["sha256:" + n for n in os.listdir(os.path.join(self.root, INCOMPLETE_DIR))]
        except FileNotFoundError:
            return []

    def cleanup_incomplete(self, in_use: set[str]) -> list[str]:
        """Remove flagged layers (caller holds the lock, so none is being created).

        A flagged layer some image already references was complete (the crash hit just
        before its flag was dropped): only the flag goes. Returns the removed ChainIDs.
        """
        removed = []
        for chain_id in self.incomplete():
            if chain_id in in_use and os.path.exists(
                os.path.join(self.dir(chain_id), "layer.json")
            ):
                os.unlink(self._flag(chain_id))
                continue
            self.remove(chain_id)
            removed.append(chain_id)
        return removed


def _rmtree(folder: str) -> None:
    from dockerlab.engine import userns

    if userns.needed():  # files of the subordinate range: removed from inside, too
        from dockerlab.engine import rootless

        rootless.rmtree(folder)
        return
    import shutil

    shutil.rmtree(folder)


def unpack(src: str | IO[bytes], dest: str, root: str, shown: str | None = None) -> int:
    """Unpack the layer tar ``src`` (a path or a stream) into the folder ``dest`` of the
    state root ``root``; returns :func:`diff_size` of it. Rootless, both are done inside the
    user's namespace (engine/userns.py), so the tar's owners are kept as container IDs."""
    from dockerlab.engine import userns

    if userns.needed():
        if isinstance(src, str):
            size: int = userns.call("unpack", root, [src, dest, shown])
        else:
            size = userns.call("unpack", root, ["", dest, shown], data_in=src)
        return size
    from dockerlab.engine.images.archive import unpack_layer

    if shown is None:  # (the call as it was: tests stand in for the extractor)
        unpack_layer(src, dest)
    else:
        unpack_layer(src, dest, shown=shown)
    return diff_size(dest)


def unpack_inside(
    root: str, src: str, dest: str, shown: str | None, data: IO[bytes] | None = None
) -> int:
    """(In the helper) :func:`unpack`: the tar and the folder must be in the state root."""
    from dockerlab.engine.images.archive import unpack_layer
    from dockerlab.engine.userns import below

    dest = below(root, dest)
    if data is None:
        unpack_layer(below(root, src), dest, shown)
    else:
        unpack_layer(data, dest, shown)
    return diff_size(dest)


def size_inside(root: str, folder: str) -> int:
    """(In the helper) :func:`diff_size` of a folder of the state root."""
    from dockerlab.engine.userns import below

    return diff_size(below(root, folder))


def diff_size(folder: str) -> int:
    """Docker's DiffSize (pkg/directory.Size): the lstat size of everything but folders, a
    symlink's being its target's length (``ln -s /srv/www /www`` is 8 bytes), hardlinks
    counted once."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for dirpath, dirs, files in os.walk(folder):
        # os.walk lists a symlink to a folder among the folders: it is a link all the same
        for name in [*files, *(d for d in dirs if os.path.islink(os.path.join(dirpath, d)))]:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISDIR(st.st_mode):
                continue
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
            total += st.st_size
    return total
