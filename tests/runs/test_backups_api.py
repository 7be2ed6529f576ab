"""Backups: bad input over HTTP and on the command line (unknown, another site's, deleted
backup; a backup with the wrong action; a delete during a run): 4xx with a hint, nothing run.
The backup rows are recorded through the store as a backup step would record them (no Ansible:
what is checked here is the refusal before anything runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.context import Context, open_context
from appliance.jobs.runs.backups import record_step
from appliance.settings import load_settings
from appliance.states import RunState, StepState
from appliance.store import backups as backup_rows
from appliance.store import runs as rows
from appliance.store import sites
from tests.runs.conftest import site_spec
from tests.runs.test_api import record_installed
from tests.support.cli import run_cli
from tests.support.client import Api

REPORT = {
    "appliance_backup": {
        "local": {"path": "/srv/demo/backups/run-1", "size_bytes": 2048, "components": ["db"]}
    }
}


def taken_backup(ctx: Context, site: str, bundle_id: int, *, finish: bool = True) -> int:
    """An upgrade of ``site`` whose backup step succeeded and reported ``REPORT``."""
    site_row = sites.find_site(site)
    run_id = rows.create_run(
        ctx.store,
        site_id=site_row.id,
        bundle_id=bundle_id,
        action="upgrade",
        plan=[{"idx": 1, "kind": "backup", "name": "backup", "playbook": "playbooks/backup.yml"}],
        trigger="manual",
        installed_before={
            c: {"version": v, "bundle_name": "demo-platform", "bundle_version": "1.0.0"}
            for c, v in {"db": "1", "config": "1.0.0", "app": "1.0.0"}.items()
        },
        backup_run_id=None,
        owner_pid=None,
        owner_start=None,
    )
    record_step(ctx.store, rows.find_run(run_id), "backup", StepState.SUCCEEDED, REPORT)
    if finish:
        rows.set_run_state(ctx.store, run_id, RunState.RUNNING)
        (step,) = rows.run_steps(run_id)
        rows.set_step(ctx.store, step.id, state=StepState.RUNNING)
        rows.set_step(ctx.store, step.id, state=StepState.SUCCEEDED)
        rows.finish_run(ctx.store, run_id, RunState.SUCCEEDED)
    return run_id


@pytest.fixture
def two_sites(ctx: Context, manager, api: Api, import_bundle, tmp_path: Path) -> dict:
    bundle = import_bundle("demo-platform@1.1.0")
    for name in ("lab", "other"):
        assert api.post("/api/sites", site_spec(name, tmp_path / name, 1)).status == 201
        record_installed(ctx, sites.find_site(name).id, "1.1.0", "1.1.0")
    return {
        "lab": taken_backup(ctx, "lab", bundle["id"]),
        "other": taken_backup(ctx, "other", bundle["id"]),
    }


def rollback(api: Api, backup, **extra) -> tuple[int, dict]:
    body = {"site": "lab", "bundle": "demo-platform", "version": "1.1.0", "action": "rollback"}
    reply = api.post("/api/runs", {**body, "backup": backup, **extra})
    return reply.status, reply.json()


def test_the_list_says_what_each_host_reported(api: Api, two_sites: dict) -> None:
    (listed,) = api.get("/api/sites/lab/backups").json()
    assert listed["run"] == two_sites["lab"] and listed["backup_id"] == f"run-{two_sites['lab']}"
    assert listed["hosts"] == [
        {
            "host": "local",
            "path": "/srv/demo/backups/run-1",
            "size_bytes": 2048,
            "components": ["db"],
        }
    ]
    assert (listed["size_bytes"], listed["components"]) == (2048, ["db"])
    assert listed["versions"] == {"db": "1", "config": "1.0.0", "app": "1.0.0"}
    reply = api.get("/api/sites/nowhere/backups")
    assert reply.status == 404 and reply.json()["hint"]


def test_bad_backups_are_refused_with_a_hint_and_nothing_runs(
    ctx: Context, api: Api, two_sites: dict
) -> None:
    before = len(rows.list_runs())
    status, body = rollback(api, 9999)
    assert status == 404 and "no backup 9999" in body["error"] and "backups" in body["hint"]
    status, body = rollback(api, two_sites["other"])
    assert status == 422 and "another site" in body["error"] and "backups lab" in body["hint"]
    status, body = rollback(api, "1")
    assert status == 400 and "backup" in body["error"]
    status, body = rollback(api, True)
    assert status == 400
    status, body = rollback(api, two_sites["lab"], action="upgrade")
    assert status == 400 and "only for action rollback" in body["error"]
    backup_rows.mark_deleted(ctx.store, two_sites["lab"])
    status, body = rollback(api, two_sites["lab"])
    assert status == 422 and "was deleted" in body["error"] and body["hint"]
    # the rollback of a failed run (latest backup) is refused too once that one is deleted
    reply = api.post(
        "/api/runs",
        {"site": "lab", "bundle": "demo-platform", "version": "1.1.0", "action": "rollback"},
    )
    assert reply.status == 422 and "was deleted" in reply.json()["error"]
    assert len(rows.list_runs()) == before


def test_delete_refuses_unknown_foreign_busy_and_deleted(
    ctx: Context, api: Api, two_sites: dict, import_bundle
) -> None:
    reply = api.delete("/api/sites/lab/backups/9999")
    assert reply.status == 404 and reply.json()["hint"]
    reply = api.delete(f"/api/sites/lab/backups/{two_sites['other']}")
    assert reply.status == 422 and "another site" in reply.json()["error"]
    for bad in ("abc", "0", "9" * 30, "%C2%B2", "-1"):
        reply = api.delete(f"/api/sites/lab/backups/{bad}")
        assert reply.status == 422 and "not a backup id" in reply.json()["error"], bad
    bundle = sites.find_site("lab")  # an active run on lab: deletion waits for it
    active = taken_backup(ctx, "lab", import_bundle("demo-platform@1.1.0")["id"], finish=False)
    reply = api.delete(f"/api/sites/lab/backups/{two_sites['lab']}")
    assert reply.status == 409 and f"run {active} is active" in reply.json()["error"]
    assert reply.json()["hint"] and bundle.name == "lab"
    assert backup_rows.find_backup(two_sites["lab"]).deleted_at is None


def test_backup_action_refused_without_an_installed_bundle(
    ctx: Context, api: Api, import_bundle, tmp_path: Path, manager
) -> None:
    import_bundle("demo-platform@1.1.0")
    assert api.post("/api/sites", site_spec("empty", tmp_path / "e", 1)).status == 201
    body = {"site": "empty", "bundle": "demo-platform", "version": "1.1.0", "action": "backup"}
    reply = api.post("/api/runs", body)
    assert reply.status == 422 and "nothing to back up" in reply.json()["error"]
    assert "Install" in reply.json()["hint"] and rows.list_runs() == []


def test_cli_lists_and_refuses(data_dir: Path, built_bundles: dict, tmp_path: Path) -> None:
    from appliance.jobs import bundles as bundle_jobs

    ctx = open_context(load_settings(cli={"data_dir": str(data_dir)}, env={}))
    try:
        bundle, _ = bundle_jobs.import_file(ctx, built_bundles["demo-platform@1.1.0"])
        sites.create_site(ctx.store, sites.parse_site(site_spec("lab", tmp_path / "r", 1)))
        record_installed(ctx, sites.find_site("lab").id, "1.1.0", "1.1.0")
        taken = taken_backup(ctx, "lab", bundle["id"])
    finally:
        ctx.close()
    done = run_cli(data_dir, "backups", "lab", "--json")
    assert done.returncode == 0, done.stderr
    assert [b["run"] for b in json.loads(done.stdout)] == [taken]
    done = run_cli(data_dir, "backups", "lab")
    assert done.returncode == 0 and "2.0 KiB" in done.stdout and "local" in done.stdout
    done = run_cli(
        data_dir, "run", "lab", "demo-platform@1.1.0", "--action", "rollback", "--backup", "77"
    )
    assert done.returncode != 0 and done.stderr.count("\n") <= 2 and "no backup 77" in done.stderr
    done = run_cli(data_dir, "backups", "lab", "--delete", "77")
    assert done.returncode != 0 and "no backup 77" in done.stderr


def test_a_schedule_takes_action_backup(api: Api, two_sites: dict, tmp_path: Path) -> None:
    body = {
        "site": "lab",
        "bundle": "demo-platform",
        "version": "1.1.0",
        "action": "backup",
        "cron": "0 3 * * *",
        "window_minutes": 60,
    }
    reply = api.post("/api/schedules", body)
    assert reply.status == 201, reply.json()
    assert reply.json()["action"] == "backup"
    # refused like the run it would start: nothing of the bundle installed on the site
    assert api.post("/api/sites", site_spec("bare", tmp_path / "bare", 1)).status == 201
    reply = api.post("/api/schedules", {**body, "site": "bare"})
    assert reply.status == 422 and "nothing to back up" in reply.json()["error"]
