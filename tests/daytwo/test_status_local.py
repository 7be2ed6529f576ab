"""Day two on a local site, over real HTTP with real playbooks: install, status healthy; the
app killed, status stopped and the site degraded; a restart through the API, healthy again; a
failed upgrade sets attention and the version drift shows (status and plan preview);
acknowledging clears it (kept in the history)."""

from __future__ import annotations

import os
import signal

import pytest

from appliance.context import Context
from appliance.jobs.daytwo.service import StatusService
from appliance.jobs.runs.manager import RunManager
from tests.runs.conftest import LocalSite, site_spec
from tests.support.client import Api
from tests.support.local import poll


def hosts(status: dict) -> dict[str, tuple[str, str | None]]:
    return {
        c["component"]: (c["hosts"][0]["state"], c["hosts"][0]["version"])
        for c in status["components"]
    }


def run_to_end(api: Api, manager: RunManager, service: StatusService, body: dict) -> dict:
    reply = api.post("/api/runs", body)
    assert reply.status == 201, reply.json()
    run = manager.wait(reply.json()["id"], 300)
    assert service.wait_idle(180)  # the refresh that follows every run
    return run


@pytest.mark.slow
def test_status_kill_restart_failed_upgrade_attention(
    ctx: Context,
    manager: RunManager,
    status_service: StatusService,
    api: Api,
    import_bundle,
    tmp_path,
) -> None:
    for ref in ("demo-platform@1.1.0", "demo-platform@1.2.0"):
        import_bundle(ref)
    from tests.support.local import free_port

    site = LocalSite("lab", tmp_path / "root", free_port())
    assert api.post("/api/sites", site_spec("lab", site.root, site.port)).status == 201
    try:
        _scenario(ctx, manager, status_service, api, site)
    finally:
        from tests.support.local import kill_everything_under

        kill_everything_under(site.root)


def _scenario(
    ctx: Context, manager: RunManager, service: StatusService, api: Api, site: LocalSite
) -> None:
    never = api.get("/api/sites/lab/status").json()
    assert never == {
        "site": "lab",
        "checked_at": None,
        "overall": "unknown",
        "attention": None,
        "components": [],
    }
    install = {"site": "lab", "bundle": "demo-platform", "version": "1.1.0"}
    assert run_to_end(api, manager, service, install)["state"] == "succeeded"

    # refreshed after the run: healthy, every component's host running at the recorded version
    status = api.get("/api/sites/lab/status").json()
    assert status["overall"] == "healthy", status
    assert hosts(status) == {"db": ("running", "2"), "app": ("running", "1.1.0")}
    assert set(status) == {"site", "checked_at", "overall", "attention", "components"}
    app = status["components"][1]
    assert app["installed_version"] == "1.1.0"
    assert set(app["hosts"][0]) == {"host", "state", "version", "detail", "checked_at"}
    assert "pid" in app["hosts"][0]["detail"]

    # the app process killed: a refresh shows it stopped, the site degraded
    pid = int((site.root / "run" / "app.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    poll(lambda: not site.answers(), 30, "the app gone")
    reply = api.post("/api/sites/lab/status")
    assert reply.status == 200, reply.json()
    status = reply.json()
    assert hosts(status)["app"][0] == "stopped", status
    assert status["overall"] == "degraded"
    assert "not running" in status["components"][1]["hosts"][0]["detail"]
    assert api.get("/api/sites/lab/status").json()["overall"] == "degraded"
    log = api.get("/api/sites/lab/status/log")
    assert log.status == 200 and b"status of app" in log.body

    # restart through the API: a run with action operate; healthy again
    reply = api.post("/api/sites/lab/operations", {"component": "app", "operation": "restart"})
    assert reply.status == 201, reply.json()
    started = reply.json()
    assert started["action"] == "operate"
    assert [(s["kind"], s["name"]) for s in started["plan"]] == [("operation", "restart")]
    done = manager.wait(started["id"], 300)
    assert done["state"] == "succeeded", done["error"]
    assert [(s["kind"], s["name"], s["state"]) for s in done["steps"]] == [
        ("operation", "restart", "succeeded")
    ]
    assert "restart app" in ctx.paths.run_log(started["id"]).read_text()
    report = api.get(f"/api/runs/{started['id']}/report")
    assert report.status == 200, report.body[:300]
    assert service.wait_idle(180)
    assert site.health()["version"] == "1.1.0"
    status = api.get("/api/sites/lab/status").json()
    assert status["overall"] == "healthy", status
    assert status["attention"] is None

    # a failed upgrade: attention names the run; the db on disk went to schema 3 (drift)
    upgrade = {"site": "lab", "bundle": "demo-platform", "version": "1.2.0"}
    failed = run_to_end(api, manager, service, upgrade)
    assert failed["state"] == "failed"
    status = api.get("/api/sites/lab/status").json()
    assert status["attention"]["run"] == failed["id"]
    assert "upgrade of demo-platform 1.2.0" in status["attention"]["reason"]
    assert status["overall"] in ("degraded", "down")
    db = status["components"][0]
    assert (db["installed_version"], db["hosts"][0]["version"]) == ("2", "3")
    assert db["hosts"][0]["state"] == "degraded"
    assert "recorded db 2, host reports 3" in db["hosts"][0]["detail"]
    preview = api.post("/api/runs", {**upgrade, "dry_run": True}).json()
    assert any("recorded db 2, host reports 3" in w for w in preview["warnings"]), preview
    listed = {s["site"]: s for s in api.get("/api/status").json()}
    assert listed["lab"]["attention"]["run"] == failed["id"]

    # acknowledging clears it, with the reason kept
    reply = api.post("/api/sites/lab/attention/ack", {"reason": "db checked by hand"})
    assert reply.status == 200, reply.json()
    assert reply.json()["attention"] is None
    assert reply.json()["acknowledged"][0]["run"] == failed["id"]
    assert reply.json()["acknowledged"][0]["reason"] == "db checked by hand"
    assert api.get("/api/sites/lab/status").json()["attention"] is None
    again = api.post("/api/sites/lab/attention/ack", {"reason": "twice"})
    assert again.status == 409 and again.json()["hint"]
