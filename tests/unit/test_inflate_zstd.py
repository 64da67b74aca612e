"""zstd in inflate.py: bounded reads, every frame (and skippable ones), a stream cut short or
corrupt refused, a bomb stopped by the Budget, the module imported only when zstd is met."""

from __future__ import annotations

import io
import subprocess
import sys
import tracemalloc

import pytest
import zstandard

from dockerlab.engine.images import inflate
from dockerlab.engine.images.inflate import (
    Budget,
    CorruptData,
    ExpansionError,
    ZstdFrames,
    ZstdMissing,
    compression,
    corrupt,
    decompressed,
)

DATA = b"".join(b"line %d of a file in a layer\n" % i for i in range(40_000))


def _streamed(data: bytes, level: int = 3) -> bytes:
    """As a streaming writer (containerd's, Docker's) makes it: no content size, many blocks."""
    buf = io.BytesIO()
    with zstandard.ZstdCompressor(level=level).stream_writer(buf, closefd=False) as w:
        for at in range(0, len(data), 50_000):
            w.write(data[at : at + 50_000])
    return buf.getvalue()


def _read(blob: bytes) -> tuple[bytes, str]:
    stream, kind = decompressed(io.BufferedReader(io.BytesIO(blob)))
    return stream.read(), kind


def test_zstd_is_told_by_its_magic():
    assert compression(b"\x28\xb5\x2f\xfd\x00\x00") == "zstd"
    assert compression(b"\x1f\x8b\x08") == "gzip"


@pytest.mark.parametrize(
    "blob",
    [
        zstandard.ZstdCompressor().compress(DATA),
        zstandard.ZstdCompressor(write_checksum=True, write_content_size=False).compress(DATA),
        _streamed(DATA),
        _streamed(DATA, level=19),
    ],
    ids=["one-shot", "checksum", "streamed", "level19"],
)
def test_a_zstd_stream_reads_back(blob):
    assert _read(blob) == (DATA, "zstd")


def test_several_frames_and_skippable_frames_are_read_through():
    half = len(DATA) // 2
    skippable = b"\x5a\x2a\x4d\x18" + (5).to_bytes(4, "little") + b"12345"
    blob = _streamed(DATA[:half]) + skippable + zstandard.ZstdCompressor().compress(DATA[half:])
    assert _read(blob) == (DATA, "zstd")


def test_a_stream_cut_anywhere_short_is_refused():
    blob = _streamed(DATA[:200_000]) + zstandard.ZstdCompressor().compress(b"end")
    for cut in range(4, len(blob), max(1, len(blob) // 300)):
        with pytest.raises(CorruptData) as exc:
            _read(blob[:cut])
        assert "truncated" in str(exc.value) or "zstd" in str(exc.value), cut


def test_corrupt_data_is_refused_and_reads_as_corrupt():
    blob = bytearray(_streamed(DATA))
    blob[4] |= 0x08  # a reserved bit of the frame header
    with pytest.raises(CorruptData) as exc:
        _read(bytes(blob))
    assert corrupt(exc.value)
    good = _streamed(DATA)
    with pytest.raises(CorruptData, match="zstd"):
        _read(good + b"not a frame")
    assert not corrupt(OSError(28, "No space left on device"))


def test_the_frame_walker_tells_a_complete_stream_fed_a_byte_at_a_time():
    blob = zstandard.ZstdCompressor(write_checksum=True).compress(DATA[:5000])
    frames = ZstdFrames()
    for i in range(len(blob)):
        frames.feed(blob[i : i + 1])
        if i < len(blob) - 1:
            with pytest.raises(CorruptData):
                frames.close()
    frames.close()  # complete: nothing raised


def test_a_zstd_bomb_is_stopped_by_the_budget_a_piece_at_a_time(tmp_path):
    """300 MiB of zeros in some kB: refused past FLOOR, never more than a few MiB at once."""
    zeros = bytes(1 << 20)
    buf = io.BytesIO()
    with zstandard.ZstdCompressor(level=3).stream_writer(buf, closefd=False) as w:
        for _ in range(300):
            w.write(zeros)
    bomb = buf.getvalue()
    assert len(bomb) < 100_000
    budget = Budget(str(tmp_path))
    stream = budget.inflating(io.BytesIO(bomb))
    tracemalloc.start()
    try:
        with pytest.raises(ExpansionError, match="refusing a decompression bomb"):
            while stream.read(1 << 20):
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert budget.written <= inflate.FLOOR + (2 << 20)
    assert peak < 16 << 20, peak


def test_without_the_module_zstd_is_refused_clearly(monkeypatch):
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import zstandard -> ImportError
    with pytest.raises(ZstdMissing, match="pip install zstandard"):
        _read(zstandard.ZstdCompressor().compress(b"x"))


def test_inflate_and_a_gzip_read_do_not_import_zstandard():
    code = (
        "import gzip, io, sys\n"
        "from dockerlab.engine.images import inflate, saveload\n"
        "from dockerlab.engine.registry import download\n"
        "s, _ = inflate.decompressed(io.BufferedReader(io.BytesIO(gzip.compress(b'x'))))\n"
        "assert s.read() == b'x'\n"
        "print('zstandard' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
