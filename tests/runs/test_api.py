"""The runs API over real HTTP: validation, refusals with hints, a busy site, the run's shape."""

from __future__ import annotations

import pytest

from appliance.context import Context
from appliance.jobs.runs.manager import RunManager
from appliance.store import runs as rows
from tests.runs.conftest import site_spec
from tests.support.client import Api
from tests.support.local import poll


def record_installed(ctx: Context, site_id: int, bundle_version: str, app: str) -> None:
    record = {
        c: {"version": v, "bundle_name": "demo-platform", "bundle_version": bundle_version}
        for c, v in {"db": "2", "config": "1.0.0", "app": app}.items()
    }
    ctx.store.write(rows.record_installed, site_id, None, record, ctx.store.now())


@pytest.fixture
def lab(ctx: Context, manager: RunManager, api: Api, import_bundle, tmp_path) -> dict:
    for ref in ("demo-platform@1.0.0", "demo-platform@1.1.0", "demo-platform@1.2.0"):
        import_bundle(ref)
    reply = api.post("/api/sites", site_spec("lab", tmp_path / "root", 1))
    assert reply.status == 201
    return reply.json()


def test_refusals_carry_a_hint(ctx: Context, api: Api, lab: dict) -> None:
    def post(body: dict) -> tuple[int, dict]:
        reply = api.post("/api/runs", body)
        return reply.status, reply.json()

    status, body = post({"site": "nowhere", "bundle": "demo-platform", "version": "1.0.0"})
    assert status == 404 and "no site 'nowhere'" in body["error"] and "site list" in body["hint"]
    status, body = post({"site": "lab", "bundle": "nothing", "version": "1.0.0"})
    assert status == 404 and "Import the bundle first" in body["hint"]
    status, body = post({"site": "lab", "bundle": "demo-platform", "version": "9.9"})
    assert status == 404 and "1.0.0, 1.1.0, 1.2.0" in body["hint"]
    status, body = post(
        {"site": "lab", "bundle": "demo-platform", "version": "1.0.0", "action": "explode"}
    )
    assert status == 400 and "action" in body["error"]
    status, body = post(
        {"site": "lab", "bundle": "demo-platform", "version": "1.0.0", "force": True}
    )
    assert status == 400 and "unknown field(s): force" in body["error"]
    status, body = post(
        {"site": "lab", "bundle": "demo-platform", "version": "1.1.0", "action": "rollback"}
    )
    assert status == 422 and "no earlier run" in body["error"]

    # an upgrade upgrade_from does not allow: 422 with the reason; the hint names the versions
    record_installed(ctx, lab["id"], "1.1.0", "1.1.0")
    status, body = post({"site": "lab", "bundle": "demo-platform", "version": "1.0.0"})
    assert status == 422
    assert "cannot upgrade an existing installation (upgrade_from is empty)" in body["error"]
    record_installed(ctx, lab["id"], "0.9.0", "0.9.0")
    status, body = post(
        {"site": "lab", "bundle": "demo-platform", "version": "1.2.0", "action": "upgrade"}
    )
    assert status == 422 and "upgrades only from '1.0.*', '1.1.*', not from 0.9.0" in body["error"]
    assert "upgrades from 1.0.*, 1.1.*; the site has 0.9.0" in body["hint"]
    assert api.get("/api/runs").json() == []  # nothing was stored


def test_dry_run_plans_and_stores_nothing(ctx: Context, api: Api, lab: dict) -> None:
    record_installed(ctx, lab["id"], "1.1.0", "1.1.0")
    reply = api.post(
        "/api/runs",
        {"site": lab["id"], "bundle": "demo-platform", "version": "1.2.0", "dry_run": True},
    )
    assert reply.status == 200
    plan = reply.json()
    assert (plan["dry_run"], plan["id"], plan["action"]) == (True, None, "upgrade")
    assert [(s["idx"], s["name"], s["from_version"], s["to_version"]) for s in plan["plan"]] == [
        (1, "preflight", None, None),
        (2, "backup", None, None),
        (3, "db", "2", "3"),
        (4, "app", "1.1.0", "1.2.0"),
        (5, "verify", None, None),
    ]
    assert api.get("/api/runs").json() == []


@pytest.mark.slow
def test_busy_site_conflict_and_run_shape(
    ctx: Context, manager: RunManager, api: Api, slow_site
) -> None:
    reply = api.post("/api/runs", {"site": "slow", "bundle": "slow-platform", "version": "1.0.0"})
    assert reply.status == 201, reply.body
    run = reply.json()
    assert run["state"] in ("queued", "running") and len(run["plan"]) == 3
    poll(
        lambda: api.get(f"/api/runs/{run['id']}").json()["steps"][1]["state"] == "running",
        60,
        "the sleeper step",
    )

    busy = api.post("/api/runs", {"site": "slow", "bundle": "slow-platform", "version": "1.0.0"})
    assert busy.status == 409
    assert "busy" in busy.json()["error"]
    assert f"appliance cancel {run['id']}" in busy.json()["hint"]
    resume = api.post(f"/api/runs/{run['id']}/resume")
    assert (
        resume.status == 409 and "only a failed, cancelled or interrupted" in resume.json()["error"]
    )

    detail = api.get(f"/api/runs/{run['id']}").json()
    assert set(detail) >= {
        "id",
        "state",
        "action",
        "site",
        "bundle",
        "version",
        "trigger",
        "created_at",
        "started_at",
        "finished_at",
        "error",
        "hint",
        "steps",
        "hosts",
    }
    assert (detail["site"], detail["bundle"], detail["version"], detail["trigger"]) == (
        "slow",
        "slow-platform",
        "1.0.0",
        "manual",
    )
    assert set(detail["steps"][0]) == {
        "idx",
        "name",
        "kind",
        "component",
        "playbook",
        "from_version",
        "to_version",
        "state",
        "started_at",
        "finished_at",
        "rc",
    }
    assert detail["hosts"]["local"] == {
        "ok": 1,
        "changed": 0,
        "failed": 0,
        "unreachable": 0,
        "skipped": 0,
        "rescued": 0,
        "ignored": 0,
    }
    assert [r["id"] for r in api.get("/api/runs?site=slow&state=running").json()] == [run["id"]]
    assert api.get("/api/runs?state=succeeded").json() == []
    assert api.get("/api/runs?state=bogus").status == 400

    cancelled = api.post(f"/api/runs/{run['id']}/cancel")
    assert cancelled.status == 200 and cancelled.json()["state"] == "cancelled"
    assert api.post(f"/api/runs/{run['id']}/cancel").status == 409
    assert api.get("/api/runs/999").status == 404
