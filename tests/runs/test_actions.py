"""GET /api/runs/<id> says which actions the run allows now, each refusal with its reason:
no rollback without a backup, no resume after the site moved on (a rollback, a new run).

The runs are rows made through the store's own writes from the real planner's plans of the real
demo bundles (running them would take minutes and change nothing here)."""

from __future__ import annotations

import os

from appliance.context import Context
from appliance.jobs.runs.planning import plan_run
from appliance.states import RunState, StepState
from appliance.store import runs as rows
from tests.runs.conftest import LocalSite
from tests.support.client import Api


def make_run(ctx: Context, version: str, action: str, ends: RunState | None) -> int:
    """A run of demo-platform VERSION as the run engine records it; steps up to the first
    component succeeded, that one failed (``ends`` FAILED), or all succeeded."""
    planned = plan_run("lab", "demo-platform", version, action)
    run_id = rows.create_run(
        ctx.store,
        site_id=planned.site.id,
        bundle_id=planned.bundle.id,
        action=planned.plan.action,
        plan=planned.plan.to_json(),
        trigger="manual",
        installed_before={k: v.to_json() for k, v in planned.installed.items()},
        backup_run_id=planned.backup_run,
        owner_pid=os.getpid(),
        owner_start=None,
    )
    if ends is None:
        return run_id  # queued: active
    rows.set_run_state(ctx.store, run_id, RunState.RUNNING, started_at=ctx.store.now())
    failing = True
    for step in rows.run_steps(run_id):
        state = StepState.SUCCEEDED
        if ends == RunState.FAILED and step.kind == "component" and failing:
            state, failing = StepState.FAILED, False
        elif ends == RunState.FAILED and not failing:
            state = StepState.PENDING
        rows.set_step(ctx.store, step.id, state=state)
    record = None
    if ends == RunState.SUCCEEDED:
        record = {
            c.name: {
                "version": c.version,
                "bundle_name": "demo-platform",
                "bundle_version": version,
            }
            for c in planned.manifest.components
        }
    rows.finish_run(ctx.store, run_id, ends, record=record)
    return run_id


def actions(api: Api, run_id: int) -> dict:
    reply = api.get(f"/api/runs/{run_id}")
    assert reply.status == 200, reply.body
    body = reply.json()
    assert set(body["actions"]).isdisjoint(body["refused"])
    return body


def test_actions_follow_what_can_work(
    ctx: Context, api: Api, import_bundle, local_site: LocalSite
) -> None:
    import_bundle("demo-platform@1.0.0")
    import_bundle("demo-platform@1.1.0")

    # a fresh install that failed: it resumes, but nothing was backed up to roll back to
    install = make_run(ctx, "1.0.0", "install", RunState.FAILED)
    got = actions(api, install)
    assert got["actions"] == ["resume", "report"]
    assert "no earlier run on this site took a backup" in got["refused"]["rollback"]
    assert "has ended" in got["refused"]["cancel"]

    # the install done properly: only its report (an install takes no backup)
    done = actions(api, make_run(ctx, "1.0.0", "install", RunState.SUCCEEDED))
    assert done["actions"] == ["report"]
    assert "only a failed, cancelled or interrupted run resumes" in done["refused"]["resume"]
    # an upgrade that backed up, then failed: both recoveries work
    upgrade = make_run(ctx, "1.1.0", "upgrade", RunState.FAILED)
    got = actions(api, upgrade)
    assert got["actions"] == ["resume", "rollback", "report"], got["refused"]
    assert "since" in actions(api, install)["refused"]["resume"]  # the site moved on

    # the rollback of that upgrade, while it is queued: only cancel
    rollback = make_run(ctx, "1.1.0", "rollback", None)
    got = actions(api, rollback)
    assert got["actions"] == ["cancel"]
    assert "still queued" in got["refused"]["rollback"]
    assert "once the run has ended" in got["refused"]["report"]

    # once it ran, the upgrade it rolled back can no longer resume
    rows.set_run_state(ctx.store, rollback, RunState.RUNNING, started_at=ctx.store.now())
    rows.finish_run(ctx.store, rollback, RunState.SUCCEEDED)
    got = actions(api, upgrade)
    assert "resume" not in got["actions"]
    assert "1 run(s) since" in got["refused"]["resume"]
    assert "changes nothing to roll back" in actions(api, rollback)["refused"]["rollback"]
