"""/api/schedules on the real server and `appliance schedule` through main(argv, env).

The server here has no scheduler service running (the bare `server` fixture), so the routes use
an unstarted one: it validates, stores and lists; no run is started (no run starter either).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.context import Context, open_context
from appliance.settings import load_settings
from appliance.store import sites
from appliance.store.models import Schedule
from tests.support.cli import run_cli
from tests.support.client import Api
from tests.support.planned import fake_bundle, installed


def seed(ctx: Context) -> None:
    sites.create_site(
        ctx.store,
        sites.parse_site(
            # a zone of its own: schedules without one take it (not this computer's, which varies)
            {"name": "plant", "hosts": [{"name": "h1", "address": "127.0.0.1"}], "timezone": "UTC"}
        ),
    )
    fake_bundle(ctx, "1.1.0", 20)
    installed(ctx, "plant", "1.0.0")  # so the schedules' upgrades pass the plan check


def future(hours: int = 24) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


def body(**kw) -> dict:
    out = {
        "site": "plant",
        "bundle": "demo-platform",
        "version": "1.1.0",
        "action": "upgrade",
        "window_minutes": 120,
    }
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


def test_create_list_change_delete(ctx: Context, api: Api):
    seed(ctx)
    reply = api.post("/api/schedules", body(cron="0 2 * * 6", timezone="Asia/Shanghai"))
    assert reply.status == 201, reply.body
    created = reply.json()
    assert created["trigger"] == "cron" and created["timezone"] == "Asia/Shanghai"
    assert created["site"] == {"id": 1, "name": "plant"}
    assert created["bundle"] == {
        "name": "demo-platform",
        "version": "1.1.0",
        "expected_minutes": 20,
    }
    assert len(created["next"]) == 3
    for item in created["next"]:
        local = datetime.fromisoformat(item["local"])
        assert local.strftime("%A %H:%M %z") == "Saturday 02:00 +0800"
        assert datetime.fromisoformat(item["utc"]) == local
    assert created["occurrences"] == [] and created["enabled"] is True

    once = api.post("/api/schedules", body(at=future(), window_minutes=30)).json()
    assert once["trigger"] == "once" and once["timezone"] == "UTC"

    listed = api.get("/api/schedules").json()
    assert [s["id"] for s in listed["schedules"]] == [created["id"], once["id"]]
    assert listed["missed"] == []
    assert api.get(f"/api/schedules/{once['id']}").json()["id"] == once["id"]

    off = api.request("PATCH", f"/api/schedules/{created['id']}", {"enabled": False})
    assert off.status == 200 and off.json()["enabled"] is False and off.json()["next"] == []
    assert api.request("PATCH", f"/api/schedules/{created['id']}", {"enabled": "no"}).status == 400

    assert api.delete(f"/api/schedules/{once['id']}").json() == {"id": once["id"], "deleted": True}
    gone = api.delete(f"/api/schedules/{once['id']}")
    assert gone.status == 404 and gone.json()["hint"]
    assert api.post("/api/schedules/acknowledge", {}).json() == {"acknowledged": []}
    assert api.post("/api/schedules/acknowledge", {"ids": ["x"]}).status == 400


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"timezone": "Mars/Olympus", "cron": "0 2 * * *"}, 400, "unknown time zone"),
        ({"cron": "0 2 * *", "timezone": "UTC"}, 400, "expected 5"),
        ({"cron": "every night", "timezone": "UTC"}, 400, "cron"),
        ({"at": "2020-01-01T02:00:00+00:00"}, 400, "in the past"),
        ({"at": "2031-01-01T02:00:00"}, 400, "no UTC offset"),
        ({"at": "FUTURE", "window_minutes": 0}, 400, "window_minutes"),
        ({"at": "FUTURE", "window_minutes": -1}, 400, "window_minutes"),
        ({"at": "FUTURE", "site": "nowhere"}, 404, "no site"),
        ({"at": "FUTURE", "version": "9.9.9"}, 404, "no bundle"),
        ({"at": "FUTURE", "cron": "0 2 * * *", "timezone": "UTC"}, 400, "exactly one"),
    ],
)
def test_bad_input_is_4xx_with_a_hint_and_nothing_stored(
    ctx: Context, api: Api, change, status, words
):
    seed(ctx)
    if change.get("at") == "FUTURE":
        change = {**change, "at": future()}
    reply = api.post("/api/schedules", body(**change))
    assert reply.status == status, reply.body
    assert words in reply.json()["error"] and reply.json()["hint"]
    assert Schedule.select().count() == 0


@pytest.fixture
def seeded_dir(data_dir: Path) -> Path:
    context = open_context(load_settings(cli={"data_dir": str(data_dir)}, env={}))
    seed(context)
    context.close()
    return data_dir


def test_cli_add_list_rm(seeded_dir: Path):
    added = run_cli(
        seeded_dir,
        "schedule",
        "add",
        "plant",
        "demo-platform@1.1.0",
        "--at",
        "2031-03-09 02:30",
        "--tz",
        "America/New_York",
        "--window",
        "90",
    )
    assert added.returncode == 0, added.stderr
    assert "schedule 1 added: upgrade plant to demo-platform 1.1.0" in added.stdout
    # 2031-03-09 is the spring-forward day in New York: 02:30 does not exist that night
    assert "once 2031-03-09T03:30:00-04:00" in added.stdout
    assert "2031-03-09T07:30:00.000+00:00 UTC" in added.stdout
    assert "does not exist in America/New_York" in added.stdout

    default_zone = run_cli(
        seeded_dir,
        "schedule",
        "add",
        "plant",
        "demo-platform@1.1.0",
        "--cron",
        "0 2 * * 6",
        "--window",
        "60",
    )
    assert default_zone.returncode == 0, default_zone.stderr
    assert "this system's" in default_zone.stdout

    listed = run_cli(seeded_dir, "schedule", "list")
    assert listed.returncode == 0 and "demo-platform@1.1.0" in listed.stdout
    as_json = run_cli(seeded_dir, "schedule", "list", "--json")
    assert '"schedules"' in as_json.stdout and '"missed"' in as_json.stdout

    assert run_cli(seeded_dir, "schedule", "disable", "2").returncode == 0
    assert run_cli(seeded_dir, "schedule", "rm", "1").stdout == "schedule 1 deleted\n"
    gone = run_cli(seeded_dir, "schedule", "rm", "1")
    assert gone.returncode == 2 and gone.stderr.count("\n") == 1 and "hint" in gone.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--at", "2031-01-01 02:00", "--tz", "Mars/Olympus", "--window", "60"],
        ["--cron", "0 2 * *", "--tz", "UTC", "--window", "60"],
        ["--at", "2020-01-01 02:00", "--tz", "UTC", "--window", "60"],
        ["--at", "2031-01-01 02:00", "--tz", "UTC", "--window", "0"],
        ["--at", "tomorrow", "--tz", "UTC", "--window", "60"],
    ],
)
def test_cli_bad_input_exits_2_with_one_line(seeded_dir: Path, args):
    result = run_cli(seeded_dir, "schedule", "add", "plant", "demo-platform@1.1.0", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "hint:" in result.stderr
    assert "Traceback" not in result.stderr
    assert "no schedules" in run_cli(seeded_dir, "schedule", "list").stdout


@pytest.mark.parametrize(
    ("site", "bundle"),
    [
        ("nowhere", "demo-platform@1.1.0"),
        ("plant", "demo-platform@9.9.9"),
        ("plant", "demo-platform"),
    ],
)
def test_cli_unknown_site_or_bundle(seeded_dir: Path, site, bundle):
    result = run_cli(
        seeded_dir,
        "schedule",
        "add",
        site,
        bundle,
        "--at",
        "2031-01-01 02:00",
        "--tz",
        "UTC",
        "--window",
        "60",
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_a_schedule_the_site_cannot_take_is_refused_like_a_run(ctx: Context, api: Api):
    """The plan check of a run, at creation: the same status, error and hint, nothing stored."""
    from appliance.jobs.runs.manager import RunManager

    ctx.services["runs"] = RunManager(ctx).start()  # POST /api/runs needs the run engine
    seed(ctx)
    sites.create_site(
        ctx.store,
        sites.parse_site({"name": "empty", "hosts": [{"name": "h1", "address": "127.0.0.1"}]}),
    )
    cases = [
        {"site": "empty", "action": "upgrade"},  # nothing installed to upgrade
        {"site": "plant", "action": "install"},  # installed already
    ]
    for case in cases:
        run = api.post(
            "/api/runs",
            {"bundle": "demo-platform", "version": "1.1.0", "dry_run": True, **case},
        )
        assert run.status == 422, run.body
        refused = api.post("/api/schedules", body(at=future(), timezone="UTC", **case))
        assert refused.status == run.status, refused.body
        assert refused.json() == run.json()
    assert api.get("/api/schedules").json()["schedules"] == []
    ok = api.post("/api/schedules", body(at=future(), timezone="UTC"))  # plant: 1.0.0 -> 1.1.0
    assert ok.status == 201, ok.body
