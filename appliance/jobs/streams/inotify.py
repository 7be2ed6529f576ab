"""Linux inotify through ctypes (no dependency): a file descriptor that becomes readable when a
watched file changes, so a log tail can sleep in poll() instead of polling the file.

``Inotify.open()`` returns None where inotify is missing (not Linux, no libc symbol, or the
per-user instance limit ``fs.inotify.max_user_instances`` reached); callers then poll.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import struct
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVE_SELF = 0x00000800
IN_DELETE_SELF = 0x00000400
IN_IGNORED = 0x00008000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = 0o2000000  # O_CLOEXEC on Linux

_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)
_libc: ctypes.CDLL | None = None
_libc_loaded = False


def _load_libc() -> ctypes.CDLL | None:
    global _libc, _libc_loaded
    if not _libc_loaded:
        _libc_loaded = True
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
                libc.inotify_init1.argtypes = [ctypes.c_int]
                libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
                _libc = libc
            except (OSError, AttributeError):
                logger.info("inotify is not available; log tails will poll")
    return _libc


class Inotify:
    """One inotify instance (one file descriptor). Close it when done."""

    def __init__(self, fd: int, libc: ctypes.CDLL) -> None:
        self._fd = fd
        self._libc = libc

    @classmethod
    def open(cls) -> Inotify | None:
        libc = _load_libc()
        if libc is None:
            return None
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            logger.warning("inotify_init1 failed (%s); this log tail will poll", os.strerror(err))
            return None
        return cls(fd, libc)

    def fileno(self) -> int:
        return self._fd

    def add_watch(self, path: Path, mask: int) -> int:
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(path), mask)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
        return wd

    def drain(self) -> int:
        """Read every queued event without blocking; return the OR of their masks (0: none)."""
        mask = 0
        while True:
            try:
                data = os.read(self._fd, 64 * 1024)
            except BlockingIOError:
                return mask
            if not data:
                return mask
            pos = 0
            while pos + _EVENT.size <= len(data):
                _wd, event_mask, _cookie, name_len = _EVENT.unpack_from(data, pos)
                mask |= event_mask
                pos += _EVENT.size + name_len

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Inotify:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
