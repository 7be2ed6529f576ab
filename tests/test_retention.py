"""Retention keeps exactly what it promises: each site's newest N finished runs and anything
younger than D days keep everything; older runs keep their summary, steps, per-host results and
report, and lose their events and log; active runs are never touched; freed pages go back.

Runs here are rows made through the store's own writes (a real run per row would take minutes);
the report is the real renderer's, over those rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.context import Context, open_context
from appliance.jobs.retention import Retention, prune
from appliance.settings import load_settings
from appliance.states import RunState
from appliance.store import events, retention, runs, sites
from appliance.store.bundles import record_bundle
from tests.support.cli import run_cli
from tests.support.client import Api

START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class SetClock:
    moment: datetime

    def now(self) -> datetime:
        return self.moment

    def monotonic(self) -> float:
        return self.moment.timestamp()


@pytest.fixture
def clock() -> SetClock:
    return SetClock(START)


@pytest.fixture
def hctx(data_dir: Path, clock: SetClock) -> Iterator[Context]:
    settings = load_settings(
        cli={"data_dir": str(data_dir), "keep_runs_per_site": 2, "keep_days": 30}, env={}
    )
    context = open_context(settings, clock=clock)
    yield context
    context.close()


PLAN = [
    {"idx": 1, "name": "preflight", "kind": "stage", "playbook": "playbooks/preflight.yml"},
    {"idx": 2, "name": "app", "kind": "component", "playbook": "playbooks/app.yml"},
]


def make_site(ctx: Context, name: str) -> int:
    spec = sites.parse_site({"name": name, "hosts": [{"name": "h1", "address": "127.0.0.1"}]})
    return sites.create_site(ctx.store, spec)["id"]


def create(ctx: Context, site_id: int, bundle_id: int) -> int:
    """A queued run, as the run engine creates one."""
    return runs.create_run(
        ctx.store,
        site_id=site_id,
        bundle_id=bundle_id,
        action="install",
        plan=PLAN,
        trigger="manual",
        installed_before={},
        backup_run_id=None,
        owner_pid=os.getpid(),
        owner_start=None,
    )


def make_run(ctx: Context, site_id: int, bundle_id: int, clock: SetClock, days_ago: int) -> int:
    clock.moment = START + timedelta(days=200 - days_ago)
    run_id = create(ctx, site_id, bundle_id)
    runs.set_run_state(ctx.store, run_id, RunState.RUNNING, started_at=ctx.store.now())
    step_ids = [s.id for s in runs.run_steps(run_id)]
    batch = [
        {
            "run": run_id,
            "step": step_ids[i % 2],
            "counter": i,
            "event": "runner_on_ok",
            "host": f"h{i % 3}",
            "task": f"task {i}",
            "status": "ok",
            "changed": i % 4 == 0,
            "duration": 0.1,
            "stdout": f"ok: [h{i % 3}] task {i}",
            "created_at": ctx.store.now(),
        }
        for i in range(300)
    ]
    ctx.store.write(events.insert_events, batch)
    log = ctx.paths.run_log(run_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"=== run {run_id} ===\n" + "line\n" * 1000)
    runs.finish_run(ctx.store, run_id, RunState.SUCCEEDED)
    return run_id


@pytest.fixture
def history(hctx: Context, clock: SetClock) -> dict[str, list[int]]:
    """Two sites; runs finished 120, 100, 90, 60, 10 and 5 days before "now" (day 200)."""
    bundle = record_bundle(hctx.store, "demo", "1.0.0", "0" * 64, "k", str(hctx.paths.root), {})
    made = {}
    for name in ("a", "b"):
        site_id = make_site(hctx, name)
        made[name] = [make_run(hctx, site_id, bundle["id"], clock, d) for d in (120, 100, 90, 60)]
        if name == "a":
            made[name] += [make_run(hctx, site_id, bundle["id"], clock, d) for d in (10, 5)]
    clock.moment = START + timedelta(days=200)
    return made


def test_prune_keeps_exactly_what_it_promises(hctx: Context, history: dict) -> None:
    a, b = history["a"], history["b"]
    before = {r: runs.get_run(r) for r in a + b}
    planned = prune(hctx, dry_run=True)
    # site a: its newest two (5, 10 days) are kept anyway; 60..120 days are older than 30.
    # site b: its newest two (60, 90 days) are kept by count; 100 and 120 days go.
    expected = sorted(a[:4] + b[:2])
    assert planned["runs"] == expected
    assert all(runs.pruned_at(r) is None for r in a + b)  # a dry run changes nothing

    done = prune(hctx)
    assert done["runs"] == expected
    assert done["events_deleted"] == 300 * len(expected)
    for run_id in a + b:
        detail = runs.get_run(run_id)
        gone = run_id in expected
        assert (detail["pruned_at"] is not None) is gone
        assert detail["steps"] == before[run_id]["steps"]  # steps always kept
        assert detail["hosts"] == before[run_id]["hosts"]  # per-host results always kept
        assert detail["hosts"]["h1"]["ok"] == 100
        assert detail["state"] == before[run_id]["state"]
        assert len(events.list_events(run_id, limit=1000)) == (0 if gone else 300)
        assert hctx.paths.run_dir(run_id).exists() is not gone
        if gone:  # the report was rendered from the events before they went
            report = (hctx.paths.reports / f"{run_id}.html").read_text()
            assert "h1" in report and f"{run_id}" in report

    assert prune(hctx)["runs"] == []  # nothing more to do


def test_pruned_run_over_http_report_kept_log_gone(
    hctx: Context, history: dict, tmp_path: Path
) -> None:
    from appliance.backend.server import LocalServer

    old = history["b"][0]
    prune(hctx)
    server = LocalServer(hctx).start()
    hctx.services["http"] = server
    api = Api(server.url, server.token)
    report = api.get(f"/api/runs/{old}/report")
    assert report.status == 200 and b"h2" in report.body
    log = api.get(f"/api/runs/{old}/log?follow=0")
    assert log.status == 410
    assert "removed by retention" in log.json()["error"]
    assert "report" in log.json()["hint"]
    assert api.get(f"/api/runs/{old}/log/index").status == 410  # the log window's routes too
    assert api.get(f"/api/runs/{old}/log/search?q=h1").status == 410
    detail = api.get(f"/api/runs/{old}").json()
    assert detail["pruned_at"] and detail["hosts"]["h0"]["ok"] == 100
    kept = history["b"][3]
    assert api.get(f"/api/runs/{kept}/log?follow=0").status == 200


def test_active_runs_and_young_runs_are_never_pruned(hctx: Context, clock: SetClock) -> None:
    bundle = record_bundle(hctx.store, "demo", "1.0.0", "0" * 64, "k", str(hctx.paths.root), {})
    site_id = make_site(hctx, "c")
    old = [make_run(hctx, site_id, bundle["id"], clock, d) for d in (300, 250, 200)]
    clock.moment = START - timedelta(days=100)  # an active run created long ago
    active = create(hctx, site_id, bundle["id"])
    clock.moment = START + timedelta(days=200)
    assert prune(hctx)["runs"] == old[:1]  # the newest two finished ones stay
    assert runs.pruned_at(active) is None

    clock.moment = START + timedelta(days=200)
    settings = load_settings(
        cli={"data_dir": str(hctx.paths.root), "keep_runs_per_site": 1, "keep_days": 1000},
        env={},
    )
    young = open_context(settings, clock=clock)
    try:
        assert prune(young)["runs"] == []  # all younger than 1000 days
    finally:
        young.close()


def test_freed_pages_go_back_to_the_file_system(hctx: Context, history: dict) -> None:
    assert retention.incremental_vacuum_enabled()  # a new database gives pages back
    before = retention.history_size()
    result = prune(hctx)
    after = retention.history_size()
    assert after["events"] == before["events"] - result["events_deleted"]
    assert after["free_bytes"] == 0
    assert after["database_bytes"] < before["database_bytes"]
    assert result["bytes_given_back"] == before["database_bytes"] - after["database_bytes"]


def test_background_pass_at_start(hctx: Context, history: dict) -> None:
    service = Retention(hctx, interval=3600).start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while runs.pruned_at(history["b"][0]) is None and datetime.now(UTC) < deadline:
            service._stop.wait(0.05)
    finally:
        service.stop()
    assert runs.pruned_at(history["b"][0]) is not None


def test_cli_prune(data_dir: Path, hctx: Context, history: dict) -> None:
    hctx.close()  # the command opens the data folder itself
    done = run_cli(
        data_dir, "prune", "--dry-run", APPLIANCE_KEEP_DAYS="30", APPLIANCE_KEEP_RUNS_PER_SITE="2"
    )
    assert done.returncode == 0, done.stderr
    # by the real clock (years after these runs) only the count keeps runs: 4 of a, 2 of b
    assert done.stdout.startswith("would prune 6 run(s): ")
    bad = run_cli(data_dir, "prune", APPLIANCE_KEEP_DAYS="-1")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "keep_days" in bad.stderr
