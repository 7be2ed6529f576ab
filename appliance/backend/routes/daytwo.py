"""Day two: a site's status (refresh, last result, log), its attention and acknowledgements,
and service control (operations start runs with action operate)."""

from __future__ import annotations

from bottle import Bottle, HTTPResponse, request, response

from appliance.backend.http import json_body
from appliance.context import Context
from appliance.jobs.daytwo import attention, operations, status
from appliance.store import daytwo as status_rows
from appliance.store import sites


def register(app: Bottle, ctx: Context) -> None:
    limit = ctx.settings.max_body_bytes

    @app.get("/api/status")
    def statuses() -> list:
        """Every site's overall state (the Sites list)."""
        known = status_rows.all_statuses()
        out = []
        for site in sites.list_sites(limit=100_000):
            last = known.get(site["id"]) or {}
            out.append(
                {
                    "site": site["name"],
                    "site_id": site["id"],
                    "overall": last.get("overall", "unknown"),
                    "checked_at": last.get("checked_at"),
                    "attention": status_rows.attention(site["id"]),
                }
            )
        return out

    @app.get("/api/sites/<ref>/status")
    def last_status(ref: str) -> dict:
        return status.current(ref)

    @app.post("/api/sites/<ref>/status")
    def refresh_status(ref: str) -> dict:
        return status.refresh(ctx, ref)

    @app.get("/api/sites/<ref>/status/log")
    def status_log(ref: str) -> HTTPResponse:
        path = status.status_log(ctx, ref)
        return HTTPResponse(
            path.read_bytes(), status=200, headers={"Content-Type": "text/plain; charset=utf-8"}
        )

    @app.get("/api/sites/<ref>/attention")
    def site_attention(ref: str) -> dict:
        return attention.attention_of(ref)

    @app.post("/api/sites/<ref>/attention/ack")
    def acknowledge(ref: str) -> dict:
        return attention.acknowledge(ctx, ref, json_body(request, limit))

    @app.post("/api/sites/<ref>/operations")
    def operate(ref: str) -> dict:
        body = json_body(request, limit)
        dry = bool(request.query.get("dry_run"))
        run = operations.start_operation(ctx.services.get("runs"), ref, body, dry_run=dry)
        response.status = 200 if dry else 201
        return run
