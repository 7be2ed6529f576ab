"""Time as an injected dependency: tests pass their own clock instead of patching."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


def iso(moment: datetime) -> str:
    """UTC ISO-8601 with seconds precision as stored in the database."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
