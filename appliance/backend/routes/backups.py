"""A site's backups: list, delete (on the hosts and in the record). Rolling back to one is a
run: ``POST /api/runs`` with ``{"action": "rollback", "backup": <run id>}``; taking one is a run
with action ``backup``."""

from __future__ import annotations

from bottle import Bottle

from appliance.context import Context
from appliance.jobs.runs.backup_remove import delete_backup
from appliance.jobs.runs.backups import list_backups


def register(app: Bottle, ctx: Context) -> None:
    @app.get("/api/sites/<ref>/backups")
    def backups(ref: str) -> list:
        return list_backups(ref)

    @app.delete("/api/sites/<ref>/backups/<backup>")
    def delete(ref: str, backup: str) -> dict:
        return delete_backup(ctx, ref, backup)
