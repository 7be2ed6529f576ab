"""A site's backups: recorded when a run's backup stage succeeds (an upgrade, or a run with
action ``backup``), listed, chosen for a rollback (with the reason when one cannot be), deleted
(``backup_remove.py``) and kept to the newest ``keep_backups_per_site`` after each backup.

A backup stage may report what it wrote with ``set_stats`` (``per_host: false``), key
``appliance_backup``: ``{"<host>": {"path", "size_bytes", "components"}}`` (components: names,
comma-separated or a list); a stage that reports nothing is still listed, without those details.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Mapping
from typing import Any

from appliance.bundle import Manifest
from appliance.context import Context
from appliance.errors import ApplianceError, BadRequest, Unprocessable
from appliance.jobs.ansible.customstats import host_records
from appliance.states import RunState, StepState
from appliance.store import backups as rows
from appliance.store import bundles as bundle_rows
from appliance.store import runs as run_rows
from appliance.store import sites
from appliance.store.rows import Run, Site

logger = logging.getLogger(__name__)

STATS_KEY = "appliance_backup"
BACKUP = "backup"  # the run action that runs the bundle's backup stage alone
MAX_PATH = 1000


def record_step(store: Any, run: Run, kind: str, state: str, custom: Mapping[str, Any]) -> None:
    """After a step: a succeeded backup stage records the run's backup."""
    if kind != "backup" or state != StepState.SUCCEEDED:
        return
    bundle = bundle_rows.bundle_by_id(run.bundle_id)
    reports = host_records(custom, STATS_KEY)
    hosts = {host: _host_info(records[0]) for host, records in reports.items()}
    reported = sorted({c for info in hosts.values() for c in info["components"]})
    before = [n for n, i in run.installed_before.items() if i.get("bundle_name") == bundle.name]
    rows.record_backup(store, run, (bundle.name, bundle.version), hosts, reported or before)


def _host_info(record: Mapping[str, str]) -> dict[str, Any]:
    size = record.get("size_bytes", "")
    return {
        "path": record.get("path", "")[:MAX_PATH] or None,
        "size_bytes": int(size) if size.isdigit() else None,
        "components": _names(record.get("components", "")),
    }


def _names(text: str) -> list[str]:
    """``db,app`` or a list (host_records made it the text ``['db', 'app']``)."""
    if text.startswith("["):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = []
        return [str(v)[:100] for v in value][:100] if isinstance(value, list) else []
    return [n.strip()[:100] for n in text.split(",") if n.strip()][:100]


def list_backups(site_ref: int | str) -> list[dict[str, Any]]:
    """The site's backups, newest first, with the versions each holds (what the site had
    installed when it was taken)."""
    site = sites.find_site(site_ref)
    out = []
    for row in rows.site_backups(site.id):
        item = rows.backup_to_json(row, site.name)
        before = run_rows.find_run(row.run_id)
        item["action"] = before.action
        item["versions"] = {
            name: info.get("version")
            for name, info in before.installed_before.items()
            if info.get("bundle_name") == row.bundle_name
        }
        out.append(item)
    return out


def chosen_backup(site: Site, manifest: Manifest, action: str | None, backup: Any) -> Run:
    """The run whose backup a rollback restores, asked for by id; refused (4xx with a hint)
    when it is unknown, deleted, another site's or another bundle's."""
    if action != "rollback":
        raise BadRequest(
            "a backup is chosen only for action rollback",
            'Send {"action": "rollback", "backup": <run id>}, or leave out "backup".',
        )
    if isinstance(backup, bool) or not isinstance(backup, int) or backup < 1:
        raise BadRequest("backup must be a run id (a positive integer)", _list_hint(site))
    row = rows.find_backup(backup)
    if row.site_id != site.id:
        raise Unprocessable(
            f"backup {backup} belongs to another site, not to {site.name}",
            _list_hint(site),
        )
    if row.deleted_at is not None:
        raise Unprocessable(
            f"backup {backup} of site {site.name} was deleted ({row.deleted_at})",
            "Choose a backup that is still listed. " + _list_hint(site),
        )
    if row.bundle_name != manifest.name:
        raise Unprocessable(
            f"backup {backup} was taken by {row.bundle_name}, not {manifest.name}: "
            f"{manifest.name} cannot restore it",
            f"Roll back with {row.bundle_name} (the backup's bundle: {row.bundle_version}).",
        )
    run = run_rows.find_run(backup)
    if not any(i.get("bundle_name") == manifest.name for i in run.installed_before.values()):
        raise Unprocessable(
            f"backup {backup} was taken before anything of {manifest.name} was installed",
            "There is nothing in it to roll back to; choose a later backup.",
        )
    return run


def latest_refusal(site: Site, backup_run: int | None) -> None:
    """The rollback of a failed run restores the latest backup; refused if it was deleted."""
    if backup_run is not None and backup_run in rows.deleted_backup_runs(site.id):
        raise Unprocessable(
            f"the latest backup of site {site.name} (run {backup_run}) was deleted",
            "Choose another backup to roll back to. " + _list_hint(site),
        )


def _list_hint(site: Site) -> str:
    return f"List the backups of the site: `appliance backups {site.name}`."


def apply_retention(ctx: Context, run: Mapping[str, Any]) -> list[int]:
    """A run listener: after a run that took a backup (succeeded, or failed at a later step:
    its backup is the one a rollback needs), the site keeps its newest ``keep_backups_per_site``
    backups (0: all); older ones are deleted on the hosts and in the record. Not after a
    cancelled or interrupted run (the appliance may be stopping). A deletion that fails is
    logged and tried again after the next backup."""
    from appliance.jobs.runs.backup_remove import delete_backup

    keep = int(ctx.settings.keep_backups_per_site)
    if run.get("state") not in (RunState.SUCCEEDED, RunState.FAILED) or keep < 1:
        return []
    site_id = run.get("site_id")
    found = rows.site_backups(site_id) if site_id is not None else []
    if not any(b.run_id == run.get("id") for b in found):
        return []
    deleted = []
    for old in found[keep:]:
        try:
            delete_backup(ctx, site_id, old.run_id)
        except ApplianceError as e:
            logger.warning("retention: backup %d of site %s kept: %s", old.run_id, site_id, e)
            continue
        deleted.append(old.run_id)
    if deleted:
        logger.info("retention: deleted backups %s of site %s", deleted, site_id)
    return deleted
