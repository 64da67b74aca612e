"""Bounds on what an archive may expand to: ``load``, ``import`` and build contexts.

A few kilobytes of input can claim gigabytes: deflate reaches ~1000:1 on a run of one byte,
a GNU long-name or PAX header is read into memory whole whatever size it claims, and a
GNU sparse entry stands for any number of zeros. Every reader of an untrusted archive goes
through these checks:

* :class:`BoundedTarInfo` refuses a special header (long name, long link, PAX) larger than
  1 MiB, as Go's ``archive/tar`` (Docker's reader) does with ``header field too long``.
* :class:`Budget` counts the bytes read from the input and the bytes written out, and stops
  a read whose output passes ``max(FLOOR, RATIO × input)`` or the free space of the disk it
  writes to (less a reserve), with an error in Docker's words.
* :func:`decompressed` opens gzip (several members too, as Go's reader does), bzip2, xz or
  zstd as a stream that never inflates more than it is asked for at once. zstd needs the
  ``zstandard`` module, imported only when a zstd stream is met (:class:`ZstdReader`).

The limits: real layers compress 2–10× (text-heavy ones up to ~15×), whole images 2–4×, and
deflate cannot pass ~1032×. RATIO = 100 is ten times what real content reaches and a tenth
of a bomb's; FLOOR lets any input expand to 256 MiB first, so small archives of very
compressible files (a config, an empty database) never trip it. An image that holds a huge
run of zeros (the classic sparse ``/var/log/lastlog`` of a big UID) can pass 100× and is
refused with a message that says why.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from typing import IO, Any, Protocol

from dockerlab.errors import InvalidParameter

RATIO = 100
FLOOR = 256 << 20
RESERVE = 256 << 20  # left free on the disk an archive is expanded onto
MAX_SPECIAL_HEADER = 1 << 20  # Go archive/tar's maxSpecialFileSize
_CHUNK = 1 << 20


class ExpansionError(InvalidParameter):
    """An archive expands past its bounds; nothing of it was kept."""


class BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses oversized special headers before reading them into memory."""

    _SPECIAL = (
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
    )

    def _proc_member(self, tf: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in self._SPECIAL and self.size > MAX_SPECIAL_HEADER:
            raise FieldTooLong("archive/tar: header field too long")
        # _proc_member is private to tarfile: typeshed does not declare it
        member: tarfile.TarInfo = super()._proc_member(tf)  # type: ignore[misc]
        return member


class FieldTooLong(tarfile.TarError):
    """Not a HeaderError: tarfile must not take it for the end of the archive."""


class Budget:
    """Counts bytes in and out of one expansion; raises :class:`ExpansionError` (or
    ``error``) as soon as the output passes its bounds."""

    def __init__(
        self,
        folder: str | int,
        prefix: str = "Error processing tar file",
        error: type[InvalidParameter] = ExpansionError,
    ) -> None:
        st = os.statvfs(folder)
        if isinstance(folder, int):  # a folder descriptor: its path for the message
            folder = os.readlink(f"/proc/self/fd/{folder}")
        self.folder, self.prefix, self.error = folder, prefix, error
        self.space = max(st.f_bavail * st.f_frsize - RESERVE, 0)
        self.read = 0  # raw input bytes
        self.written = 0  # bytes produced

    def reader(self, src: IO[bytes]) -> io.BufferedReader:
        """``src`` as a buffered reader whose bytes count as input (it can ``peek``)."""
        return io.BufferedReader(_Counted(src, self.took), _CHUNK)

    def inflating(self, src: IO[bytes]) -> IO[bytes]:
        """``src`` decompressed (if it is), every byte out counted as written: for readers
        such as tarfile's extractall that write what they read."""
        stream, _ = decompressed(self.reader(src))
        return io.BufferedReader(_Counted(stream, self.wrote), _CHUNK)

    def took(self, n: int) -> None:
        self.read += n

    def wrote(self, n: int, name: str = "") -> None:
        self.written += n
        if self.written > self.space:
            where = f"write {name}: " if name else ""
            raise self.error(
                f"{self.prefix}: {where}no space left on device (the archive expands to more "
                f"than the {_mb(self.space)} free under {self.folder})"
            )
        limit = max(FLOOR, RATIO * self.read)
        if self.written > limit:
            raise self.error(
                f"{self.prefix}: {_mb(self.read)} of input expands to more than {_mb(limit)}, "
                f"over {RATIO} times its size: refusing a decompression bomb"
            )


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


class _Counted(io.RawIOBase):
    """``src`` read through, each read's size told to ``count``."""

    def __init__(self, src: IO[bytes], count: Callable[[int], None]) -> None:
        self.src, self.count = src, count

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self.src.read(len(buf))
        n = len(data)
        buf[:n] = data
        self.count(n)
        return n


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"), (ZSTD_MAGIC, "zstd"))


def compression(head: bytes) -> str:
    """ "gzip", "bz2", "xz", "zstd" or "" for the first bytes of a stream."""
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), "")


def decompressed(src: io.BufferedReader) -> tuple[IO[bytes], str]:
    """(a reader of ``src`` decompressed, the compression found); reads inflate in bounded
    steps, never all a small input can claim at once."""
    kind = compression(src.peek(6)[:6])
    if kind == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=src, mode="rb"), kind  # type: ignore[return-value]
    if kind == "bz2":
        import bz2

        return bz2.BZ2File(src), kind
    if kind == "xz":
        import lzma

        return lzma.LZMAFile(src), kind
    if kind == "zstd":
        return io.BufferedReader(ZstdReader(src), _CHUNK), kind
    return src, kind


