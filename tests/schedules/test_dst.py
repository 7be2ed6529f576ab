"""Fire times at the right local times across DST changes (pure logic, then the service)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from appliance.jobs.schedules.requests import parse_schedule
from appliance.jobs.schedules.triggers import ScheduleView, next_fire_times
from tests.schedules.conftest import FakeClock, World, spec, utc


def cron_view(expr: str, zone: str) -> ScheduleView:
    return ScheduleView(
        id=1,
        trigger="cron",
        timezone=zone,
        window_minutes=60,
        created_at=utc(2026, 1, 1),
        cron=expr,
    )


def times(expr: str, zone: str, after: datetime, n: int) -> list[str]:
    return [t.isoformat() for t in next_fire_times(cron_view(expr, zone), after, n)]


def test_new_york_spring_forward_0230_fires_once_an_hour_later_in_wall_time():
    # 2026-03-08 02:00 EST jumps to 03:00 EDT: 02:30 does not exist that night.
    assert times("30 2 * * *", "America/New_York", utc(2026, 3, 7), 3) == [
        "2026-03-07T07:30:00+00:00",  # 02:30 EST
        "2026-03-08T07:30:00+00:00",  # 03:30 EDT: the first moment after the gap, once
        "2026-03-09T06:30:00+00:00",  # 02:30 EDT
    ]


def test_new_york_fall_back_repeated_hour_fires_once():
    # 2026-11-01 02:00 EDT falls back to 01:00 EST: 01:30 happens twice; fire at the first.
    assert times("30 1 * * *", "America/New_York", utc(2026, 10, 31), 3) == [
        "2026-10-31T05:30:00+00:00",
        "2026-11-01T05:30:00+00:00",  # 01:30 EDT; not again at 01:30 EST (06:30Z)
        "2026-11-02T06:30:00+00:00",  # 01:30 EST
    ]
    half_hourly = times("*/30 * * * *", "America/New_York", utc(2026, 11, 1, 4, 45), 5)
    assert half_hourly == [
        "2026-11-01T05:00:00+00:00",  # 01:00 EDT
        "2026-11-01T05:30:00+00:00",  # 01:30 EDT
        "2026-11-01T07:00:00+00:00",  # 02:00 EST: 01:00 and 01:30 EST are not repeated
        "2026-11-01T07:30:00+00:00",
        "2026-11-01T08:00:00+00:00",
    ]


def test_berlin_both_changes():
    # 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
    assert times("0 2 * * *", "Europe/Berlin", utc(2026, 3, 28), 3) == [
        "2026-03-28T01:00:00+00:00",
        "2026-03-29T01:00:00+00:00",  # 03:00 CEST, once
        "2026-03-30T00:00:00+00:00",
    ]
    assert times("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24), 3) == [
        "2026-10-24T00:30:00+00:00",
        "2026-10-25T00:30:00+00:00",  # 02:30 CEST; not again at 02:30 CET (01:30Z)
        "2026-10-26T01:30:00+00:00",
    ]


def test_crontab_weekdays_count_from_sunday():
    # APScheduler 3.x counts from Monday; "6" must still be Saturday as in crontab.
    saturday, sunday = (
        next_fire_times(cron_view(f"0 2 * * {d}", "UTC"), utc(2026, 5, 1), 1)[0] for d in ("6", "0")
    )
    assert saturday.strftime("%A") == "Saturday"
    assert sunday.strftime("%A") == "Sunday"
    assert times("0 2 * * 7", "UTC", utc(2026, 5, 1), 1) == ["2026-05-03T02:00:00+00:00"]


def test_once_local_time_keeps_its_offset():
    parsed = parse_schedule(
        spec(at="2026-12-01T02:00:00+08:00", timezone="Asia/Shanghai"), utc(2026, 1, 1)
    )
    assert parsed["at"] == "2026-11-30T18:00:00.000+00:00"


@pytest.mark.parametrize(
    ("zone", "expr", "start", "end", "expected"),
    [
        (
            "America/New_York",
            "30 2 * * *",
            utc(2026, 3, 7, 12),
            utc(2026, 3, 9, 12),
            ["2026-03-08T07:30:00.000+00:00", "2026-03-09T06:30:00.000+00:00"],
        ),
        (
            "America/New_York",
            "30 1 * * *",
            utc(2026, 10, 31, 12),
            utc(2026, 11, 2, 12),
            ["2026-11-01T05:30:00.000+00:00", "2026-11-02T06:30:00.000+00:00"],
        ),
        (
            "Europe/Berlin",
            "30 2 * * *",
            utc(2026, 10, 24, 12),
            utc(2026, 10, 26, 12),
            ["2026-10-25T00:30:00.000+00:00", "2026-10-26T01:30:00.000+00:00"],
        ),
    ],
)
def test_service_follows_its_own_wake_times_across_dst(
    world: World, clock: FakeClock, zone, expr, start, end, expected
):
    """Drive the service the way its timer does: jump to next_wake, tick, repeat."""
    clock.set(start)
    scheduler = world.scheduler
    scheduler.add(spec(cron=expr, timezone=zone, window_minutes=30))
    started = []
    for _ in range(500):
        wake = scheduler.next_due
        assert wake is not None and wake > clock.now() - timedelta(seconds=1)
        if wake > end:
            break
        clock.set(wake)
        started += [r["fire_time"] for r in scheduler.tick() if r["state"] == "started"]
    assert started == expected
    assert [c["at"].isoformat() for c in world.runs.calls] == [
        datetime.fromisoformat(t).isoformat() for t in expected
    ]
