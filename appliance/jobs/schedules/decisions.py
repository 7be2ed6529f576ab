"""What a schedule should do at a given moment: pure functions of (schedule, records, now).

Nothing here reads the database, the wall clock or starts anything, so every decision (due,
waiting, missed, skipped) can be tested with plain datetimes; fire times come from
``triggers.py``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger

from appliance.jobs.schedules.triggers import (
    ScheduleView,
    fire_times_after,
    load_zone,
    make_trigger,
)
from appliance.states import FINAL_OCCURRENCES
from appliance.states import OccurrenceState as Occ

RETRY_SECONDS = 30  # a busy site is asked again this often while the window is open
HEARTBEAT_SECONDS = 60  # the longest the service sleeps between evaluations
MAX_MISSED_RECORDED = 20  # per evaluation; older misses are summed up in the oldest record
MAX_SCAN = 5_000  # fire times walked before jumping closer to now (every minute for months)
JUMP_BACK = tuple(timedelta(hours=h) for h in (1, 24, 7 * 24, 31 * 24, 366 * 24))


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
