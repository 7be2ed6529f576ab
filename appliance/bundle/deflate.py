"""A gzip writer for bundles that carry gigabytes of already-compressed payload.

``gzip.GzipFile`` deflates everything on one core, and deflate is slowest (about 40 MB/s) on
what it cannot shrink: the packages, tarballs and images real offline bundles carry. This
writer cuts the stream into blocks, stores a block as-is when samples of it do not compress,
and deflates the others on every core, each block primed with the 32 KiB before it (as pigz
does), so text compresses as well as before. The result is one ordinary gzip member (any
gunzip reads it) and the same input always gives the same bytes.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

BLOCK = 1024 * 1024
WINDOW = 32 * 1024
LEVEL = 6
SAMPLE = 4096
SAMPLES = 4
# A block whose samples shrink by less than this is stored, not deflated.
STORE_ABOVE = 0.95
# gzip header: magic, deflate, no flags, mtime 0 (reproducible), no extra flags, OS unknown.
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def _incompressible(block: bytes) -> bool:
    if len(block) < SAMPLE * SAMPLES:
        return False
    step = (len(block) - SAMPLE) // (SAMPLES - 1)
    sample = b"".join(block[i * step : i * step + SAMPLE] for i in range(SAMPLES))
    return len(zlib.compress(sample, 1)) > STORE_ABOVE * len(sample)


def _deflate(block: bytes, window: bytes) -> bytes:
    """Raw deflate of ``block``, ending byte-aligned and not final, so blocks concatenate."""
    if _incompressible(block):
        packer = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS)
    elif window:
        packer = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 9, zdict=window)
    else:
        packer = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
    return packer.compress(block) + packer.flush(zlib.Z_SYNC_FLUSH)


class ParallelGzipWriter:
    """``write`` bytes, then ``close`` (writes the trailer; does not close ``out``)."""

    def __init__(self, out: BinaryIO, workers: int | None = None) -> None:
        self._out = out
        self._workers = max(1, workers or os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="bundle-deflate")
        self._pending: deque[Future[bytes]] = deque()
        self._buffer = bytearray()
        self._window = b""
        self._crc = 0
        self._size = 0
        self._out.write(_HEADER)

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) >= BLOCK:
            self._submit(bytes(self._buffer[:BLOCK]))
            del self._buffer[:BLOCK]
        return len(data)

    def _submit(self, block: bytes) -> None:
        self._crc = zlib.crc32(block, self._crc)
        self._size += len(block)
        self._pending.append(self._pool.submit(_deflate, block, self._window))
        self._window = block[-WINDOW:]
        # Bounded: a few blocks per core in flight, written in order.
        while len(self._pending) > 2 * self._workers:
            self._out.write(self._pending.popleft().result())

    def close(self) -> None:
        try:
            if self._buffer:
                self._submit(bytes(self._buffer))
                self._buffer.clear()
            while self._pending:
                self._out.write(self._pending.popleft().result())
            # An empty final block ends the deflate stream; then CRC-32 and length mod 2**32.
            self._out.write(zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS).flush())
            self._out.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
        finally:
            self._pool.shutdown()

    def abort(self) -> None:
        for pending in self._pending:
            pending.cancel()
        self._pool.shutdown()
