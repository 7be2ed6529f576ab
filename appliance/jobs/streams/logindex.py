"""A sampled line index of a run's ``output.log``: where line N starts, which line byte B is on,
and where the first error line is, without reading the whole log for each question.

The index is built incrementally, in line-aligned blocks of ``BLOCK`` bytes read from where
the last build stopped, each within a time budget, so no request works for long and a growing
log is indexed as it grows. A sample (line number, byte offset) is kept at every block start,
so any line is at most one block (256 KiB) of reading away from a sample: a 2 GB log needs
about 8,000 samples (128 KB). Until the index reaches a byte, line numbers there are estimated
from the average line length so far and reported as not exact.

Error lines (the page's "first error" pattern) are looked for by a second cursor, only when
asked: each block is checked for the pattern's literal parts first (five ``in`` tests), which
would more than double the cost of indexing if done for every view.
"""

from __future__ import annotations

import os
import re
import threading
import time
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BLOCK = 256 * 1024
ERROR_RE = re.compile(rb"fatal:|FAILED!|ERROR|failed=[1-9]|unreachable=[1-9]")
_ERROR_HINTS = (b"fatal:", b"FAILED!", b"ERROR", b"failed=", b"unreachable=")
DEFAULT_LINE_BYTES = 80  # the estimate before any line was indexed


@dataclass(frozen=True)
class Position:
    offset: int  # byte offset of a line start
    line: int  # its line number, from 0
    exact: bool  # False: estimated (the index has not reached it yet)


