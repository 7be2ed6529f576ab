"""The archive file as a stream of decompressed bytes, hashed and counted on the way in.

One pass at the speed of hashing: a reader thread reads the raw file in large blocks and feeds
the archive's sha256 (hashlib and zlib drop the GIL on large buffers, so on two cores hashing
the archive costs the importer next to nothing), while ``GunzipStream.read`` inflates with zlib
directly (gzip wrapper, CRC and length checked by zlib) instead of ``gzip.GzipFile``'s small
reads. Memory stays bounded: at most ``QUEUE_BLOCKS`` raw blocks wait, and no inflate call
returns more than it was asked for, so a bomb never fills memory.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib
from typing import BinaryIO

from appliance.errors import BundleError

RAW_BLOCK = 4 * 1024 * 1024
QUEUE_BLOCKS = 4
_GZIP = 16 + zlib.MAX_WBITS  # zlib parses the gzip header and checks its CRC and length
_VENDOR_HINT = "Ask the vendor for the bundle as built by 'appliance bundle build'."


class _RawBlocks:
    """Raw blocks of the file, read ahead and hashed by a thread; ``b""`` at the end."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(QUEUE_BLOCKS)
        self._stop = threading.Event()
        self._done = False
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._thread = threading.Thread(target=self._run, name="bundle-read", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                block = self._f.read(RAW_BLOCK)
                self.sha256.update(block)
                self.size += len(block)
                self._put(block)
                if not block:
                    return
        except BaseException as e:  # handed to the reading side, which raises it
            self._put(e)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def next(self) -> bytes:
        if self._done:
            return b""
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._done = True
            raise BundleError(f"cannot read archive: {item}", "Check the file and try again.")
        self._done = not item
        return item

    def drain(self) -> None:
        """Read (and hash) the rest of the file."""
        while self.next():
            pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class GunzipStream:
    """``read(n)``: up to ``n`` decompressed bytes of a (possibly multi-member) gzip file.

    Trailing zero bytes are accepted as ``gzip`` accepts them; anything else after the last
    member is refused as trailing garbage. ``sha256`` and ``size`` are the raw file's, complete
    once ``finish()`` returned.
    """

    def __init__(self, f: BinaryIO) -> None:
        self._raw = _RawBlocks(f)
        self._inflate = zlib.decompressobj(_GZIP)
        self._pending = b""  # raw bytes not yet given to zlib
        self._member_started = False  # the current member produced output or took input
        self._ended = False

    def read(self, size: int = -1) -> bytes:
        want = RAW_BLOCK if size is None or size < 0 else size
        while not self._ended:
            if self._inflate.eof:
                self._next_member()
                continue
            data = self._inflate.unconsumed_tail or self._pending
            self._pending = b""
            if not data:
                data = self._raw.next()
                if not data:
                    if self._member_started:
                        raise BundleError(
                            "archive is truncated (the compressed data ends early)",
                            "Copy the bundle again; the file is incomplete.",
                        )
                    self._ended = True
                    break
            try:
                out = self._inflate.decompress(data, want)
            except zlib.error as e:
                raise self._error(e) from None
            self._member_started = True
            if out:
                return out
        return b""

    def _next_member(self) -> None:
        rest = self._inflate.unused_data.lstrip(b"\0")
        while not rest:
            block = self._raw.next()
            if not block:
                self._ended = True
                return
            rest = block.lstrip(b"\0")
        self._inflate = zlib.decompressobj(_GZIP)
        self._pending = rest
        self._member_started = False

    def _error(self, e: zlib.error) -> BundleError:
        if "header" in str(e) or "compression method" in str(e):
            return BundleError(
                f"archive is not gzip-compressed or has trailing garbage ({e})", _VENDOR_HINT
            )
        return BundleError(
            f"archive is corrupt (compressed data is damaged: {e})",
            "Copy the bundle again; the file is damaged.",
        )

    def finish(self) -> tuple[str, int]:
        """Inflate to the end (gzip's CRC and length are checked only there), read the file to
        its end; returns the archive's sha256 and size."""
        while self.read(RAW_BLOCK):
            pass
        self._raw.drain()
        return self._raw.sha256.hexdigest(), self._raw.size

    def close(self) -> None:
        self._raw.close()
