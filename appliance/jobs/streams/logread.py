"""Bounded reads of a run's ``output.log`` for a page that holds only a window of it: byte
ranges, whole lines around a position, and a search that returns where a match's line starts.

Every read is bounded in bytes (``max_bytes``) and every search in time (``budget``): a search
that runs out of time says where it stopped, and the caller asks again from there.
"""

from __future__ import annotations

import mmap
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from appliance.jobs.streams.logindex import LogIndex, Position

SEARCH_BLOCK = 4 * 1024 * 1024  # bytes lower-cased at once (a copy)
SEARCH_SPAN = 64 * 1024 * 1024  # bytes of the mapping searched between two clock reads
_LINE_READ = 64 * 1024
_CSI = re.compile(rb"\x1b\[[0-9;?<=>]*[A-Za-z]")


def read_range(path: Path, offset: int, length: int) -> bytes:
    """The bytes ``[offset, offset + length)`` that exist (fewer at the end of the file)."""
    with open(path, "rb", buffering=0) as f:
        return os.pread(f.fileno(), length, offset)


def lines_after(path: Path, start: int, count: int, max_bytes: int, final: bool) -> bytes:
    """Up to ``count`` whole lines from ``start`` (a line start), at most ``max_bytes``. An
    unfinished last line is left out unless ``final`` (the run ended: it is complete); a line
    longer than ``max_bytes`` is cut."""
    data = read_range(path, start, max_bytes)
    pos = 0
    for _ in range(count):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        pos = nl + 1
    else:
        return data[:pos]
    if len(data) < max_bytes and final:
        return data  # the end of a finished log: its last line has no newline
    if pos == 0 and len(data) == max_bytes:
        return data  # one line longer than max_bytes
    return data[:pos]


def lines_before(path: Path, end: int, count: int, max_bytes: int) -> int:
    """The start of the ``count``-th line before ``end`` (a line start, or the end of the
    file), reading at most ``max_bytes`` back; 0 at the start of the file."""
    if count <= 0 or end <= 0:
        return end
    lo = max(0, end - max_bytes)
    data = read_range(path, lo, end - lo)
    i = len(data) - (1 if data.endswith(b"\n") else 0)
    for _ in range(count):
        nl = data.rfind(b"\n", 0, i)
        if nl < 0:
            if lo == 0:
                return 0
            first = data.find(b"\n") + 1  # the read limit: the first whole line read
            return lo + first if 0 < first < len(data) else lo
        i = nl
    return lo + i + 1


def line_start(path: Path, offset: int) -> int:
    """The start of the line that contains byte ``offset``."""
    with open(path, "rb", buffering=0) as f:
        hi = offset
        while hi > 0:
            lo = max(0, hi - _LINE_READ)
            nl = os.pread(f.fileno(), hi - lo, lo).rfind(b"\n")
            if nl >= 0:
                return lo + nl + 1
            hi = lo
        return 0


def visible_text(line: bytes) -> str:
    """What the page shows of a line: ANSI codes removed, lower-cased for matching."""
    return _CSI.sub(b"", line).decode("utf-8", "replace").lower()


def _anchor(query: str) -> tuple[bytes, bool]:
    """What to look for in the raw bytes, and whether the bytes must be lower-cased first: the
    longest part of the query without ASCII letters when it has 4 bytes or more (found as it
    is, twice as fast), else the whole query, case-folded."""
    best = max(re.split(r"[A-Za-z]+", query), key=len).encode()
    if len(best) >= 4:
        return best, False
    return query.encode().lower(), True


@dataclass(frozen=True)
class Found:
    offset: int | None  # start of the matching line, or None
    next: int  # where to continue when ``more``
    more: bool  # the time budget ran out before the search reached the end


def search(
    path: Path,
    query: str,
    offset: int,
    *,
    forward: bool,
    size: int,
    budget: float,
    clock: Callable[[], float] = time.monotonic,
) -> Found:
    """The first line (forward: match starting at or after ``offset``; backward: before it)
    whose visible text contains ``query``, case-insensitive (ASCII letters fold; others match
    as typed). The raw bytes are scanned for the query, then the line is checked without its
    ANSI codes, so a match inside an escape code is not one."""
    needle, fold = _anchor(query)
    wanted = query.lower()
    deadline = clock() + budget
    with open(path, "rb", buffering=0) as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        size = min(size, len(m))

        def hits(lo: int, hi: int, backward: bool) -> Iterator[int]:
            """Where the needle starts in ``[lo, hi)`` (it may end up to len-1 bytes later)."""
            end = min(size, hi + len(needle) - 1)
            if fold:  # a lower-cased copy of this block
                data = m[lo:end].lower()
                find, base, stop = (data.rfind if backward else data.find), lo, end - lo
                start = 0
            else:  # the mapping itself: no copy
                find, base, stop, start = (m.rfind if backward else m.find), 0, end, lo
            while (i := find(needle, start, stop)) >= 0:
                yield base + i
                if backward:
                    stop = i + len(needle) - 1
                else:
                    start = i + 1

        def verified(at: int) -> int | None:
            begin = m.rfind(b"\n", 0, at) + 1
            end = m.find(b"\n", at, min(size, at + _LINE_READ))
            line = m[begin : end if end >= 0 else min(size, begin + _LINE_READ)]
            return begin if wanted in visible_text(line) else None

        block = SEARCH_BLOCK if fold else SEARCH_SPAN
        if forward:
            pos = offset
            while pos < size:
                hi = min(size, pos + block)
                for at in hits(pos, hi, False):
                    if (found := verified(at)) is not None:
                        return Found(found, found, False)
                pos = hi
                if pos < size and clock() >= deadline:
                    return Found(None, pos, True)
            return Found(None, size, False)
        hi = min(offset, size)
        while hi > 0:
            lo = max(0, hi - block)
            for at in hits(lo, hi, True):
                if (found := verified(at)) is not None:
                    return Found(found, found, False)
            hi = lo
            if hi > 0 and clock() >= deadline:
                return Found(None, hi, True)
        return Found(None, 0, False)


# A window of lines ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Where:
    """Exactly one: a line number, the line holding a byte, the lines ending at a byte, or the
    tail (the last complete lines; a finished run's last line even without its newline)."""

    line: int | None = None
    offset: int | None = None
    end: int | None = None
    tail: bool = False


@dataclass(frozen=True)
class Lines:
    data: bytes
    first: Position  # where the first line of ``data`` starts, and its number


def window(
    path: Path,
    index: LogIndex,
    where: Where,
    before: int,
    count: int,
    *,
    size: int,
    final: bool,
    max_bytes: int = 2 * 1024 * 1024,
) -> Lines:
    """Whole lines for a page's window: ``count`` lines from the place (``before`` more lines
    ahead of it), or the ``count`` lines ending at ``end`` / the tail; at most ``max_bytes``."""
    if size == 0:
        return Lines(b"", Position(0, 0, True))
    if where.tail or where.end is not None:
        stop = size if where.end is None else where.end
        if where.tail and not final:  # an unfinished last line comes with the stream
            stop = line_start(path, stop)
        start = lines_before(path, stop, count, max_bytes)
        data = read_range(path, start, stop - start) if stop > start else b""
    else:
        if where.offset is not None:
            start = line_start(path, where.offset)
        else:
            start = index.start_of(where.line or 0, size).offset
        start = lines_before(path, start, before, max_bytes // 2)
        data = lines_after(path, start, count + before, max_bytes, final)
    return Lines(data, index.line_of(start))
