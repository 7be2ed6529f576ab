"""Backups in the store: one row per run whose backup stage succeeded, named by that run (its
``backup_id`` is ``run-<N>``), with what each host reported; a deleted backup keeps its row
(``deleted_at``) so a rollback to it is refused with the reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from peewee import CharField, ForeignKeyField

from appliance.errors import NotFound
from appliance.store import Store
from appliance.store.models import BaseModel, Bundle, JSONField, Run, RunStep, Site


class Backup(BaseModel):
    run = ForeignKeyField(Run, primary_key=True, on_delete="CASCADE")
    site = ForeignKeyField(Site, on_delete="CASCADE")
    bundle_name = CharField()
    bundle_version = CharField()
    created_at = CharField()
    hosts = JSONField(default=dict)  # {host: {"path", "size_bytes", "components"}}
    components = JSONField(default=list)
    deleted_at = CharField(null=True)


def record_backup(
    store: Store,
    run: Run,
    bundle: tuple[str, str],
    hosts: Mapping[str, Mapping[str, Any]],
    components: Sequence[str],
) -> None:
    """The run's backup (a resumed run that backs up again replaces its row)."""

    def write() -> None:
        (
            Backup.insert(
                run=run.id,
                site=run.site_id,
                bundle_name=bundle[0],
                bundle_version=bundle[1],
                created_at=store.now(),
                hosts=dict(hosts),
                components=list(components),
            )
            .on_conflict_replace()
            .execute()
        )

    store.write(write)


def site_backups(site_id: int, *, deleted: bool = False) -> list[Backup]:
    """The site's backups, newest first (``deleted``: the deleted ones too)."""
    query = Backup.select().where(Backup.site == site_id)
    if not deleted:
        query = query.where(Backup.deleted_at.is_null())
    return list(query.order_by(Backup.run.desc()))


def find_backup(run_id: int) -> Backup:
    row = Backup.get_or_none(Backup.run == run_id)
    if row is None:
        raise NotFound(
            f"no backup {run_id}: no run with that id took a backup",
            "List the site's backups: GET /api/sites/<site>/backups or `appliance backups SITE`.",
        )
    return row


def deleted_backup_runs(site_id: int) -> set[int]:
    query = Backup.select(Backup.run).where(
        (Backup.site == site_id) & Backup.deleted_at.is_null(False)
    )
    return {row.run_id for row in query}


def mark_deleted(store: Store, run_id: int) -> None:
    def write() -> None:
        Backup.update(deleted_at=store.now()).where(Backup.run == run_id).execute()

    store.write(write)


def backup_to_json(row: Backup, site: str) -> dict[str, Any]:
    hosts = [{"host": name, **info} for name, info in sorted(row.hosts.items())]
    sizes = [h.get("size_bytes") for h in hosts]
    known = [s for s in sizes if isinstance(s, int)]
    return {
        "id": row.run_id,
        "run": row.run_id,
        "backup_id": f"run-{row.run_id}",
        "site": site,
        "bundle": row.bundle_name,
        "version": row.bundle_version,
        "created_at": row.created_at,
        "hosts": hosts,
        "components": list(row.components),
        # the sum of what the hosts reported; None when none reported a size
        "size_bytes": sum(known) if known else None,
        "deleted_at": row.deleted_at,
    }


def latest_backup_run(site_id: int, bundle_name: str) -> Run | None:
    """The site's latest run of ``bundle_name`` that completed a backup step before changing
    the site (an upgrade; a run with action backup is restored only when chosen by id)."""
    return (
        Run.select()
        .join(RunStep)
        .switch(Run)
        .join(Bundle)
        .where(
            (Run.site == site_id)
            & (RunStep.kind == "backup")
            & (RunStep.state == "succeeded")
            & (Run.action != "backup")
            & (Bundle.name == bundle_name)
        )
        .order_by(Run.id.desc())
        .first()
    )