class LogIndex:
    """The index of one log file. Thread-safe: requests for the same run share it."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._reset(None)

    def _reset(self, ident: tuple[int, int] | None) -> None:
        self._ident = ident
        self._offsets = array("q")  # sample i: line self._lines[i] starts at self._offsets[i]
        self._lines = array("q")
        self.end = 0  # bytes indexed: always a line start (just after a newline, or 0)
        self.lines = 0  # complete lines before ``end``
        self.errors_end = 0  # bytes scanned for error lines (a line start)
        self.errors = 0  # error lines before ``errors_end``
        self.first_error: int | None = None  # offset of the first error line

    # Building ----------------------------------------------------------------------------------
    def extend(self, budget: float) -> bool:
        """Index more of the file for at most ``budget`` seconds; True once it reached the last
        complete line that exists now."""
        return self._run(self._step, budget)

    def scan_errors(self, budget: float) -> bool:
        """Look for error lines for at most ``budget`` seconds (separately from the line index,
        which it would slow down: only asked for by "first error"); True once at the end."""
        return self._run(self._error_step, budget)

    def _run(self, step: Callable[[int, int], bool], budget: float) -> bool:
        with self._lock:
            try:
                f = open(self.path, "rb", buffering=0)  # noqa: SIM115 (closed below)
            except FileNotFoundError:
                self._reset(None)
                return True
            with f:
                st = os.fstat(f.fileno())
                ident = (st.st_dev, st.st_ino)
                if ident != self._ident or st.st_size < max(self.end, self.errors_end):
                    self._reset(ident)  # a new or truncated file
                deadline = self._clock() + budget
                while not step(f.fileno(), st.st_size):
                    if self._clock() >= deadline:
                        return False
                return True

    def _step(self, fd: int, size: int) -> bool:
        got = _next_lines(fd, self.end, size)
        if got is None:
            return True
        region, after = got
        self._offsets.append(self.end)  # a sample at every block start
        self._lines.append(self.lines)
        self.lines += region.count(b"\n")
        self.end = after
        return after >= size

    def _error_step(self, fd: int, size: int) -> bool:
        got = _next_lines(fd, self.errors_end, size)
        if got is None:
            return True
        region, after = got
        if any(hint in region for hint in _ERROR_HINTS):
            pos = 0
            while (m := ERROR_RE.search(region, pos)) is not None:
                if self.first_error is None:
                    self.first_error = self.errors_end + region.rfind(b"\n", 0, m.start()) + 1
                self.errors += 1
                pos = region.find(b"\n", m.end()) + 1
                if pos == 0:
                    break
        self.errors_end = after
        return after >= size

    # Questions ---------------------------------------------------------------------------------
    def average_line(self) -> float:
        return self.end / self.lines if self.lines else DEFAULT_LINE_BYTES

    def estimated_lines(self, size: int) -> int:
        """Lines of a file of ``size`` bytes: exact up to ``end``, estimated beyond."""
        return self.lines + round(max(0, size - self.end) / self.average_line())

    def line_of(self, offset: int) -> Position:
        """The line that starts at ``offset`` (a line start), exact once indexed."""
        with self._lock:
            if offset > self.end or not self._offsets:
                extra = round(max(0, offset - self.end) / self.average_line())
                return Position(offset, self.lines + extra, offset == self.end)
            i = bisect_right(self._offsets, offset) - 1
            base, line = self._offsets[i], self._lines[i]
        return Position(offset, line + _count_newlines(self.path, base, offset), True)

    def start_of(self, line: int, size: int) -> Position:
        """Where line ``line`` starts; estimated past the index (``size`` when past the end)."""
        with self._lock:
            indexed = line < self.lines and len(self._offsets) > 0
            if indexed:
                i = bisect_right(self._lines, line) - 1
                base, first = self._offsets[i], self._lines[i]
            else:
                base, first, avg = self.end, self.lines, self.average_line()
        if indexed:
            return Position(_skip_lines(self.path, base, line - first), line, True)
        if line <= first:
            return Position(base, first, True)
        guess = min(size, base + round((line - first) * avg))
        start = _line_start_after(self.path, guess, size)
        return Position(start, first + round((start - base) / avg), False)


def _next_lines(fd: int, start: int, size: int) -> tuple[bytes, int] | None:
    """The whole lines in the block at ``start`` (a line start) and where the next block starts;
    None when no complete line follows. A line longer than a block comes as its first block and
    a newline, so it counts as one line."""
    if start >= size:
        return None
    data = os.pread(fd, BLOCK, start)
    cut = data.rfind(b"\n") + 1
    if cut:
        return (data if cut == len(data) else data[:cut]), start + cut
    if start + len(data) >= size:
        return None  # an unfinished last line: wait for its newline
    nl = _find_newline(fd, start + len(data), size)
    return None if nl < 0 else (data + b"\n", nl + 1)


def _find_newline(fd: int, offset: int, size: int) -> int:
    while offset < size:
        data = os.pread(fd, BLOCK, offset)
        if not data:
            return -1
        i = data.find(b"\n")
        if i >= 0:
            return offset + i
        offset += len(data)
    return -1


def _count_newlines(path: Path, start: int, end: int) -> int:
    with open(path, "rb", buffering=0) as f:
        count = 0
        while start < end:
            data = os.pread(f.fileno(), min(BLOCK, end - start), start)
            if not data:
                break
            count += data.count(b"\n")
            start += len(data)
        return count


def _skip_lines(path: Path, start: int, n: int) -> int:
    """The offset of the line ``n`` lines after the line starting at ``start``."""
    with open(path, "rb", buffering=0) as f:
        while n > 0:
            data = os.pread(f.fileno(), BLOCK, start)
            if not data:
                return start
            pos = 0
            while n > 0:
                nl = data.find(b"\n", pos)
                if nl < 0:
                    break
                pos = nl + 1
                n -= 1
            if n == 0:
                return start + pos
            start += len(data)
        return start


def _line_start_after(path: Path, offset: int, size: int) -> int:
    """The first line start at or after ``offset`` (``size`` when none)."""
    if offset <= 0:
        return 0
    with open(path, "rb", buffering=0) as f:
        nl = _find_newline(f.fileno(), offset - 1, size)
    return size if nl < 0 else nl + 1


class LogIndexes:
    """The indexes of recently viewed runs, least recently used dropped past ``limit``. One
    instance lives on the web app (no module state)."""

    def __init__(self, limit: int = 32) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._indexes: OrderedDict[int, LogIndex] = OrderedDict()

    def get(self, run_id: int, path: Path) -> LogIndex:
        with self._lock:
            index = self._indexes.get(run_id)
            if index is None or index.path != path:
                index = self._indexes[run_id] = LogIndex(path)
            self._indexes.move_to_end(run_id)
            while len(self._indexes) > self.limit:
                self._indexes.popitem(last=False)
            return index
