"""A step's events through a pipe of our own instead of ansible-runner's terminal markers.

ansible-runner starts ``ansible-playbook`` (pexpect, pty: password prompts, ssh-agent key,
cancel, env files) and forces its ``awx_display`` stdout callback, which writes each event to a
file and marks it in the terminal output that the parent reads back, decodes and deletes: about
a tenth more time than plain ``ansible-playbook`` on many hosts. After ansible-runner prepared
its command, :func:`use_pipe` swaps that callback for ``callback/appliance_events.py`` (Ansible's
``default`` output, one JSON line per event into a FIFO): the terminal keeps only prompts,
warnings and Ansible's own errors (still ``verbose`` events through ansible-runner), and
:class:`EventPipe` reads the FIFO on a thread so Ansible never waits on the appliance.

A folder re-run with the plain ``ansible-runner`` command line uses ``awx_display`` again (the
swap lives only in the command's environment, never in ``env/``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import queue
import select
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CALLBACK_DIR = Path(__file__).with_name("callback")  # package data (pyproject, build.spec)
CALLBACK = "appliance_events"
FIFO_ENV = "APPLIANCE_EVENTS_FIFO"  # the callback's name for it
PIPE_SIZE = 1 << 20  # ask for a 1 MiB pipe buffer (Linux; the default is 64 KiB)


class EventPipe:
    """The reading end of a step's event FIFO. A thread moves what arrives into memory; the
    step's thread takes whole events with :meth:`events` (in the order Ansible wrote them)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".events.fifo"
        self.path.unlink(missing_ok=True)
        os.mkfifo(self.path, 0o600)
        self._read_fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        # Our own writing end: the pipe never reads as ended while ansible-playbook is yet to
        # open it (or never does: a playbook that fails to parse); the end is close().
        self._hold_fd = os.open(self.path, os.O_WRONLY)
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(self._read_fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        self._chunks: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._tail = b""
        self._stop = threading.Event()
        self.bad = 0  # lines that were not an event (none expected)
        self._thread = threading.Thread(target=self._read, name="run-events", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        poller = select.poll()
        poller.register(self._read_fd, select.POLLIN)
        while True:
            stopping = self._stop.is_set()  # before the poll: all written is in the pipe
            if not poller.poll(100):
                if stopping:
                    return
                continue
            while True:
                try:
                    data = os.read(self._read_fd, PIPE_SIZE)
                except BlockingIOError:
                    break
                if not data:
                    break
                self._chunks.put(data)

    def events(self) -> Iterator[dict[str, Any]]:
        """The events read so far, whole lines only."""
        chunks = []
        while True:
            try:
                chunks.append(self._chunks.get_nowait())
            except queue.Empty:
                break
        if not chunks:
            return
        data = self._tail + b"".join(chunks)
        lines = data.split(b"\n")
        self._tail = lines.pop()
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                self.bad += 1
                continue
            if isinstance(event, dict):
                yield event

    def close(self) -> list[dict[str, Any]]:
        """After ansible-playbook ended: the rest of its events; then the FIFO is gone.
        Again: nothing."""
        if self._stop.is_set():
            return []
        self._stop.set()
        self._thread.join()
        rest = list(self.events())
        if self._tail.strip():
            self.bad += 1
            logger.warning("events pipe %s: an event cut short at the end", self.path)
        self._tail = b""
        for fd in (self._read_fd, self._hold_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.path.unlink(missing_ok=True)
        return rest


def use_pipe(env: dict[str, str], pipe: EventPipe) -> None:
    """Point the command's environment (ansible-runner's ``RunnerConfig.env`` after
    ``prepare()``) at our callback and the pipe."""
    dirs = [str(CALLBACK_DIR), *filter(None, env.get("ANSIBLE_CALLBACK_PLUGINS", "").split(":"))]
    env["ANSIBLE_CALLBACK_PLUGINS"] = ":".join(dirs)
    env["ANSIBLE_STDOUT_CALLBACK"] = CALLBACK
    env[FIFO_ENV] = str(pipe.path)
