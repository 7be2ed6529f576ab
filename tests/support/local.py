"""Local helpers the end-to-end tests share: free ports, and cleaning up what a demo install
left running (its app daemon outlives the run on purpose)."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill_everything_under(root: Path) -> None:
    """Kill the demo app by its pid file, and any process whose command line names ``root``."""
    pids: set[int] = set()
    try:
        pids.add(int((root / "run" / "app.pid").read_text()))
    except (OSError, ValueError):
        pass
    marker = str(root).encode()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (entry / "cmdline").read_bytes():
                pids.add(int(entry.name))
        except OSError:
            continue
    pids.discard(os.getpid())
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
