"""The scheduler service over a real data directory, driven by an injected clock.

Runs are started through a recording RunStarter (see conftest: the real RunManager needs real
Ansible runs); "restart" means a new Context and Scheduler over the same data directory.
"""

from __future__ import annotations

import logging
import threading

import pytest

from appliance.errors import BadRequest, NotFound
from appliance.states import OPEN_OCCURRENCES, OccurrenceState
from appliance.store import schedules as rows
from appliance.store.models import Occurrence, Run, Schedule
from tests.schedules.conftest import FakeClock, World, spec, utc
from tests.support.planned import fake_bundle

T = utc(2026, 2, 1, 2, 0)  # the fire time used below (window 60 minutes)
ONCE = {"at": "2026-02-01T03:00:00+01:00", "timezone": "Europe/Berlin"}  # == T


def states(world: World) -> list[tuple[str, str]]:
    return [(o["fire_time"], o["state"]) for o in world.scheduler.list()[0]["occurrences"]]


def test_once_fires_at_its_time_exactly_once(world: World, clock: FakeClock):
    created = world.scheduler.add(spec(**ONCE))
    assert created["at"] == "2026-02-01T02:00:00.000+00:00"
    assert created["at_local"] == "2026-02-01T03:00:00+01:00"
    assert created["next"] == [
        {"local": "2026-02-01T03:00:00+01:00", "utc": "2026-02-01T02:00:00.000+00:00"}
    ]
    assert world.scheduler.next_due == T
    clock.set(utc(2026, 2, 1, 1, 59, 59))
    assert world.scheduler.tick() == []
    clock.set(T)
    [result] = world.scheduler.tick()
    assert result["state"] == "started" and result["run"] == world.runs.calls[0]["id"]
    assert world.runs.calls[0]["trigger"] == "schedule"
    assert world.runs.calls[0]["action"] == "upgrade"
    clock.advance(minutes=5)
    assert world.scheduler.tick() == []
    assert len(world.runs.calls) == 1
    [occ] = world.scheduler.list()[0]["occurrences"]
    assert occ["state"] == "started" and occ["run"] == {"id": result["run"], "state": "succeeded"}
    assert world.scheduler.list()[0]["next"] == []


def test_restart_before_the_window_fires_once_on_time(world: World, clock: FakeClock):
    world.scheduler.add(spec(**ONCE))
    clock.set(utc(2026, 2, 1, 1, 50))
    world.restart().tick()
    assert world.runs.calls == []
    clock.set(T)
    world.scheduler.tick()
    clock.advance(seconds=1)
    world.restart().tick()
    assert len(world.runs.calls) == 1


def test_restart_during_the_window_fires_late_once(world: World, clock: FakeClock):
    world.scheduler.add(spec(**ONCE))
    world.close()  # the appliance is off at T
    clock.set(utc(2026, 2, 1, 2, 40))
    scheduler = world.restart().start()  # catch-up happens in start()
    try:
        assert [c["at"] for c in world.runs.calls] == [utc(2026, 2, 1, 2, 40)]
    finally:
        scheduler.stop()
    clock.set(utc(2026, 2, 1, 2, 45))
    world.restart().start().stop()
    assert len(world.runs.calls) == 1
    assert states(world) == [("2026-02-01T02:00:00.000+00:00", "started")]


