"""Tails of a run: the bytes of its ``output.log`` and its stored events, as byte iterators that
a web route hands to the server unchanged.

Both replay what exists as fast as the socket takes it (no sleeping while data is available),
then wait. Waiting is one ``poll()`` on up to two descriptors:

- an inotify descriptor watching the log (wakes on every append; without inotify a short
  ``stat`` poll replaces it);
- the client's socket, registered for ``POLLRDHUP``: the kernel flags it when the client closes
  its end, so an idle stream notices a departed client at once without sending a byte (a
  ``text/plain`` log cannot carry heartbeats). Without ``POLLRDHUP`` the socket is polled for
  readability and peeked (``recv(MSG_PEEK)`` of 0 bytes means closed).

The poll also times out every ``state_interval`` to read the run's state (one indexed SELECT).
A stream ends when the run is terminal and everything written before that was sent: the state is
read *before* the final drain, and the run engine writes its last bytes before it records the
terminal state, so nothing can be missed. The end is never decided by a marker in the log.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from appliance.jobs.streams.inotify import IN_CLOSE_WRITE, IN_MODIFY, Inotify
from appliance.states import TERMINAL
from appliance.store.events import list_events

logger = logging.getLogger(__name__)

BLOCK_SIZE = 64 * 1024
STATE_INTERVAL = 0.5  # seconds between state reads while a followed log is idle
FILE_POLL_INTERVAL = 0.1  # seconds between stat()s where inotify is unavailable
EVENT_INTERVAL = 0.15  # seconds between event queries while a run is active
EVENT_BATCH = 500

StateFn = Callable[[], str | None]


def is_terminal(state: str | None) -> bool:
    """A vanished run (None) counts as ended: nothing more will ever be written for it."""
    return state is None or state in TERMINAL


# Waiting -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wake:
    hangup: bool = False  # the client went away
    mask: int = 0  # inotify events seen (0 when none, or when polling)


_POLLRDHUP = getattr(select, "POLLRDHUP", 0)  # Linux


def _peer_closed(fd: int) -> bool | None:
    """Peek at a readable socket: True if the peer closed, False if it sent data, None if
    nothing is there after all."""
    sock = socket.socket(fileno=fd)
    try:
        data = sock.recv(1, socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0))
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return True  # reset or otherwise broken
    finally:
        sock.detach()  # the server owns the descriptor
    return data == b""


class Waiter:
    """Sleeps until the log may have grown, the client hung up, or a timeout passed."""

    def __init__(self, hangup_fd: int | None) -> None:
        self._hangup_fd = hangup_fd
        self._inotify: Inotify | None = None
        self._poll = select.poll()
        if hangup_fd is not None:
            self._poll.register(hangup_fd, _POLLRDHUP or select.POLLIN)

    @property
    def watching_file(self) -> bool:
        return self._inotify is not None

    def watch(self, path: Path) -> None:
        """Watch ``path`` for appends (before reading it, so no append can slip between)."""
        if self._inotify is not None:
            return
        inotify = Inotify.open()
        if inotify is None:
            return
        try:
            inotify.add_watch(path, IN_MODIFY | IN_CLOSE_WRITE)
        except OSError as e:
            logger.warning("cannot watch %s (%s); polling it instead", path, e)
            inotify.close()
            return
        self._inotify = inotify
        self._poll.register(inotify.fileno(), select.POLLIN)

    def wait(self, timeout: float) -> Wake:
        mask = 0
        for fd, flags in self._poll.poll(max(0, int(timeout * 1000))):
            if fd == self._hangup_fd:
                if flags & (_POLLRDHUP | select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    return Wake(hangup=True)
                closed = _peer_closed(fd)
                if closed:
                    return Wake(hangup=True)
                if closed is False:  # a pipelined request: stop watching, rely on writes
                    self._poll.unregister(fd)
                    self._hangup_fd = None
            elif self._inotify is not None:
                mask |= self._inotify.drain()
        return Wake(mask=mask)

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None


# The log -------------------------------------------------------------------------------------
def _next_block(f: BinaryIO, offset: int, block_size: int, final: bool) -> bytes:
    """The next block from ``offset``, ending at its last newline. While the run is active an
    unfinished last line waits for its newline (unless it alone fills a block); once the run is
    terminal the final bytes go out as they are."""
    f.seek(offset)
    data = f.read(block_size)
    if not data or (final and len(data) < block_size):
        return data
    cut = data.rfind(b"\n") + 1
    if cut == 0:
        return data if len(data) == block_size else b""
    return data if cut == len(data) else data[:cut]


def tail_log(
    path: Path,
    offset: int,
    *,
    follow: bool,
    state: StateFn,
    hangup_fd: int | None = None,
    block_size: int = BLOCK_SIZE,
    state_interval: float = STATE_INTERVAL,
    poll_interval: float = FILE_POLL_INTERVAL,
) -> Iterator[bytes]:
    """Yield the bytes of ``path`` from ``offset``; with ``follow`` keep going until the run is
    terminal and every byte was sent. Memory stays at one block whatever the file size."""
    waiter = Waiter(hangup_fd)
    f: BinaryIO | None = None
    try:
        terminal = not follow or is_terminal(state())
        next_state = time.monotonic() + state_interval
        while True:
            if f is None:
                f = _open(path)  # a log not created yet is stat()ed every poll_interval
                if f is not None and follow:
                    waiter.watch(path)  # before the first read: no append slips between
            if f is not None:
                while block := _next_block(f, offset, block_size, terminal):
                    offset += len(block)
                    yield block
            if terminal:
                return
            timeout = next_state - time.monotonic()
            if f is None or not waiter.watching_file:
                timeout = min(timeout, poll_interval)
            wake = waiter.wait(timeout)
            if wake.hangup:
                logger.debug("log stream of %s: client went away at byte %d", path, offset)
                return
            if wake.mask & IN_CLOSE_WRITE or time.monotonic() >= next_state:
                terminal = is_terminal(state())
                next_state = time.monotonic() + state_interval
    finally:
        waiter.close()
        if f is not None:
            f.close()


def _open(path: Path) -> BinaryIO | None:
    try:
        return open(path, "rb", buffering=0)  # closed by the caller
    except FileNotFoundError:
        return None


def log_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


# The events ----------------------------------------------------------------------------------
def _ndjson(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def tail_events(
    run_id: int,
    after: int,
    *,
    follow: bool,
    state: StateFn,
    read: Callable[[int, int, int], list[dict]] = list_events,
    hangup_fd: int | None = None,
    interval: float = EVENT_INTERVAL,
    batch: int = EVENT_BATCH,
) -> Iterator[bytes]:
    """Yield stored events after ``after`` as NDJSON lines, then (once the run is terminal, or
    at once without ``follow``) ``{"eof": true, "state": ..., "count": N}``."""
    waiter = Waiter(hangup_fd)
    count = 0
    greeted = False
    try:
        while True:
            current = state()  # before the reads: every event of a terminal run is stored
            while True:
                rows = read(run_id, after, batch)
                if rows:
                    after = rows[-1]["seq"]
                    count += len(rows)
                    yield b"".join(_ndjson(row) for row in rows)
                if len(rows) < batch:
                    break
            if not follow or is_terminal(current):
                yield _ndjson({"eof": True, "state": current, "count": count})
                return
            if not greeted and count == 0:
                # The server sends headers with the first body bytes; a blank line (which NDJSON
                # readers skip) lets the client see the response start before any event exists.
                yield b"\n"
            greeted = True
            if waiter.wait(interval).hangup:
                return
    finally:
        waiter.close()
