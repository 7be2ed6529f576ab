"""``runs/<id>/output.log``: the run's terminal output, append-only, the single source for log
streams. Every byte the run engine writes to it goes through :class:`RunLog` (the place where
secrets will be redacted)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import AnyStr

# A terminal control sequence (CSI: colours, cursor moves), as Ansible writes them.
_CSI = r"\x1b\[[0-9;?]*[ -/]*[@-~]"
_CSI_TEXT = re.compile(_CSI)
_CSI_BYTES = re.compile(_CSI.encode())


def strip_ansi(data: AnyStr) -> AnyStr:
    """The log's text without terminal control sequences or stray ESC bytes, as text or bytes
    (the command line copies bytes when its output is not a terminal; the report reads text)."""
    if isinstance(data, bytes):
        return _CSI_BYTES.sub(b"", data).replace(b"\x1b", b"")
    return _CSI_TEXT.sub("", data).replace("\x1b", "")


class RunLog:
    """Appends text to a run's output.log; each ``write`` is one O_APPEND write, so readers in
    other threads or processes only ever see whole writes, and two writers never interleave."""

    def __init__(self, path: Path, redact: Callable[[str], str] | None = None) -> None:
        self.path = Path(path)
        # Known secret values (the site's credentials) are removed before anything is written;
        # set by the run engine once it has loaded them.
        self.redact = redact
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        if not text:
            return
        if self.redact is not None:
            text = self.redact(text)
        data = text.encode("utf-8", errors="replace")
        with self._lock:
            if self._fd is None:
                raise ValueError(f"{self.path} is closed")
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]

    def line(self, text: str) -> None:
        """``text`` as one line of its own."""
        self.write(text.rstrip("\n") + "\n")

    def header(self, text: str) -> None:
        """A header line: ``=== text ===``."""
        self.line(f"=== {text} ===")

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def log_blocks(path: Path, strip: bool, block: int = 1 << 20) -> Iterator[bytes]:
    """The log's bytes as it is now (up to its size when asked), in blocks of about ``block``
    bytes, for a download; with ``strip`` without terminal control sequences. Blocks are cut
    after a newline (a line over 4 blocks: before its last escape), so a control sequence is
    never split between two of them."""
    with open(path, "rb") as f:
        left = os.fstat(f.fileno()).st_size
        carry = b""
        while left > 0:
            data = f.read(min(block, left))
            if not data:
                break
            left -= len(data)
            if not strip:
                yield data
                continue
            data = carry + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) < max(4 * block, 4096):
                    carry = data  # no newline yet: wait for one (bounded)
                    continue
                esc = data.rfind(b"\x1b", len(data) - 64)  # a very long line: cut before
                cut = esc if esc > 0 else len(data)  # its last escape, which may be unfinished
            carry = data[cut:]
            yield strip_ansi(data[:cut])
        if strip and carry:
            yield strip_ansi(carry)
