"""/api/schedules: unattended runs in maintenance windows (see docs/api.md)."""

from __future__ import annotations

from bottle import Bottle, request, response

from appliance.backend.http import json_body
from appliance.clock import available_zones, local_zone_name
from appliance.context import Context
from appliance.errors import BadRequest
from appliance.jobs.schedules.service import Scheduler
from appliance.validate import Field, expect_object

ENABLE_FIELDS = {"enabled": Field(bool, required=True)}
ACK_FIELDS = {"ids": Field(list)}


def _scheduler(ctx: Context) -> Scheduler:
    """The running service; without one (a bare server in tests) an unstarted one that still
    validates, stores and lists, and leaves the starting of runs to a serving process."""
    service = ctx.services.get("scheduler")
    return service if service is not None else Scheduler(ctx, ctx.services.get("runs"))


def register(app: Bottle, ctx: Context) -> None:
    limit = ctx.settings.max_body_bytes

    @app.get("/api/schedules")
    def list_schedules() -> dict:
        return _scheduler(ctx).overview()

    @app.post("/api/schedules")
    def add_schedule() -> dict:
        created = _scheduler(ctx).add(json_body(request, limit))
        response.status = 201
        return created

    @app.get("/api/schedules/<schedule_id:int>")
    def get_schedule(schedule_id: int) -> dict:
        return _scheduler(ctx).get(schedule_id)

    @app.put("/api/schedules/<schedule_id:int>")
    def edit_schedule(schedule_id: int) -> dict:
        return _scheduler(ctx).edit(schedule_id, json_body(request, limit))

    @app.get("/api/timezones")
    def timezones() -> dict:
        """The tz database's zone names (for the pickers) and this computer's zone."""
        return {"zones": list(available_zones()), "local": local_zone_name()}

    @app.route("/api/schedules/<schedule_id:int>", method="PATCH")
    def change_schedule(schedule_id: int) -> dict:
        body = expect_object(json_body(request, limit), "schedule", ENABLE_FIELDS)
        return _scheduler(ctx).set_enabled(schedule_id, body["enabled"])

    @app.delete("/api/schedules/<schedule_id:int>")
    def delete_schedule(schedule_id: int) -> dict:
        return _scheduler(ctx).delete(schedule_id)

    @app.post("/api/schedules/acknowledge")
    def acknowledge() -> dict:
        body = expect_object(json_body(request, limit), "acknowledge", ACK_FIELDS)
        ids = body.get("ids")
        if ids is not None and not all(type(i) is int for i in ids):
            raise BadRequest(
                "acknowledge.ids must be a list of occurrence ids",
                'Send {"ids": [1, 2]}, or {} to acknowledge every missed occurrence.',
            )
        return _scheduler(ctx).acknowledge(ids)