def test_restart_after_the_window_records_missed_and_warns(
    world: World, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    world.scheduler.add(spec(**ONCE))
    world.close()
    clock.set(utc(2026, 2, 1, 3, 0))  # the window closed at 03:00 UTC
    caplog.set_level(logging.WARNING, logger="appliance.jobs.schedules.service")
    scheduler = world.restart().start()
    scheduler.stop()
    assert world.runs.calls == []
    overview = scheduler.overview()
    [missed] = overview["missed"]
    assert missed["state"] == "missed" and missed["site"] == "plant"
    assert missed["bundle"] == "demo-platform@1.1.0"
    assert "not running" in missed["detail"] and missed["acknowledged"] is False
    assert "missed or skipped and not yet acknowledged" in caplog.text
    assert overview["schedules"][0]["occurrences"][0]["state"] == "missed"
    # acknowledged: no longer listed as missed, still in the schedule's occurrences
    assert scheduler.acknowledge()["acknowledged"] == [missed["id"]]
    assert scheduler.overview()["missed"] == []
    assert scheduler.list()[0]["occurrences"][0]["acknowledged"] is True


def test_crash_between_claim_and_start_never_runs_twice(world: World, clock: FakeClock):
    world.scheduler.add(spec(**ONCE))
    clock.set(T)
    # what a process that died right after claiming the fire time leaves behind
    rows.record(world.ctx.store, 1, T, OccurrenceState.STARTING)
    world.restart().start().stop()
    assert world.runs.calls == []
    [occ] = world.scheduler.list()[0]["occurrences"]
    assert occ["state"] == "missed" and "never run twice" in occ["detail"]


def test_crash_after_the_run_started_links_the_run(world: World, clock: FakeClock):
    world.scheduler.add(spec(**ONCE))
    clock.set(T)
    rows.record(world.ctx.store, 1, T, OccurrenceState.STARTING)
    world.runs.start_run(1, "demo-platform", "1.1.0", "upgrade", trigger="schedule")
    run_id = world.runs.calls[0]["id"]
    world.restart().start().stop()
    assert len(world.runs.calls) == 1
    [occ] = world.scheduler.list()[0]["occurrences"]
    assert occ["state"] == "started" and occ["run"]["id"] == run_id


def test_busy_site_waits_then_fires_inside_the_window(world: World, clock: FakeClock):
    world.scheduler.add(spec(**ONCE))
    world.runs.busy = True
    clock.set(T)
    [first] = world.scheduler.tick()
    assert first["state"] == "waiting" and "active run" in first["detail"]
    assert world.scheduler.next_due == utc(2026, 2, 1, 2, 0, 30)  # retry in 30 s
    clock.advance(seconds=30)
    assert world.scheduler.tick()[0]["state"] == "waiting"
    world.runs.busy = False
    clock.advance(seconds=30)
    [done] = world.scheduler.tick()
    assert done["state"] == "started" and done["fire_time"] == "2026-02-01T02:00:00.000+00:00"
    assert [c["at"] for c in world.runs.calls] == [utc(2026, 2, 1, 2, 1)]
    assert world.scheduler.tick() == []


def test_busy_site_for_the_whole_window_is_missed(world: World, clock: FakeClock):
    world.scheduler.add(spec(**ONCE))
    world.runs.busy = True
    clock.set(T)
    world.scheduler.tick()
    for _ in range(200):  # follow the retries like the timer would
        clock.set(world.scheduler.next_due)
        results = world.scheduler.tick()
        if results and results[0]["state"] != "waiting":
            break
    assert clock.now() == utc(2026, 2, 1, 3, 0)  # the retries stop when the window closes
    assert results[0]["state"] == "missed" and "busy for the whole window" in results[0]["detail"]
    assert world.runs.calls == []
    assert world.scheduler.next_due is None


def test_disabled_schedule_does_not_fire(world: World, clock: FakeClock):
    created = world.scheduler.add(spec(enabled=False, **ONCE))
    assert created["enabled"] is False and created["next"] == []
    clock.set(T)
    assert world.scheduler.tick() == []
    clock.set(utc(2026, 2, 1, 4, 0))
    world.scheduler.set_enabled(created["id"], True)
    assert world.runs.calls == []
    [occ] = world.scheduler.list()[0]["occurrences"]
    assert occ["state"] == "skipped" and occ["detail"] == "the schedule was disabled at that time"


def test_disabling_during_the_window_and_enabling_inside_it_fires(world: World, clock: FakeClock):
    created = world.scheduler.add(spec(**ONCE))
    world.scheduler.set_enabled(created["id"], False)
    clock.set(utc(2026, 2, 1, 2, 10))
    assert world.scheduler.tick() == []
    world.scheduler.set_enabled(created["id"], True)
    assert len(world.runs.calls) == 1


def test_delete_while_waiting(world: World, clock: FakeClock):
    created = world.scheduler.add(spec(**ONCE))
    world.runs.busy = True
    clock.set(T)
    assert world.scheduler.tick()[0]["state"] == "waiting"
    assert world.scheduler.delete(created["id"]) == {"id": created["id"], "deleted": True}
    world.runs.busy = False
    clock.advance(seconds=30)
    assert world.scheduler.tick() == []
    assert world.runs.calls == []
    assert Occurrence.select().count() == 0
    with pytest.raises(NotFound):
        world.scheduler.delete(created["id"])


@pytest.mark.parametrize(
    ("expected", "now", "state"),
    [
        (90, T, "skipped"),  # needs 90 minutes, the window has 60
        (30, utc(2026, 2, 1, 2, 45), "skipped"),  # late start (restart): 15 minutes left
        (30, utc(2026, 2, 1, 2, 10), "started"),
    ],
)
def test_expected_minutes_must_fit_the_rest_of_the_window(
    world: World, clock: FakeClock, expected, now, state
):
    fake_bundle(world.ctx, "1.2.0", expected, sha="1")
    created = world.scheduler.add(spec(version="1.2.0", **ONCE))
    assert created["bundle"]["expected_minutes"] == expected
    clock.set(now)
    [result] = world.scheduler.tick()
    assert result["state"] == state
    if state == "skipped":
        assert f"expects about {expected} minutes" in result["detail"]
        assert world.runs.calls == []
        assert world.scheduler.overview()["missed"][0]["state"] == "skipped"


def test_cron_catch_up_after_sleep_coalesces_and_reports(world: World, clock: FakeClock):
    """A laptop asleep for three nights of a daily 02:00 schedule with a 2-hour window."""
    clock.set(utc(2026, 2, 1, 12, 0))
    world.scheduler.add(spec(cron="0 2 * * *", timezone="UTC", window_minutes=120))
    clock.set(utc(2026, 2, 4, 3, 0))  # wakes inside the third night's window
    results = world.scheduler.tick()
    assert [(r["fire_time"][:13], r["state"]) for r in results] == [
        ("2026-02-02T02", "missed"),
        ("2026-02-03T02", "missed"),
        ("2026-02-04T02", "started"),
    ]
    assert world.scheduler.tick() == []
    assert len(world.scheduler.overview()["missed"]) == 2


def test_many_missed_fire_times_are_summed_up(world: World, clock: FakeClock):
    clock.set(utc(2026, 1, 1))
    world.scheduler.add(spec(cron="*/5 * * * *", timezone="UTC", window_minutes=1))
    clock.set(utc(2026, 3, 1))  # two months of every five minutes
    results = world.scheduler.tick()
    assert 1 <= len(results) <= 21
    assert "were missed as well" in results[0]["detail"]
    assert world.scheduler.tick() == [] or len(world.scheduler.tick()) <= 1


def test_no_run_engine_leaves_starting_to_the_server(world: World, clock: FakeClock):
    """A command-line process has no run manager: it stores but never starts a run."""
    from appliance.jobs.schedules.service import Scheduler

    cli_side = Scheduler(world.ctx, None)
    cli_side.add(spec(**ONCE))
    clock.set(T)
    assert cli_side.tick() == []
    assert world.scheduler.tick()[0]["state"] == "started"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"at": None, "cron": "0 2 * *", "timezone": "UTC"}, "expected 5"),
        ({"at": None, "cron": "61 2 * * *", "timezone": "UTC"}, "61"),
        ({"at": None, "cron": "0 2 1 * 6", "timezone": "UTC"}, "both day of month"),
        ({"at": None, "cron": "0 0 30 2 *", "timezone": "UTC"}, "never fires"),
        ({"at": "2026-01-10T11:00:00+00:00"}, "in the past"),
        ({"at": "2026-02-01 03:00"}, "no UTC offset"),
        ({"window_minutes": 0}, "window_minutes must be"),
        ({"window_minutes": -5}, "window_minutes must be"),
        ({"action": "destroy"}, "action must be one of"),
        ({"surprise": 1}, "unknown field"),
    ],
)
def test_bad_input_is_refused_with_a_hint_and_nothing_stored(world: World, change, error):
    body = {**spec(**ONCE), **change}
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(BadRequest) as info:
        world.scheduler.add(body)
    assert error in info.value.message and info.value.hint
    assert Schedule.select().count() == 0


