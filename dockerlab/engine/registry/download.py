"""A pull's layer downloads: PARALLEL at a time, each unpacked while it streams in.

Every byte of a layer blob is handled once, as it arrives (:class:`_Layer`): hashed for the
blob's digest, inflated (within :mod:`~dockerlab.engine.images.inflate`'s bounds), hashed
for its DiffID, written to the tar the store keeps as the layer's blob, and handed to the
engine's one extractor (:func:`~dockerlab.engine.images.archive.unpack_layer`, with all its
checks) unpacking into a folder of the pull's work folder (``$ROOT/tmp/pull-<owner>-…/
layer<N>/diff``) that no image store reader sees. The commit then moves the staged folders in
under the store's lock (:meth:`LayerStore.adopt
<dockerlab.engine.images.layers.LayerStore.adopt>`). A refused, failed or killed pull leaves
only its work folder, removed by the pull itself or, after a kill, by the next sweep
(:func:`dockerlab.engine.work.sweep`, which the next pull runs first).
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import threading
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

from dockerlab.engine.images.inflate import (
    ZSTD_MAGIC,
    Budget,
    CorruptData,
    GunzipStream,
    ZstdMissing,
    ZstdReader,
)
from dockerlab.engine.registry.client import (
    Client,
    RegistryError,
    Response,
    drain,
    progress,
    raise_for,
)
from dockerlab.errors import InvalidParameter

PARALLEL = 3  # Docker's max-concurrent-downloads
_CHUNK = 256 << 10
_PIECE = 1 << 20  # the most tar inflated at once


class _Cancelled(Exception):
    pass


class _Layer(io.RawIOBase):
    """A layer blob as it arrives, read as its uncompressed tar: each compressed chunk is
    hashed (the blob's digest) and inflated (within ``budget``), each piece of tar is hashed
    (the DiffID) and written to ``out`` (the store's blob, later linked in) before the
    reader (the extractor) gets it. So the download, both checks, the blob and the unpacked
    files are made in one pass over the bytes, and nothing is read again."""

    def __init__(
        self,
        resp: Response,
        desc: dict[str, Any],
        out: BinaryIO,
        budget: Budget,
        tick: Any,
        cancel: threading.Event,
    ) -> None:
        self.resp, self.desc, self.out, self.budget = resp, desc, out, budget
        self.tick, self.cancel = tick, cancel
        self.size: int = desc["size"]
        self.comp = hashlib.sha256()
        self.diff = hashlib.sha256()
        self.gz: GunzipStream | None = None
        self.kind = ""
        self.got = self.written = 0
        self.broken: BaseException | None = None  # bad compressed data (said after the digest)
        self.failed: BaseException | None = None  # the connection's error
        self.ended = False
        self._pending = memoryview(b"")
        self._pieces: Iterator[bytes] | None = None  # the tar inflated from the last chunk

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if not self._pending:
            self._more()
        n = min(len(buf), len(self._pending))
        buf[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _more(self) -> None:
        """The next piece of tar into ``_pending``, or nothing at the end (or where the
        compressed data breaks). Pieces are taken one at a time (each at most 1 MiB), so a
        chunk that inflates enormously is stopped by the budget, never held in memory."""
        while True:
            if self._pieces is not None:
                try:
                    piece = next(self._pieces)
                except StopIteration:
                    self._pieces = None
                except (zlib.error, EOFError, CorruptData) as exc:
                    self._pieces, self.broken = None, exc  # drain() still checks the digest
                    return
                else:
                    self._take(piece)
                    self._pending = memoryview(piece)
                    return
            if self.ended or self.broken is not None:
                return
            chunk = self._read()
            if not chunk:
                return
            if not self.kind:  # told by the content, as Docker's DecompressStream does
                if chunk.startswith(ZSTD_MAGIC):
                    self.kind = "zstd"
                    self._pieces = self._unzstd(chunk)
                    continue
                self.kind = "gzip" if chunk.startswith(b"\x1f\x8b") else "tar"
                self.gz = GunzipStream() if self.kind == "gzip" else None
            self._pieces = iter(self.gz.feed(chunk) if self.gz is not None else (chunk,))

    def _unzstd(self, first: bytes) -> Iterator[bytes]:
        """The tar inflated from the zstd blob, a piece at a time: the decompressor pulls the
        next compressed chunk (:meth:`_read`) only when it needs it, so the pieces stay
        bounded however much a chunk inflates to."""
        try:
            reader = ZstdReader(_Chunks(first, self._read))
        except ZstdMissing:
            raise RegistryError(
                f"layer {self.desc['digest']} is zstd-compressed: reading it needs the "
                "zstandard module: pip install zstandard"
            ) from None
        while piece := reader.read(_PIECE):
            yield piece

    def _read(self) -> bytes:
        """The next compressed chunk, hashed; b"" at the end (or past the size it said)."""
        if self.cancel.is_set():
            raise _Cancelled()
        try:
            chunk = self.resp.read(min(_CHUNK, self.size + 1 - self.got))
        except BaseException as exc:
            self.failed = exc
            raise
        self.got += len(chunk)
        if not chunk or self.got > self.size:  # more than the manifest said: a lie
            self.ended = True
            if self.got == self.size and self.gz is not None and self.broken is None:
                try:
                    self.gz.close()
                except EOFError as exc:
                    self.broken = exc
            return b""
        self.comp.update(chunk)
        self.budget.took(len(chunk))
        self.tick(self.got, self.size)
        return chunk

    def _take(self, piece: bytes) -> None:
        self.diff.update(piece)
        self.out.write(piece)
        self.written += len(piece)
        self.budget.wrote(len(piece))

    def drain(self) -> None:
        """Read what the extractor left (the tar's end padding, or all after a bad entry):
        the digest, the DiffID and the blob cover every byte."""
        while not self.ended or self._pieces is not None:
            if self.broken is not None:
                self._read()  # the rest can only be hashed: it cannot be inflated
            else:
                self._more()
            self._pending = memoryview(b"")

    def verified(self) -> bool:
        return self.got == self.size and "sha256:" + self.comp.hexdigest() == self.desc["digest"]


class _Chunks:
    """A file-like source of ``first``, then of what ``more`` returns (b"" at the end)."""

    def __init__(self, first: bytes, more: Any) -> None:
        self.first, self.more = first, more

    def read(self, n: int = -1) -> bytes:
        if self.first:
            data, self.first = self.first, b""
            return data
        more: bytes = self.more()
        return more


def _download(
    client: Client,
    desc: dict[str, Any],
    expected: str,
    stage: str,
    tick: Any,
    cancel: threading.Event,
) -> tuple[str, int, int]:
    """Stream one layer blob, unpacking it as it arrives into ``stage``/``diff`` (a folder
    the store does not see) and keeping its tar as ``stage``/``layer.tar``; returns the tar's
    path, its size and the size of the unpacked files. The blob's digest and size, then its
    DiffID (``expected``, from the config), then the extraction's own checks, are what
    refuse it, in that order."""
    from dockerlab.engine.images.inflate import ExpansionError
    from dockerlab.engine.images.layers import unpack

    digest = desc["digest"]
    resp = client.request("GET", f"/v2/{client.path}/blobs/{digest}")
    raise_for(resp, "")
    diff_dir = os.path.join(stage, "diff")
    os.makedirs(diff_dir, mode=0o755)
    tar_path = os.path.join(stage, "layer.tar")
    budget = Budget(stage, prefix="failed to register layer")
    layer: _Layer | None = None
    refused: InvalidParameter | None = None
    unpacked = 0
    try:
        with open(tar_path, "wb") as out:
            layer = _Layer(resp, desc, out, budget, tick, cancel)
            try:
                # the layer's root shown as "/", as Docker (unpacking in a chroot) shows it
                # (stage: <root>/tmp/pull-…/layerN; rootless, unpacked in the user's namespace)
                root = os.path.dirname(os.path.dirname(os.path.dirname(stage)))
                unpacked = unpack(io.BufferedReader(layer, _CHUNK), diff_dir, root, shown="/")
            except ExpansionError:
                raise  # a bomb is not read to its end
            except InvalidParameter as exc:
                if layer.failed is not None:
                    raise layer.failed from None
                refused = exc  # unsafe or not a tar: said once the digests are known
            layer.drain()
            out.flush()
            os.fsync(out.fileno())  # now, not under the store's lock at the commit
    finally:
        ok = layer is not None and layer.ended and layer.got == layer.size
        resp.close(reuse=ok and not cancel.is_set())
    assert layer is not None
    if not layer.verified():
        raise RegistryError(f"filesystem layer verification failed for digest {digest}")
    if layer.broken is not None:
        raise RegistryError(f"failed to register layer: {digest}: {layer.broken}")
    if "sha256:" + layer.diff.hexdigest() != expected:
        raise RegistryError("layers from manifest don't match image configuration")
    if refused is not None:
        raise RegistryError(f"failed to register layer: {digest}: {refused}")
    return tar_path, layer.written, unpacked


def download_all(
    client: Client,
    layers: list[dict[str, Any]],
    diff_ids: list[str],
    todo: list[int],
    folder: str,
    staged: dict[int, tuple[str, int, int]],
) -> Iterator[dict[str, Any]]:
    """Download and unpack ``todo`` layers, PARALLEL at a time, yielding their progress;
    ``staged``: layer index -> (its tar, the tar's size, its unpacked size)."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    cancel = threading.Event()
    pending: queue.Queue[int] = queue.Queue()
    for i in todo:
        pending.put(i)

    def worker() -> None:
        while not cancel.is_set():
            try:
                i = pending.get_nowait()
            except queue.Empty:
                return
            short = layers[i]["digest"].split(":", 1)[1][:12]
            tick = progress(events, "Downloading", short, 512 << 10)

            try:
                stage = os.path.join(folder, f"layer{i}")
                os.mkdir(stage, 0o700)
                staged[i] = _download(client, layers[i], diff_ids[i], stage, tick, cancel)
            except _Cancelled:
                return
            except BaseException as exc:  # handed to the pulling thread
                events.put(("error", exc))
                return
            events.put(("msg", {"status": "Verifying Checksum", "id": short}))
            events.put(("msg", {"status": "Download complete", "id": short}))
            events.put(("done", i))

    threads = [
        threading.Thread(target=worker, daemon=True, name="pull")
        for _ in range(min(PARALLEL, len(todo)))
    ]
    yield from drain(threads, events, len(todo), cancel, "download")
