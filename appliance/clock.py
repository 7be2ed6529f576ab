"""Time as an injected dependency: tests pass their own clock instead of patching."""

from __future__ import annotations

import functools
import os
import time
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
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


# Time zones (IANA names from the tz database; the tzdata package ships it where the system has
# none, e.g. a frozen build on a laptop without /usr/share/zoneinfo) ---------------------------
@functools.cache
def available_zones() -> tuple[str, ...]:
    """Every zone name the tz database knows, sorted (``GET /api/timezones``)."""
    return tuple(sorted(zoneinfo.available_timezones()))


@functools.cache
def _zone_set() -> frozenset[str]:
    return frozenset(available_zones())


def check_zone(name: str) -> str | None:
    """None when ``name`` is a zone of the tz database, else what is wrong with it."""
    if name in _zone_set():
        return None
    return (
        f"is an unknown time zone {name[:60]!r}: use a tz database name such as "
        "Asia/Shanghai, Europe/Berlin or UTC"
    )


def _zone_from_path(text: str) -> str | None:
    """``Europe/Berlin`` from ``/usr/share/zoneinfo/Europe/Berlin`` (or the name itself)."""
    text = text.strip().lstrip(":")
    if "zoneinfo/" in text:
        text = text.rsplit("zoneinfo/", 1)[1]
    return text if text and check_zone(text) is None else None


def local_zone_name(environ: Mapping[str, str] | None = None, root: Path = Path("/")) -> str:
    """This computer's zone, found without network: ``TZ``, ``/etc/timezone`` (Debian), the
    target of the ``/etc/localtime`` link; UTC when none names a known zone."""
    env = os.environ if environ is None else environ
    candidates: list[str] = [env.get("TZ", "")]
    try:
        candidates.append((root / "etc" / "timezone").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        pass
    try:
        candidates.append(os.readlink(root / "etc" / "localtime"))
    except OSError:
        pass
    for text in candidates:
        found = _zone_from_path(text) if text else None
        if found:
            return "UTC" if found in ("Etc/UTC", "Etc/Universal", "UCT", "Zulu") else found
    return "UTC"


def process_age() -> float | None:
    """Seconds since this process started (Linux: /proc, 10 ms steps; an exec, as the one
    binary's launcher does, keeps the start), or None where that cannot be read. For start-up
    timings in the log."""
    try:
        stat = Path("/proc/self/stat").read_text()
        started = int(stat[stat.rindex(")") + 2 :].split()[19]) / os.sysconf("SC_CLK_TCK")
        return float(Path("/proc/uptime").read_text().split()[0]) - started
    except (OSError, ValueError, IndexError):
        return None