@pytest.mark.parametrize("change", [{"site": "nowhere"}, {"version": "9.9.9"}])
def test_unknown_site_or_bundle_is_404(world: World, change):
    with pytest.raises(NotFound) as info:
        world.scheduler.add({**spec(**ONCE), **change})
    assert info.value.hint
    assert Schedule.select().count() == 0
    assert Run.select().count() == 0


def test_an_occurrence_reads_starting_while_its_run_is_being_started(
    world: World, clock: FakeClock
):
    """What the API shows in the moment the end-to-end test once read (issue 19): while the run
    engine creates the run, another reader sees the occurrence `starting`, without a run; it
    is `started` with its run only after start_run returned. A reader must wait past both open
    states (states.OPEN_OCCURRENCES), not only past `waiting`."""
    created = world.scheduler.add(spec(**ONCE))
    seen: list[dict] = []
    start_run = world.runs.start_run

    def observed_start(*args, **kwargs):
        reader = threading.Thread(target=lambda: seen.append(world.scheduler.get(created["id"])))
        reader.start()
        reader.join(10)
        return start_run(*args, **kwargs)

    world.runs.start_run = observed_start
    clock.set(T)
    [result] = world.scheduler.tick()
    [during] = seen[0]["occurrences"]
    assert during["state"] == "starting" and during["run"] is None
    assert during["state"] in OPEN_OCCURRENCES
    [after] = world.scheduler.get(created["id"])["occurrences"]
    assert after["state"] == "started" and after["run"]["id"] == result["run"]
    assert after["state"] not in OPEN_OCCURRENCES
