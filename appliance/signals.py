"""SIGTERM / SIGINT as a request to stop, without deadlocks.

A Python signal handler runs on the main thread between two bytecodes, possibly while that
thread is inside ``Event.wait()`` re-taking the event's lock; an ``event.set()`` in the handler
then waits for that very lock forever (seen: `appliance serve` ignoring SIGTERM). So the handler
only stores the signal number (no lock), and the waiting loop turns it into ``stop.set()``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """While entered, SIGTERM/SIGINT are recorded in ``signalled`` instead of killing us."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.signalled: int | None = None
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: object) -> None:
        self.signalled = signum  # a plain store: no lock may be taken here

    def __enter__(self) -> StopSignals:
        self._previous = {s: signal.signal(s, self._handler) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)

    def wait(self, every: float = 0.5, done: Callable[[], bool] | None = None) -> None:
        """Return once a signal came, ``stop`` was set by another thread, or ``done()`` is true
        (checked every ``every`` seconds)."""
        while True:
            if self.signalled is not None:
                logger.info("signal %d: shutting down", self.signalled)
                self.stop.set()
                return
            if self.stop.wait(every) or (done is not None and done()):
                return
