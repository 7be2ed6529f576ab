"""A schedule description (HTTP body or command line) parsed into a clean dict, refusing what
cannot work with a hint; the service then stores it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from appliance.clock import check_zone, iso
from appliance.errors import BadRequest
from appliance.jobs.schedules.triggers import (
    ScheduleSpecError,
    ScheduleView,
    load_zone,
    next_fire_times,
)
from appliance.validate import Field, expect_object

MAX_WINDOW_MINUTES = 7 * 24 * 60
ACTIONS = ("upgrade", "install", "check", "backup")


# Parsing a schedule description (HTTP body or command line) ------------------------------
def _check_action(value: str) -> str | None:
    return None if value in ACTIONS else f"must be one of {', '.join(ACTIONS)}"


def _check_window(value: int) -> str | None:
    if 1 <= value <= MAX_WINDOW_MINUTES:
        return None
    return f"must be 1..{MAX_WINDOW_MINUTES} minutes (the window the run may start in)"


SCHEDULE_FIELDS = {
    "site": Field((str, int), required=True),
    "bundle": Field(str, required=True),
    "version": Field(str, required=True),
    "action": Field(str, check=_check_action),
    "at": Field(str),
    "cron": Field(str),
    "timezone": Field(str),
    "window_minutes": Field(int, required=True, check=_check_window),
    "enabled": Field(bool),
}


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise BadRequest(
            f"schedule.at {text!r} is not an ISO-8601 time",
            "Write it like 2026-12-01T02:00:00+08:00 (with the UTC offset).",
        ) from e
    if moment.tzinfo is None:
        raise BadRequest(
            f"schedule.at {text!r} has no UTC offset",
            "Add the offset (2026-12-01T02:00:00+08:00) or Z for UTC; the command line "
            "accepts a local time with --tz.",
        )
    return moment.astimezone(UTC)


def parse_schedule(data: Any, now: datetime, default_zone: str | None = None) -> dict[str, Any]:
    """Validate a schedule description (not yet its site and bundle); returns a clean dict.
    ``default_zone`` (the site's) is the zone when the description names none."""
    spec = expect_object(data, "schedule", SCHEDULE_FIELDS)
    has_at, has_cron = "at" in spec, "cron" in spec
    if has_at == has_cron:
        raise BadRequest(
            "schedule needs exactly one of 'at' (once) or 'cron' (repeating)",
            'Send "at": "2026-12-01T02:00:00+01:00", or "cron": "0 2 * * 6" with "timezone".',
        )
    if has_cron and "timezone" not in spec and default_zone is None:
        raise BadRequest(
            "a cron schedule needs 'timezone' (an IANA name such as Europe/Berlin)",
            'Cron times are wall-clock times; say in which zone, e.g. "timezone": "UTC".',
        )
    zone_name = spec.get("timezone") or default_zone or "UTC"
    try:
        load_zone(zone_name)
        if check_zone(zone_name):  # loadable, yet no zone of the database (e.g. "localtime")
            raise ScheduleSpecError(f"unknown time zone {zone_name!r} (not in the tz database)")
    except ScheduleSpecError as e:
        raise BadRequest(
            f"schedule.timezone: {e}",
            "Use an IANA zone name such as Europe/Berlin, America/New_York or UTC "
            "(GET /api/timezones lists them).",
        ) from e
    at = parse_time(spec["at"]) if has_at else None
    view = ScheduleView(
        id=0,
        trigger="once" if has_at else "cron",
        timezone=zone_name,
        window_minutes=spec["window_minutes"],
        created_at=now,
        at=at,
        cron=" ".join(spec["cron"].split()) if has_cron else None,
    )
    try:
        upcoming = next_fire_times(view, now, 1)
    except ScheduleSpecError as e:
        raise BadRequest(
            f"schedule.cron: {e}",
            "Use five crontab fields: minute hour day-of-month month day-of-week "
            "(0 or 7 = Sunday), e.g. '0 2 * * 6' for Saturdays at 02:00.",
        ) from e
    if not upcoming:
        if at is not None:
            raise BadRequest(
                f"schedule.at {spec['at']!r} is in the past (now {iso(now)})",
                "Pick a time in the future.",
            )
        raise BadRequest(
            f"schedule.cron {view.cron!r} never fires", "Check the day and month fields."
        )
    return {
        "site": spec["site"],
        "bundle": spec["bundle"],
        "version": spec["version"],
        "action": spec.get("action", "upgrade"),
        "trigger": view.trigger,
        "at": iso(at) if at else None,
        "cron": view.cron,
        "timezone": zone_name,
        "window_minutes": spec["window_minutes"],
        "enabled": spec.get("enabled", True),
    }
