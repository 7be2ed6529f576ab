"""What a schedule should do at a given moment: pure functions of (schedule, records, now).

Nothing here reads the database, the wall clock or starts anything, so every decision (due,
waiting, missed, skipped) can be tested with plain datetimes. Fire times come from APScheduler's
trigger objects (``CronTrigger`` in the schedule's own IANA zone, ``DateTrigger``), which do the
wall-clock arithmetic across DST changes; two things are corrected here:

- APScheduler 3.x numbers weekdays from Monday (0 = Monday) while crontab numbers them from
  Sunday (0 or 7 = Sunday); ``crontab_trigger`` translates the weekday field (its issue 286).
- In the repeated hour of an autumn DST change a wall time exists twice; like Vixie cron it
  fires once, at its first instance (and APScheduler 3.x can step backwards there when given a
  previous fire time, so fire times are always asked for "after this instant" instead).

The end of the module parses a schedule description (HTTP body or command line) into a clean
dict, refusing what cannot work with a hint (the service then stores it).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from appliance.clock import iso
from appliance.errors import BadRequest
from appliance.states import FINAL_OCCURRENCES
from appliance.states import OccurrenceState as Occ
from appliance.validate import Field, expect_object

RETRY_SECONDS = 30  # a busy site is asked again this often while the window is open
HEARTBEAT_SECONDS = 60  # the longest the service sleeps between evaluations
MAX_WINDOW_MINUTES = 7 * 24 * 60
ACTIONS = ("upgrade", "install", "check")
MAX_MISSED_RECORDED = 20  # per evaluation; older misses are summed up in the oldest record
MAX_SCAN = 5_000  # fire times walked before jumping closer to now (every minute for months)
JUMP_BACK = tuple(timedelta(hours=h) for h in (1, 24, 7 * 24, 31 * 24, 366 * 24))

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


@dataclass(frozen=True)
class Decision:
    fire_time: datetime  # aware UTC
    action: str  # "start" | Occ.MISSED | Occ.SKIPPED
    reason: str | None = None
    window_ends: datetime | None = None


@dataclass
class Evaluation:
    decisions: list[Decision] = field(default_factory=list)
    wake_at: datetime | None = None  # when this schedule next needs an evaluation


def _fmt(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


@dataclass
class _Scan:
    missed: deque[datetime]
    candidates: list[datetime]
    missed_total: int = 0
    wake_at: datetime | None = None
    truncated: bool = False


def _scan(
    trigger: BaseTrigger,
    zone: tzinfo,
    start: datetime,
    now: datetime,
    cut: datetime,
    records: dict[datetime, str],
) -> _Scan:
    """Walk fire times after ``start``: unrecorded ones with no window left are missed (the
    latest MAX_MISSED_RECORDED kept), those still inside their window are candidates."""
    out = _Scan(deque(maxlen=MAX_MISSED_RECORDED), [])
    for scanned, moment in enumerate(fire_times_after(trigger, start, zone), 1):
        if moment > now:
            out.wake_at = moment
            break
        if moment not in records:
            if moment <= cut:
                out.missed_total += 1
                out.missed.append(moment)
            else:
                out.candidates.append(moment)
        if scanned >= MAX_SCAN and moment <= cut:
            out.truncated = True
            break
    return out


def evaluate(
    schedule: ScheduleView,
    records: dict[datetime, str],
    now: datetime,
    *,
    disabled_reason: str | None = None,
) -> Evaluation:
    """Decide what to do with every fire time of ``schedule`` that has no final record.

    ``records`` maps the fire times already recorded (aware UTC) to their states. Fire times
    after the latest record (or the schedule's creation) up to ``now`` are considered, plus any
    record still open (waiting). A fire time inside its window is started (or skipped when the
    bundle's expected duration does not fit what is left of the window); one whose window has
    passed is missed. ``disabled_reason``: record passed fire times as skipped with this reason
    instead of missed (used when a schedule is enabled again).
    """
    zone = load_zone(schedule.timezone)
    finals = [t for t, state in records.items() if state in FINAL_OCCURRENCES]
    start = max([schedule.created_at - timedelta(microseconds=1), *finals])
    cut = now - schedule.window  # fire times at or before this have no window left
    scan, more_before = _walk(make_trigger(schedule), zone, start, now, cut, records)
    out = Evaluation(wake_at=scan.wake_at)
    out.decisions += _missed(schedule, zone, scan.missed, more_before, disabled_reason)
    candidates = scan.candidates + [t for t, s in records.items() if s == Occ.WAITING]
    closed, live = _closed_windows(schedule, zone, candidates, records, now, disabled_reason)
    out.decisions += closed
    if live:
        out.decisions += _coalesce(schedule, zone, live, now)
    return out


def _walk(
    trigger: BaseTrigger,
    zone: tzinfo,
    start: datetime,
    now: datetime,
    cut: datetime,
    records: dict[datetime, str],
) -> tuple[_Scan, int]:
    """The scan of the fire times from ``start`` to ``now`` and how many missed ones it left
    out before those it kept (-1: an unknown number)."""
    scan = _scan(trigger, zone, start, now, cut, records)
    more_before = scan.missed_total - len(scan.missed)
    if scan.truncated:
        # Too many fire times to walk (every minute for months): walk only the recent past.
        for back in JUMP_BACK:
            recent = _scan(trigger, zone, max(start, cut - back), now, cut, records)
            if not recent.truncated and (
                len(recent.missed) == MAX_MISSED_RECORDED or back == JUMP_BACK[-1]
            ):
                return recent, -1
    return scan, more_before


def _missed(
    schedule: ScheduleView,
    zone: tzinfo,
    missed: deque[datetime],
    more_before: int,
    disabled_reason: str | None,
) -> list[Decision]:
    """Fire times whose window passed while nothing ran: missed (skipped when disabled)."""
    decisions = []
    for i, moment in enumerate(missed):
        reason = disabled_reason or (
            f"the appliance was not running (or the computer was asleep) from "
            f"{_fmt(moment, zone)} until the {schedule.window_minutes}-minute window closed"
        )
        if i == 0 and more_before:
            more = (
                "earlier fire times" if more_before < 0 else f"{more_before} earlier fire time(s)"
            )
            reason += f"; {more} were missed as well"
        state = Occ.SKIPPED if disabled_reason else Occ.MISSED
        decisions.append(Decision(moment, state, reason, moment + schedule.window))
    return decisions


def _closed_windows(
    schedule: ScheduleView,
    zone: tzinfo,
    candidates: list[datetime],
    records: dict[datetime, str],
    now: datetime,
    disabled_reason: str | None,
) -> tuple[list[Decision], list[datetime]]:
    """The candidates whose window closed (missed, or skipped when disabled), and the ones
    still inside their window (live), oldest first."""
    decisions: list[Decision] = []
    live: list[datetime] = []
    for moment in sorted(set(candidates)):
        ends = moment + schedule.window
        if now < ends:
            live.append(moment)
        elif disabled_reason:
            decisions.append(Decision(moment, Occ.SKIPPED, disabled_reason, ends))
        else:
            busy = records.get(moment) == Occ.WAITING
            reason = (
                f"the site was busy for the whole window ({_fmt(moment, zone)} to "
                f"{_fmt(ends, zone)})"
                if busy
                else f"the window {_fmt(moment, zone)} to {_fmt(ends, zone)} passed"
            )
            decisions.append(Decision(moment, Occ.MISSED, reason, ends))
    return decisions, live


def _coalesce(
    schedule: ScheduleView, zone: tzinfo, live: list[datetime], now: datetime
) -> list[Decision]:
    """Like APScheduler's coalesce: several fire times inside their windows at once (after an
    outage, or a busy site) make one run, for the latest; the earlier ones are skipped. The
    latest is skipped too when the bundle's expected duration does not fit what is left."""
    window = schedule.window
    latest = live[-1]
    decisions = [
        Decision(
            moment,
            Occ.SKIPPED,
            f"superseded by the later fire time {_fmt(latest, zone)} (one run for both)",
            moment + window,
        )
        for moment in live[:-1]
    ]
    ends = latest + window
    left = ends - now
    if schedule.expected_minutes and timedelta(minutes=schedule.expected_minutes) > left:
        reason = (
            f"the bundle expects about {schedule.expected_minutes:g} minutes but only "
            f"{left.total_seconds() / 60:.0f} minute(s) of the window were left "
            f"(it ends {_fmt(ends, zone)})"
        )
        decisions.append(Decision(latest, Occ.SKIPPED, reason, ends))
    else:
        decisions.append(Decision(latest, "start", None, ends))
    return decisions


def retry_at(now: datetime, window_ends: datetime) -> datetime:
    """When to ask a busy site again: in RETRY_SECONDS, or when the window closes."""
    return min(now + timedelta(seconds=RETRY_SECONDS), window_ends)


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


def parse_schedule(data: Any, now: datetime) -> dict[str, Any]:
    """Validate a schedule description (not yet its site and bundle); returns a clean dict."""
    spec = expect_object(data, "schedule", SCHEDULE_FIELDS)
    has_at, has_cron = "at" in spec, "cron" in spec
    if has_at == has_cron:
        raise BadRequest(
            "schedule needs exactly one of 'at' (once) or 'cron' (repeating)",
            'Send "at": "2026-12-01T02:00:00+01:00", or "cron": "0 2 * * 6" with "timezone".',
        )
    if has_cron and "timezone" not in spec:
        raise BadRequest(
            "a cron schedule needs 'timezone' (an IANA name such as Europe/Berlin)",
            'Cron times are wall-clock times; say in which zone, e.g. "timezone": "UTC".',
        )
    zone_name = spec.get("timezone", "UTC")
    try:
        load_zone(zone_name)
    except ScheduleSpecError as e:
        raise BadRequest(
            f"schedule.timezone: {e}",
            "Use an IANA zone name such as Europe/Berlin, America/New_York or UTC.",
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
