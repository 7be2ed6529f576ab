"""When a schedule fires: APScheduler's trigger objects (``CronTrigger`` in the schedule's own
IANA zone, ``DateTrigger``), which do the wall-clock arithmetic across DST changes, with two
corrections:

- APScheduler 3.x numbers weekdays from Monday (0 = Monday) while crontab numbers them from
  Sunday (0 or 7 = Sunday); ``crontab_trigger`` translates the weekday field (its issue 286).
- In the repeated hour of an autumn DST change a wall time exists twice; like Vixie cron it
  fires once, at its first instance (and APScheduler 3.x can step backwards there when given a
  previous fire time, so fire times are always asked for "after this instant" instead).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from appliance.clock import iso

_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]  # crontab numbering, 0 = Sunday
_APS_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


class ScheduleSpecError(ValueError):
    """A trigger description that cannot be used; the message says which part and why."""


def load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ScheduleSpecError(f"unknown time zone {name!r}") from e


def _crontab_day(token: str) -> int:
    token = token.strip().lower()
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7
    if token[:3] in _DAYS and len(token) == 3:
        return _DAYS.index(token)
    raise ScheduleSpecError(f"day of week {token!r} is not 0-7 or sun..sat")


def _weekday_field(text: str) -> str:
    """A crontab day-of-week field as APScheduler 3.x names (which count from Monday)."""
    if text == "*":
        return "*"
    days: set[int] = set()
    for part in text.split(","):
        rng, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleSpecError(f"day of week step {step_text!r} is not a number >= 1")
            step = int(step_text)
        if rng == "*":
            first, last = 0, 6
        elif "-" in rng:
            a, b = rng.split("-", 1)
            first, last = _crontab_day(a), _crontab_day(b)
            if b.strip() == "7":
                last = 7  # "5-7" is Friday to Sunday
            if last < first:
                raise ScheduleSpecError(f"day of week range {rng!r} runs backwards")
        else:
            first = last = _crontab_day(rng)
            if step_text:
                last = 6
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(name for name in _APS_DAYS if _DAYS.index(name) in days)


def crontab_trigger(expr: str, zone: tzinfo) -> CronTrigger:
    """A 5-field crontab expression (minute hour day month weekday) in ``zone``."""
    fields = expr.split()
    if len(fields) != 5:
        raise ScheduleSpecError(
            f"cron {expr!r} has {len(fields)} fields; expected 5 (minute hour day month weekday)"
        )
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        # crontab fires when EITHER matches, APScheduler when BOTH do: refuse the ambiguity.
        raise ScheduleSpecError(f"cron {expr!r} restricts both day of month and day of week")
    if not re.fullmatch(r"[A-Za-z0-9*,/-]+", weekday):
        raise ScheduleSpecError(f"day of week {weekday!r} is not a crontab field")
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_weekday_field(weekday),
            timezone=zone,
        )
    except ValueError as e:
        raise ScheduleSpecError(f"cron {expr!r}: {e}") from e


@dataclass(frozen=True)
class ScheduleView:
    """What the decisions need to know about a schedule (built from a row or from a request)."""

    id: int
    trigger: str  # "once" | "cron"
    timezone: str
    window_minutes: int
    created_at: datetime  # aware UTC
    at: datetime | None = None  # aware, for "once"
    cron: str | None = None
    enabled: bool = True
    expected_minutes: float | None = None  # from the bundle's manifest

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


def make_trigger(schedule: ScheduleView) -> BaseTrigger:
    zone = load_zone(schedule.timezone)
    if schedule.trigger == "once":
        if schedule.at is None:
            raise ScheduleSpecError("a once schedule needs a time (at)")
        return DateTrigger(run_date=schedule.at.astimezone(zone), timezone=zone)
    if schedule.trigger == "cron":
        return crontab_trigger(schedule.cron or "", zone)
    raise ScheduleSpecError(f"trigger {schedule.trigger!r} is not 'once' or 'cron'")


def _second_instance_of_repeated_time(moment: datetime) -> bool:
    """True for the later of two instants sharing one wall time (autumn DST change)."""
    if moment.fold != 1:
        return False
    return moment.replace(fold=0).utcoffset() != moment.utcoffset()


def fire_times_after(trigger: BaseTrigger, after: datetime, zone: tzinfo) -> Iterator[datetime]:
    """Fire times strictly after ``after``, ascending, as aware UTC datetimes."""
    if isinstance(trigger, DateTrigger):
        run = trigger.run_date.astimezone(UTC)
        if run > after:
            yield run
        return
    cursor = after.astimezone(UTC)
    while True:
        probe = (cursor + timedelta(seconds=1)).replace(microsecond=0)
        nxt = trigger.get_next_fire_time(None, probe.astimezone(zone))
        if nxt is None:
            return
        nxt_utc = nxt.astimezone(UTC)
        if nxt_utc <= cursor:  # never go backwards, whatever the library does around a fold
            cursor = probe
            continue
        cursor = nxt_utc
        if _second_instance_of_repeated_time(nxt.astimezone(zone)):
            continue
        yield nxt_utc


def next_fire_times(schedule: ScheduleView, after: datetime, n: int = 3) -> list[datetime]:
    zone = load_zone(schedule.timezone)
    out: list[datetime] = []
    for moment in fire_times_after(make_trigger(schedule), after, zone):
        out.append(moment)
        if len(out) >= n:
            break
    return out


def upcoming_json(upcoming: list[datetime], zone_name: str) -> dict[str, Any]:
    """A schedule's answer fields for its next fire times: ``next`` (each in UTC and in the
    schedule's zone) and ``next_fire``, the first with the zone's name and abbreviation (the
    page adds the viewer's own zone)."""
    zone = load_zone(zone_name)
    first = upcoming[0].astimezone(zone) if upcoming else None
    return {
        "next": [{"local": t.astimezone(zone).isoformat(), "utc": iso(t)} for t in upcoming],
        "next_fire": None
        if first is None
        else {
            "utc": iso(first),
            "local": first.isoformat(),
            "zone": zone_name,
            "abbreviation": first.tzname(),
        },
    }
