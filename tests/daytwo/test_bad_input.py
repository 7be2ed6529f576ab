"""Day two refuses bad input with a 4xx and a hint, and runs nothing: an unknown component or
operation, a host the site does not have, a site without day-two declarations, a refresh or an
operation while a run is active."""

from __future__ import annotations

import pytest

from appliance.context import Context
from appliance.jobs.runs.manager import RunManager
from appliance.store import runs as rows
from tests.runs.conftest import site_spec
from tests.support.client import Api
from tests.support.local import poll


def record(ctx: Context, site_id: int, bundle: str, version: str, parts: dict) -> None:
    installed = {
        c: {"version": v, "bundle_name": bundle, "bundle_version": version}
        for c, v in parts.items()
    }
    ctx.store.write(rows.record_installed, site_id, None, installed, ctx.store.now())


@pytest.fixture
def lab(ctx: Context, manager: RunManager, api: Api, import_bundle, tmp_path) -> dict:
    import_bundle("demo-platform@1.1.0")
    import_bundle("slow-platform@1.0.0")
    reply = api.post("/api/sites", site_spec("lab", tmp_path / "root", 1))
    assert reply.status == 201
    return reply.json()


def refused(reply, status: int, text: str) -> None:
    body = reply.json()
    assert reply.status == status, body
    assert text in body["error"], body
    assert body["hint"]


def test_refusals_run_nothing(ctx: Context, api: Api, lab: dict) -> None:
    op = "/api/sites/lab/operations"
    # nothing installed: no declarations to run
    refused(api.post("/api/sites/lab/status"), 422, "declares a status playbook")
    refused(api.post(op, {"component": "app", "operation": "stop"}), 422, "no component 'app'")
    refused(api.get("/api/sites/lab/status/log"), 404, "no status log")
    refused(api.post("/api/sites/nowhere/status"), 404, "no site 'nowhere'")

    # a bundle without day-two declarations installed (slow-platform)
    record(ctx, lab["id"], "slow-platform", "1.0.0", {"sleeper": "1.0.0"})
    refused(api.post("/api/sites/lab/status"), 422, "declares a status playbook")
    refused(
        api.post(op, {"component": "sleeper", "operation": "start"}),
        422,
        "declares no operations for any component",
    )

    record(ctx, lab["id"], "demo-platform", "1.1.0", {"db": "2", "config": "1.0.0", "app": "1.1.0"})
    refused(api.post(op, {"component": "nope", "operation": "stop"}), 422, "no component 'nope'")
    refused(api.post(op, {"component": "app", "operation": "reload"}), 400, "unknown operation")
    refused(api.post(op, {"component": "db", "operation": "stop"}), 422, "no operations for")
    refused(
        api.post(op, {"component": "app", "operation": "stop", "hosts": ["elsewhere"]}),
        400,
        "no host 'elsewhere'",
    )
    refused(api.post(op, {"component": "app"}), 400, "operation")
    refused(api.post(op, {"component": "app", "operation": "stop", "x": 1}), 400, "unknown")
    refused(api.post(op, ["app"]), 400, "operation")
    refused(api.post("/api/sites/lab/attention/ack", {"reason": "x"}), 409, "needs no attention")
    refused(api.post("/api/sites/lab/attention/ack", {"reason": " "}), 400, "reason is empty")
    assert api.get("/api/runs").json() == []  # nothing was started
    assert not (ctx.paths.root / "status" / str(lab["id"]) / "status.log").exists()


@pytest.mark.slow
def test_refresh_and_operation_during_a_run(ctx: Context, api: Api, lab: dict, tmp_path) -> None:
    record(ctx, lab["id"], "demo-platform", "1.1.0", {"db": "2", "config": "1.0.0", "app": "1.1.0"})
    reply = api.post("/api/runs", {"site": "lab", "bundle": "slow-platform", "version": "1.0.0"})
    assert reply.status == 201, reply.json()
    run = reply.json()
    try:
        refused(api.post("/api/sites/lab/status"), 409, f"run {run['id']} is active")
        refused(
            api.post("/api/sites/lab/operations", {"component": "app", "operation": "stop"}),
            409,
            "busy",
        )
        assert [r["id"] for r in api.get("/api/runs").json()] == [run["id"]]
        assert api.get("/api/sites/lab/status").json()["checked_at"] is None
    finally:
        api.post(f"/api/runs/{run['id']}/cancel")
        poll(lambda: api.get(f"/api/runs/{run['id']}").json()["state"] == "cancelled", 60, "cancel")


def test_a_locked_credentials_key_answers_423(ctx: Context, api: Api, lab: dict) -> None:
    from appliance.store import credential_key

    credential_key.create_key(ctx.paths.root, "passphrase", "correct horse battery staple")
    assert api.post("/api/credentials/unlock", {"passphrase": "correct horse battery staple"})
    path = f"/api/sites/{lab['id']}/credentials"
    assert api.request("PUT", path, {"password": "s3cret-Pa55"}).status == 200
    assert api.post("/api/credentials/lock").json()["locked"] is True
    record(ctx, lab["id"], "demo-platform", "1.1.0", {"db": "2", "config": "1.0.0", "app": "1.1.0"})
    locked = api.post("/api/sites/lab/status")
    assert locked.status == 423, locked.json()
    assert "Unlock the credentials" in locked.json()["hint"]
    assert api.get("/api/sites/lab/status").json()["checked_at"] is None
