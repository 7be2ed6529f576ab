"""Runs: start (or plan), list, show, cancel, resume. The run manager does the work."""

from __future__ import annotations

from typing import Any

from bottle import Bottle, request, response

from appliance.backend.http import json_body, query_int
from appliance.context import Context
from appliance.errors import BadRequest, ServiceUnavailable
from appliance.jobs.runs.actions import run_actions
from appliance.jobs.runs.plan import ACTIONS
from appliance.states import RunState
from appliance.store import run_links, sites
from appliance.store import runs as rows
from appliance.validate import Field, expect_object

RUN_FIELDS = {
    "site": Field((str, int), required=True),
    "bundle": Field(str, required=True, check=lambda v: None if v.strip() else "is empty"),
    "version": Field(str, required=True, check=lambda v: None if v.strip() else "is empty"),
    "action": Field(str, check=lambda v: None if v in ACTIONS else f"must be one of {ACTIONS}"),
    "dry_run": Field(bool),
}


def parse_run_request(data: Any) -> dict[str, Any]:
    return expect_object(data, "run", RUN_FIELDS)


def register(app: Bottle, ctx: Context) -> None:
    def manager() -> Any:
        runs = ctx.services.get("runs")
        if runs is None:
            raise ServiceUnavailable(
                "the run engine is not running", "Restart the appliance (appliance serve)."
            )
        return runs

    @app.post("/api/runs")
    def start_run() -> dict:
        body = parse_run_request(json_body(request, ctx.settings.max_body_bytes))
        result = manager().start_run(
            body["site"],
            body["bundle"],
            body["version"],
            body.get("action"),
            dry_run=body.get("dry_run", False),
        )
        response.status = 200 if body.get("dry_run") else 201
        return result

    @app.get("/api/runs")
    def list_runs() -> list:
        site = request.query.get("site") or None
        state = request.query.get("state") or None
        if state is not None and state not in {s.value for s in RunState}:
            raise BadRequest(
                f"state={state!r} is not a run state",
                f"Use one of: {', '.join(s.value for s in RunState)}.",
            )
        found = rows.list_runs(
            site=sites.find_site(site).id if site is not None else None,
            state=state,
            limit=query_int(request, "limit", 100, 1, 100_000),
            offset=query_int(request, "offset", 0),
        )
        undone = run_links.rolled_back_by(r["id"] for r in found)
        return [{**r, "rolled_back_by": undone.get(r["id"], [])} for r in found]

    @app.get("/api/runs/<run_id>")
    def get_run(run_id: str) -> dict:
        run = rows.get_run(run_id)
        undone = run_links.rolled_back_by([run["id"]]).get(run["id"], [])
        return {**run, **run_actions(run_id), "rolled_back_by": undone}

    @app.post("/api/runs/<run_id>/cancel")
    def cancel_run(run_id: str) -> dict:
        return manager().cancel(run_id)

    @app.post("/api/runs/<run_id>/resume")
    def resume_run(run_id: str) -> dict:
        return manager().resume(run_id)