def corrupt(exc: BaseException) -> bool:
    """Whether ``exc`` says the compressed data is bad (not an I/O failure of ours)."""
    import lzma
    import zlib

    if isinstance(exc, (EOFError, zlib.error, lzma.LZMAError, CorruptData)):
        return True
    return isinstance(exc, OSError) and exc.errno is None


class GunzipStream:
    """Incremental gunzip of data fed in pieces (several gzip members too); each piece of
    output is at most ``_CHUNK`` bytes, so a bomb never sits in memory whole."""

    def __init__(self) -> None:
        import zlib

        self._zlib = zlib
        self._d = zlib.decompressobj(31)
        self._fed = False

    def feed(self, data: bytes) -> Any:
        while True:
            out = self._d.decompress(data, _CHUNK)
            self._fed = self._fed or bool(data)
            if out:
                yield out
            if self._d.eof:  # the next member, if any (garbage fails its header check)
                data = self._d.unused_data
                self._d = self._zlib.decompressobj(31)
                self._fed = False
                if not data:
                    return
                continue
            data = self._d.unconsumed_tail
            if not data and len(out) < _CHUNK:
                return

    def close(self) -> None:
        if self._fed and not self._d.eof:
            raise EOFError("unexpected EOF (the gzip data is truncated)")


class CorruptData(OSError):
    """Bad compressed data (an OSError without errno, as gzip's BadGzipFile)."""


class ZstdMissing(InvalidParameter):
    """A zstd stream met without the ``zstandard`` module."""


def zstandard() -> Any:
    """The ``zstandard`` module, imported when a zstd stream is first met (it is not in the
    standard library, and no verb's start should pay for it)."""
    try:
        import zstandard as module
    except ImportError:
        raise ZstdMissing(
            "reading zstd-compressed data needs the zstandard module: pip install zstandard"
        ) from None
    return module


class Source(Protocol):
    """Anything with ``read(n)``: a file, or a download's chunks."""

    def read(self, n: int = -1, /) -> bytes: ...


class ZstdReader(io.RawIOBase):
    """``src`` (zstd frames) decompressed; each read inflates at most what it is asked for.

    zstandard's ``stream_reader`` bounds each read's output but ends quietly where its input
    ends, mid-frame or not, so the frames are walked as they pass (:class:`ZstdFrames`) and a
    stream cut short is refused as gzip's is."""

    def __init__(self, src: Source) -> None:
        zstd = zstandard()
        self.frames = ZstdFrames()
        self._error = zstd.ZstdError
        self._r = zstd.ZstdDecompressor().stream_reader(
            _Walked(src, self.frames.feed), read_size=_CHUNK, read_across_frames=True
        )

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        try:
            n: int = self._r.readinto(buf)
        except self._error as exc:
            raise CorruptData(str(exc)) from None
        if not n:
            self.frames.close()
        return n


class _Walked:
    """``src`` read through, each piece of bytes shown to ``see``."""

    def __init__(self, src: Source, see: Callable[[bytes], None]) -> None:
        self.src, self.see = src, see

    def read(self, n: int = -1) -> bytes:
        data = self.src.read(n)
        self.see(data)
        return data


class ZstdFrames:
    """The frame structure of a zstd stream, walked as its bytes pass: headers only, block
    contents are skipped by the sizes their headers give (RFC 8878 §3.1)."""

    def __init__(self) -> None:
        self.state, self.need, self.head, self.skip = "magic", 4, b"", 0
        self.checksum = False

    def feed(self, data: bytes) -> None:
        i, end = 0, len(data)
        while i < end and self.state != "bad":
            if self.skip:
                step = min(self.skip, end - i)
                self.skip -= step
                i += step
                continue
            take = min(self.need - len(self.head), end - i)
            self.head += data[i : i + take]
            i += take
            if len(self.head) == self.need:
                head, self.head = self.head, b""
                self._header(head)

    def _header(self, head: bytes) -> None:
        if self.state == "magic":
            if head == ZSTD_MAGIC:
                self.state, self.need = "frame", 1
            elif head[0] & 0xF0 == 0x50 and head[1:] == b"\x2a\x4d\x18":  # skippable frame
                self.state, self.need = "skippable", 4
            else:
                self.state = "bad"
        elif self.state == "skippable":
            self.skip = int.from_bytes(head, "little")
            self.state, self.need = "magic", 4
        elif self.state == "frame":  # the frame header descriptor: what follows it
            d = head[0]
            single = d >> 5 & 1
            self.checksum = bool(d >> 2 & 1)
            self.skip = (1 - single) + (0, 1, 2, 4)[d & 3] + (single, 2, 4, 8)[d >> 6]
            self.state, self.need = "block", 3
        else:  # a block header: last flag, type, size
            h = int.from_bytes(head, "little")
            kind = h >> 1 & 3
            if kind == 3:
                self.state = "bad"
                return
            self.skip = 1 if kind == 1 else h >> 3  # an RLE block holds one byte
            if h & 1:
                self.skip += 4 if self.checksum else 0
                self.state, self.need = "magic", 4

    def close(self) -> None:
        if self.state == "bad":
            raise CorruptData("zstd: invalid frame")
        if self.state != "magic" or self.head or self.skip:
            raise CorruptData("unexpected EOF (the zstd data is truncated)")
