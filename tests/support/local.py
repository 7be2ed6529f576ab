"""Local helpers the end-to-end tests share: free ports, and cleaning up what a demo install
left running (its app daemon outlives the run on purpose)."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill_everything_under(root: Path) -> None:
    """Kill the demo app of its pid file, and any process whose command line names ``root``.
    The pid file's pid only while its process is the demo app: a pid file left by an app that
    was killed names a pid the system may have given to anything since (pids wrap at 32,768
    here; suspected of killing an SSH lab host's sshd between two tests)."""
    pids: set[int] = set()
    try:
        pid = int((root / "run" / "app.pid").read_text())
        if b"demo_app" in Path(f"/proc/{pid}/cmdline").read_bytes():
            pids.add(pid)
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


def proc_state(pid: int) -> str:
    """The state letter of a process (R, S, Z for a zombie ...), from /proc/<pid>/stat."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def poll(check: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Write ``{relative path: text}`` under ``root`` (folders made as needed)."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
