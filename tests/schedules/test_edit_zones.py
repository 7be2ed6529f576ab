"""Issue 18: schedules edited through the plan check a run gets, the plan check again when a
schedule fires (a refusal is the occurrence's recorded reason, never a run), the list's zone
fields, the tz database API, and sites' own time zones (the default zone of their schedules)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.clock import available_zones, local_zone_name
from appliance.context import Context
from appliance.errors import Unprocessable
from appliance.jobs.runs.planning import plan_run
from appliance.store import schedules as rows
from appliance.store import sites
from appliance.store.models import Run, Schedule, Site
from tests.schedules.conftest import FakeClock, World, spec, utc
from tests.schedules.test_api_cli import body, future, seed
from tests.support.cli import run_cli
from tests.support.client import Api
from tests.support.planned import installed

T = utc(2026, 2, 1, 2, 0)
ONCE = {"at": "2026-02-01T03:00:00+01:00", "timezone": "Europe/Berlin"}  # == T


# The plan check when a schedule fires --------------------------------------------------------
def test_a_fire_whose_plan_check_fails_records_the_reason_and_starts_nothing(
    world: World, clock: FakeClock
):
    created = world.scheduler.add(spec(**ONCE))
    installed(world.ctx, "plant", "1.1.0")  # meanwhile the site got 1.1.0 by hand
    with pytest.raises(Unprocessable) as run_refusal:
        plan_run("plant", "demo-platform", "1.1.0", "upgrade")
    clock.set(T)
    [result] = world.scheduler.tick()
    assert result["state"] == "failed" and result["run"] is None
    assert run_refusal.value.message in result["detail"]
    assert run_refusal.value.hint in result["detail"]
    assert world.runs.calls == [] and Run.select().count() == 0
    [occ] = world.scheduler.get(created["id"])["occurrences"]
    assert occ["state"] == "failed" and occ["detail"] == result["detail"]
    assert [m["id"] for m in world.scheduler.missed()] == [occ["id"]]  # shown, to acknowledge
    clock.advance(minutes=5)
    assert world.scheduler.tick() == []  # recorded once; not retried


# Editing -------------------------------------------------------------------------------------
def test_edit_changes_the_schedule_and_counts_fire_times_from_the_edit(
    world: World, clock: FakeClock
):
    created = world.scheduler.add(spec(cron="0 2 * * *", timezone="UTC"))
    clock.set(utc(2026, 1, 10, 12, 30))
    edited = world.scheduler.edit(created["id"], {"cron": "0 13 * * *", "window_minutes": 30})
    assert (edited["cron"], edited["window_minutes"], edited["timezone"]) == (
        "0 13 * * *",
        30,
        "UTC",
    )
    assert edited["edited_at"] and edited["next_fire"]["utc"].startswith("2026-01-10T13:00")
    # a once time replaces the cron (and keeps the zone)
    once = world.scheduler.edit(created["id"], {"at": "2026-01-20T09:00:00+00:00"})
    assert once["trigger"] == "once" and once["cron"] is None
    assert once["at"] == "2026-01-20T09:00:00.000+00:00"
    # 12:00 today (before the edit) was never a fire time of the edited schedule: not missed
    clock.set(utc(2026, 1, 20, 9, 0))
    [result] = world.scheduler.tick()
    assert result["state"] == "started" and world.runs.calls[0]["trigger"] == "schedule"


def test_edit_is_refused_with_the_reason_a_run_gets_and_changes_nothing(
    world: World, clock: FakeClock
):
    created = world.scheduler.add(spec(**ONCE))
    with pytest.raises(Unprocessable) as run_refusal:
        plan_run("plant", "demo-platform", "1.1.0", "install")
    with pytest.raises(Unprocessable) as refused:
        world.scheduler.edit(created["id"], {"action": "install"})
    assert (refused.value.message, refused.value.hint) == (
        run_refusal.value.message,
        run_refusal.value.hint,
    )
    assert world.scheduler.get(created["id"])["action"] == "upgrade"
    assert Schedule.get_by_id(created["id"]).edited_at is None


def test_edit_over_http_same_answer_as_a_run_and_bad_input_4xx(ctx: Context, api: Api):
    from appliance.jobs.runs.manager import RunManager

    ctx.services["runs"] = RunManager(ctx).start()  # POST /api/runs needs the run engine
    seed(ctx)
    created = api.post("/api/schedules", body(cron="0 2 * * 6", timezone="Asia/Shanghai"))
    assert created.status == 201, created.body
    sid = created.json()["id"]
    run = api.post(
        "/api/runs",
        {
            "site": "plant",
            "bundle": "demo-platform",
            "version": "1.1.0",
            "action": "install",
            "dry_run": True,
        },
    )
    refused = api.request("PUT", f"/api/schedules/{sid}", {"action": "install"})
    assert refused.status == run.status == 422
    assert refused.json() == run.json()

    ok = api.request(
        "PUT", f"/api/schedules/{sid}", {"cron": "30 3 * * 0", "timezone": "Europe/Berlin"}
    )
    assert ok.status == 200, ok.body
    assert (ok.json()["cron"], ok.json()["timezone"]) == ("30 3 * * 0", "Europe/Berlin")
    for change, status in [
        ({"timezone": "Mars/Olympus"}, 400),
        ({"window_minutes": 0}, 400),
        ({"surprise": 1}, 400),
        ({"site": "nowhere"}, 404),
    ]:
        reply = api.request("PUT", f"/api/schedules/{sid}", change)
        assert reply.status == status, (change, reply.body)
        assert reply.json()["hint"]
    assert api.request("PUT", f"/api/schedules/{sid}", [1]).status == 400
    assert api.request("PUT", "/api/schedules/999", {"window_minutes": 5}).status == 404
    assert api.get(f"/api/schedules/{sid}").json()["cron"] == "30 3 * * 0"


# The list's zone fields and the tz database --------------------------------------------------
def test_list_names_the_zone_of_the_next_fire_time(ctx: Context, api: Api):
    seed(ctx)
    api.post("/api/schedules", body(cron="0 2 * * 6", timezone="Asia/Shanghai"))
    [item] = api.get("/api/schedules").json()["schedules"]
    nxt = item["next_fire"]
    assert set(nxt) == {"utc", "local", "zone", "abbreviation"}
    assert (nxt["zone"], nxt["abbreviation"]) == ("Asia/Shanghai", "CST")
    local = datetime.fromisoformat(nxt["local"])
    assert local.strftime("%a %H:%M %z") == "Sat 02:00 +0800"
    assert datetime.fromisoformat(nxt["utc"]) == local and nxt["utc"] == item["next"][0]["utc"]
    assert item["bundle"]["version"] == "1.1.0" and item["window_minutes"] == 120
    assert item["action"] == "upgrade" and "edited_at" in item


def test_timezones_api_lists_the_tz_database_sorted(api: Api):
    answer = api.get("/api/timezones").json()
    zones = answer["zones"]
    assert zones == sorted(zones) and len(zones) > 300
    assert {"Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC"} <= set(zones)
    assert answer["local"] in zones


# Sites' time zones ---------------------------------------------------------------------------
def test_a_site_zone_is_validated_and_defaults_to_the_laptops(ctx: Context, api: Api):
    hosts = [{"name": "h1", "address": "127.0.0.1"}]
    made = api.post("/api/sites", {"name": "plain", "hosts": hosts})
    assert made.status == 201 and made.json()["timezone"] == local_zone_name()
    for bad in ("Mars/Olympus", "../../etc/passwd", "", 8):
        reply = api.post("/api/sites", {"name": "bad", "hosts": hosts, "timezone": bad})
        assert reply.status == 400, (bad, reply.body)
        assert "timezone" in reply.json()["error"] and reply.json()["hint"]
    assert Site.select().where(Site.name == "bad").count() == 0
    put = api.request(
        "PUT", "/api/sites/plain", {"name": "plain", "hosts": hosts, "timezone": "Asia/Tokyo"}
    )
    assert put.status == 200 and put.json()["timezone"] == "Asia/Tokyo"
    kept = api.request(
        "PUT", "/api/sites/plain", {"name": "plain", "hosts": hosts}
    )  # zone not sent: kept
    assert kept.json()["timezone"] == "Asia/Tokyo"
    bad = api.request(
        "PUT", "/api/sites/plain", {"name": "plain", "hosts": hosts, "timezone": "Nowhere"}
    )
    assert bad.status == 400 and api.get("/api/sites/plain").json()["timezone"] == "Asia/Tokyo"


def test_new_schedules_take_their_sites_zone(ctx: Context, api: Api):
    seed(ctx)
    sites.set_site_timezone(ctx.store, "plant", "Asia/Shanghai")
    cron = api.post("/api/schedules", body(cron="0 2 * * 6"))  # no zone given
    assert cron.status == 201, cron.body
    assert cron.json()["timezone"] == "Asia/Shanghai"
    once = api.post("/api/schedules", body(at=future())).json()
    assert once["timezone"] == "Asia/Shanghai" and once["at_local"].endswith("+08:00")
    given = api.post("/api/schedules", body(cron="0 2 * * 6", timezone="UTC")).json()
    assert given["timezone"] == "UTC"


def test_local_zone_found_without_network(tmp_path: Path):
    assert local_zone_name({"TZ": "Asia/Shanghai"}, tmp_path) == "Asia/Shanghai"
    assert local_zone_name({"TZ": ":/usr/share/zoneinfo/Europe/Berlin"}, tmp_path) == (
        "Europe/Berlin"
    )
    assert local_zone_name({}, tmp_path) == "UTC"  # nothing says: UTC
    etc = tmp_path / "etc"
    etc.mkdir()
    os.symlink("/usr/share/zoneinfo/America/New_York", etc / "localtime")
    assert local_zone_name({}, tmp_path) == "America/New_York"
    (etc / "timezone").write_text("Asia/Kolkata\n")
    assert local_zone_name({}, tmp_path) == "Asia/Kolkata"
    assert local_zone_name({"TZ": "not a zone"}, tmp_path) == "Asia/Kolkata"
    assert "Asia/Kolkata" in available_zones()


def test_cli_site_zone_and_schedule_edit(data_dir: Path):
    bad = run_cli(data_dir, "site", "add", "x", "--host", "h=127.0.0.1", "--timezone", "Mars/X")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown time zone" in bad.stderr
    added = run_cli(
        data_dir, "site", "add", "plant", "--host", "h=127.0.0.1", "--timezone", "Asia/Shanghai"
    )
    assert added.returncode == 0, added.stderr
    assert "time zone Asia/Shanghai" in run_cli(data_dir, "site", "show", "plant").stdout
    edited = run_cli(data_dir, "site", "edit", "plant", "--timezone", "Europe/Berlin")
    assert edited.stdout == "site plant: time zone Europe/Berlin\n"
    refused = run_cli(data_dir, "site", "edit", "plant", "--timezone", "Nowhere")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    from appliance.context import open_context
    from appliance.settings import load_settings
    from tests.support.planned import fake_bundle

    context = open_context(load_settings(cli={"data_dir": str(data_dir)}, env={}))
    fake_bundle(context, "1.1.0")
    installed(context, "plant", "1.0.0")
    context.close()
    made = run_cli(
        data_dir, "schedule", "add", "plant", "demo-platform@1.1.0", "--cron", "0 2 * * 6",
        "--window", "60",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "time zone Europe/Berlin: the site's" in made.stdout
    changed = run_cli(data_dir, "schedule", "edit", "1", "--at", "2031-06-01 02:00")
    assert changed.returncode == 0, changed.stderr
    assert "once 2031-06-01T02:00:00+02:00" in changed.stdout
    assert "Europe/Berlin" in changed.stdout
    nothing = run_cli(data_dir, "schedule", "edit", "1")
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    install = run_cli(data_dir, "schedule", "edit", "1", "--action", "install")
    assert install.returncode != 0 and install.stderr.count("\n") == 1
    assert "installed on the site already" in install.stderr


def test_report_times_in_the_sites_zone_named(ctx: Context):
    from appliance.jobs.reports.report import render_report
    from tests.ui.helpers import make_run

    run_id = make_run(ctx, state="succeeded", failed_step=None, error=None)
    sites.set_site_timezone(ctx.store, "acme", "Asia/Shanghai")
    html = render_report(ctx, run_id)
    assert "Asia/Shanghai" in html and " CST" in html
    started = Run.get_by_id(run_id).started_at
    local = datetime.fromisoformat(started).astimezone(UTC) + timedelta(hours=8)
    assert local.strftime("%Y-%m-%d %H:%M:%S CST") in html


def test_edit_closes_a_fire_time_waiting_for_a_busy_site(world: World, clock: FakeClock):
    created = world.scheduler.add(spec(**ONCE))
    world.runs.busy = True
    clock.set(T)
    assert world.scheduler.tick()[0]["state"] == "waiting"
    world.scheduler.edit(created["id"], {"at": "2026-02-02T02:00:00+00:00"})
    old = [
        o
        for o in world.scheduler.get(created["id"])["occurrences"]
        if o["fire_time"] < "2026-02-02"
    ]
    assert [(o["state"], o["detail"]) for o in old] == [("skipped", rows.EDITED_REASON)]
    world.runs.busy = False
    clock.advance(minutes=1)
    assert world.scheduler.tick() == [] and world.runs.calls == []  # the old time never starts
    clock.set(utc(2026, 2, 2, 2, 0))
    assert world.scheduler.tick()[0]["state"] == "started"
