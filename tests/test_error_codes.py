"""Errors answer with a stable code and its params next to the English error and hint (the
page words coded errors in its own language; the CLI keeps the English): the common ones
through the real server, plan refusals through POST /api/runs with dry_run."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.context import Context
from appliance.errors import ApplianceError, Conflict, NotFound
from appliance.jobs.runs.manager import RunManager
from appliance.store import runs, sites
from tests.support.client import Api
from tests.support.planned import fake_bundle, installed

SITE = {
    "name": "lab",
    "hosts": [{"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}],
}


def coded(reply: Any, status: int, code: str) -> dict[str, Any]:
    body = reply.json()
    assert reply.status == status, body
    assert set(body) == {"error", "hint", "code", "params"}, body
    assert body["code"] == code, body
    assert body["error"] and body["hint"], body  # the English stays for CLI and API users
    return body["params"]


def test_common_errors_carry_codes(api: Api) -> None:
    assert coded(api.get("/api/runs/4711"), 404, "not_found.run") == {"id": "4711"}
    assert coded(api.get("/api/sites/nowhere"), 404, "not_found.site") == {"name": "nowhere"}
    assert coded(api.get("/api/nothing-here"), 404, "request.no_path") == {}
    assert coded(api.get("/api/sites", token=False), 401, "auth.token") == {}
    params = coded(api.post("/api/sites", {"hosts": []}), 400, "invalid.required")
    assert params == {"field": "site.name"}
    params = coded(api.post("/api/sites", {**SITE, "color": "red"}), 400, "invalid.unknown_fields")
    assert params["fields"] == "color"
    assert api.post("/api/sites", SITE).status == 201
    params = coded(api.post("/api/sites", SITE), 409, "site.exists")
    assert params == {"name": "lab"}


@pytest.fixture
def runs_api(ctx: Context, api: Api) -> Api:
    ctx.services["runs"] = RunManager(ctx).start()  # POST /api/runs needs the run engine
    assert api.post("/api/sites", SITE).status == 201
    return api


def plan(api: Api, version: str, action: str) -> Any:
    body = {"site": "lab", "bundle": "demo-platform", "version": version, "action": action}
    return api.post("/api/runs", {**body, "dry_run": True})


def test_plan_refusals_carry_codes(ctx: Context, runs_api: Api) -> None:
    fake_bundle(ctx, "1.1.0")
    params = coded(plan(runs_api, "1.1.0", "upgrade"), 422, "plan.nothing_installed")
    assert params == {"bundle": "demo-platform", "target": "demo-platform 1.1.0"}
    params = coded(plan(runs_api, "1.1.0", "rollback"), 422, "plan.no_rollback_stage")
    assert params == {"bundle": "demo-platform", "version": "1.1.0"}
    installed(ctx, "lab", "0.9.0")
    params = coded(plan(runs_api, "1.1.0", "upgrade"), 422, "plan.upgrade_refused")
    assert params == {"target": "demo-platform 1.1.0", "from": "1.0.*, 1.1.*", "current": "0.9.0"}
    params = coded(plan(runs_api, "1.1.0", "install"), 422, "plan.installed_already")
    assert params["current"] == "0.9.0"
    params = coded(plan(runs_api, "9.9.9", "install"), 404, "not_found.bundle")
    assert params == {"name": "demo-platform", "version": "9.9.9"}


def test_codes_are_checked_and_params_bounded() -> None:
    with pytest.raises(ValueError):
        NotFound("x", code="Not A Code")
    body = ApplianceError("x", code="internal.bug", params={"long": "y" * 2000, "n": 3}).to_json()
    assert body["params"]["n"] == 3
    assert len(body["params"]["long"]) < 100


def test_a_busy_site_names_its_active_run(ctx: Context, api: Api) -> None:
    """The second run on a site while the first is queued: site.busy with the active run."""
    assert api.post("/api/sites", SITE).status == 201
    bundle = fake_bundle(ctx, "1.1.0")
    fields = {
        "site_id": sites.find_site("lab").id,
        "bundle_id": bundle["id"],
        "action": "install",
        "plan": [],
        "trigger": "manual",
        "installed_before": {},
        "backup_run_id": None,
        "owner_pid": 1,
        "owner_start": None,
    }
    first = runs.create_run(ctx.store, **fields)
    with pytest.raises(Conflict) as refused:
        runs.create_run(ctx.store, **fields)
    body = refused.value.to_json()
    assert body["code"] == "site.busy" and body["params"] == {"run": first}
    assert f"appliance cancel {first}" in body["hint"]  # the CLI's hint names its commands
