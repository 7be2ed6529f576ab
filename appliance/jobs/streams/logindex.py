"""A sampled line index of a run's ``output.log``: where line N starts, which line byte B is on,
and where the first error line is, without reading the whole log for each question.

The index is built incrementally, in line-aligned blocks of ``BLOCK`` bytes read from where
the last build stopped, each within a time budget, so no request works for long and a growing
log is indexed as it grows. A sample (line number, byte offset) is kept at every block start,
so any line is at most one block (256 KiB) of reading away from a sample: a 2 GB log needs
about 8,000 samples (128 KB). Until the index reaches a byte, line numbers there are estimated
from the average line length so far and reported as not exact.

Error lines are the page's "first error" pattern; each block is scanned for the pattern's
literal parts first (a few ``bytes.find``), so blocks without errors cost almost nothing.
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
        self.errors = 0  # error lines before ``end``
        self.first_error: Position | None = None

    # Building ----------------------------------------------------------------------------------
    def extend(self, budget: float) -> bool:
        """Index more of the file for at most ``budget`` seconds; True once it reached the last
        complete line that exists now."""
        with self._lock:
            try:
                f = open(self.path, "rb", buffering=0)  # noqa: SIM115 (closed below)
            except FileNotFoundError:
                self._reset(None)
                return True
            with f:
                st = os.fstat(f.fileno())
                ident = (st.st_dev, st.st_ino)
                if ident != self._ident or st.st_size < self.end:
                    self._reset(ident)  # a new or truncated file
                deadline = self._clock() + budget
                while True:
                    done = self._step(f, st.st_size)
                    if done:
                        return True
                    if self._clock() >= deadline:
                        return False

    def _step(self, f, size: int) -> bool:
        if size - self.end <= 0:
            return True
        data = os.pread(f.fileno(), BLOCK, self.end)
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if self.end + len(data) >= size:
                return True  # an unfinished last line: wait for its newline
            nl = _find_newline(f, self.end + len(data), size)
            if nl < 0:
                return True
            self._sample()
            if ERROR_RE.search(data):  # a giant line: its first block decides
                self._note_error(data, 0)
            self.lines += 1
            self.end = nl + 1
            return False
        self._sample()
        region = data if cut == len(data) else data[:cut]
        if any(hint in region for hint in _ERROR_HINTS):
            self._scan_errors(region)
        self.lines += region.count(b"\n")
        self.end += cut
        return self.end >= size

    def _sample(self) -> None:
        self._offsets.append(self.end)
        self._lines.append(self.lines)

    def _scan_errors(self, region: bytes) -> None:
        pos = 0
        while (m := ERROR_RE.search(region, pos)) is not None:
            start = region.rfind(b"\n", 0, m.start()) + 1
            self._note_error(region, start)
            pos = region.find(b"\n", m.end()) + 1
            if pos == 0:
                break

    def _note_error(self, region: bytes, start: int) -> None:
        if self.first_error is None:
            line = self.lines + region.count(b"\n", 0, start)
            self.first_error = Position(self.end + start, line, True)
        self.errors += 1

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


def _find_newline(f, offset: int, size: int) -> int:
    while offset < size:
        data = os.pread(f.fileno(), BLOCK, offset)
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
        nl = _find_newline(f, offset - 1, size)
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
