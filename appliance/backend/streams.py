"""What long-lived responses need from the web layer: a cap on how many are open at once, the
client's socket (to notice a departed client while idle), and a body that frees its slot.

The cap (``settings.max_streams``) is below the server's worker count
(``settings.server_threads``), so open streams can never take every worker: ordinary API calls
always find a free thread.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from appliance.errors import ServiceUnavailable


@dataclass(frozen=True)
class StreamInfo:
    id: int
    kind: str  # "log" or "events"
    run_id: int
    fd: int | None  # the client's socket, when the server exposes it


class Slot:
    """One open stream's place; ``release`` may be called any number of times."""

    def __init__(self, owner: StreamSlots, info: StreamInfo) -> None:
        self._owner = owner
        self.info = info
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._owner._release(self.info.id)


class StreamSlots:
    """Counts open streams; past ``limit`` new ones are refused with a 503 and a hint."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._open: dict[int, StreamInfo] = {}
        self._ids = itertools.count(1)

    @property
    def active(self) -> int:
        return len(self._open)

    def snapshot(self) -> list[StreamInfo]:
        with self._lock:
            return list(self._open.values())

    def acquire(self, kind: str, run_id: int, fd: int | None) -> Slot:
        with self._lock:
            if len(self._open) >= self.limit:
                raise ServiceUnavailable(
                    f"{self.limit} log/event streams are already open",
                    "Close another run view (or its `appliance log --follow`), then retry; "
                    "raise the max_streams setting if many viewers are normal here.",
                    code="stream.busy",
                    params={"limit": self.limit},
                )
            info = StreamInfo(next(self._ids), kind, run_id, fd)
            self._open[info.id] = info
        return Slot(self, info)

    def _release(self, stream_id: int) -> None:
        with self._lock:
            self._open.pop(stream_id, None)


class StreamBody:
    """A WSGI body that holds a slot: the server calls ``close()`` when the response ends or the
    client is gone (a failed write), and the generator's own end releases it too."""

    def __init__(self, chunks: Iterator[bytes], slot: Slot) -> None:
        self._chunks = chunks
        self._slot = slot

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        finally:
            self.close()

    def close(self) -> None:
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        finally:
            self._slot.release()


def client_fd(environ: dict[str, Any]) -> int | None:
    """The client's socket descriptor under cheroot, or None elsewhere.

    WSGI has no disconnect signal. cheroot's ``wsgi.input`` (KnownLengthRFile / ChunkedRFile)
    wraps the connection's buffered reader in ``.rfile``, whose ``fileno()`` is the socket's.
    Only read here, never read from or closed: the server owns it.
    """
    reader = getattr(environ.get("wsgi.input"), "rfile", None)
    fileno = getattr(reader, "fileno", None)
    if fileno is None:
        return None
    try:
        return int(fileno())
    except (OSError, ValueError, TypeError):
        return None
