"""Day two in the store: each site's last status, and the acknowledgements of a failed run
that marked the site as needing attention (kept as history)."""

from __future__ import annotations

from typing import Any

from peewee import CharField, ForeignKeyField, IntegerField, TextField

from appliance.states import ACTIVE, RESUMABLE
from appliance.store import Store
from appliance.store.models import BaseModel, Bundle, JSONField, Run, Site

# Runs that change a site: one of these that failed, was cancelled or interrupted marks the site
# as needing attention until a later one succeeds or someone acknowledges it (a check does not).
# the runs whose failure a site needs attention for: the changing ones, and a backup (a
# failed one leaves the site without the copy the engineer asked for); never a check
ATTENTION_ACTIONS = ("install", "upgrade", "rollback", "operate", "reconfigure", "backup")
MAX_REASON = 500
MAX_ACKS = 50  # listed per site


class SiteStatus(BaseModel):
    site = ForeignKeyField(Site, primary_key=True, on_delete="CASCADE")
    checked_at = CharField()
    result = JSONField()


class AttentionAck(BaseModel):
    site = ForeignKeyField(Site, on_delete="CASCADE")
    run_id = IntegerField()
    reason = TextField()
    created_at = CharField()


def save_status(store: Store, site_id: int, result: dict[str, Any]) -> None:
    def write() -> None:
        (
            SiteStatus.insert(site=site_id, checked_at=result["checked_at"], result=result)
            .on_conflict_replace()
            .execute()
        )

    store.write(write)


def last_status(site_id: int) -> dict[str, Any] | None:
    row = SiteStatus.get_or_none(SiteStatus.site == site_id)
    return row.result if row is not None else None


def all_statuses() -> dict[int, dict[str, Any]]:
    return {row.site_id: row.result for row in SiteStatus.select()}


def active_run_id(site_id: int) -> int | None:
    run = Run.select(Run.id).where((Run.site == site_id) & (Run.state.in_(ACTIVE))).first()
    return run.id if run is not None else None


def attention_run(site_id: int) -> Run | None:
    """The site's last run of ATTENTION_ACTIONS when it did not succeed and nobody acked it."""
    last = (
        Run.select()
        .where((Run.site == site_id) & Run.action.in_(ATTENTION_ACTIONS) & Run.state.not_in(ACTIVE))
        .order_by(Run.id.desc())
        .first()
    )
    if last is None or last.state not in RESUMABLE:
        return None
    acked = AttentionAck.get_or_none(
        (AttentionAck.site == site_id) & (AttentionAck.run_id == last.id)
    )
    return None if acked is not None else last


def attention(site_id: int) -> dict[str, Any] | None:
    """``{"reason", "run", "action", "state"}`` while the site needs attention, else None."""
    run = attention_run(site_id)
    if run is None:
        return None
    bundle = Bundle.get_by_id(run.bundle_id)
    what = f"{run.action} of {bundle.name} {bundle.version} (run {run.id}) {run.state}"
    reason = f"{what}: {run.error}" if run.error else what
    return {"reason": reason[:MAX_REASON], "run": run.id, "action": run.action, "state": run.state}


def acknowledge(store: Store, site_id: int, run_id: int, reason: str) -> dict[str, Any]:
    def write() -> dict[str, Any]:
        row = AttentionAck.create(
            site=site_id, run_id=run_id, reason=reason[:MAX_REASON], created_at=store.now()
        )
        return ack_to_json(row)

    return store.write(write)


def acknowledgements(site_id: int) -> list[dict[str, Any]]:
    query = (
        AttentionAck.select()
        .where(AttentionAck.site == site_id)
        .order_by(AttentionAck.id.desc())
        .limit(MAX_ACKS)
    )
    return [ack_to_json(row) for row in query]


def ack_to_json(row: AttentionAck) -> dict[str, Any]:
    return {"run": row.run_id, "reason": row.reason, "at": row.created_at}


def drift_warnings(site_id: int) -> list[str]:
    """``"<host>: recorded db 2, host reports 3"`` for every host whose last status reported a
    version other than the one recorded (the plan preview shows them)."""
    result = last_status(site_id) or {}
    out = []
    for component in result.get("components", []):
        recorded = component.get("installed_version")
        for host in component.get("hosts", []):
            version = host.get("version")
            if version and recorded and version != recorded:
                out.append(
                    f"{host['host']}: recorded {component['component']} {recorded}, "
                    f"host reports {version} (status of {result.get('checked_at')})"
                )
    return out
