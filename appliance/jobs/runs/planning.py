"""A run planned from the store: the site, the bundle, what the site has installed, and the
plan (``plan.make_plan``, pure) over them. Used by the run manager before it starts a run, by
dry runs, exports and schedules, so each refuses exactly what a run would refuse."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.bundle import Manifest, parse_manifest
from appliance.errors import Unprocessable
from appliance.jobs.runs.operate import Operation, check_hosts
from appliance.jobs.runs.plan import Installed, Plan, make_plan, success_record
from appliance.jobs.sites import config
from appliance.store import bundles as bundle_rows
from appliance.store import runs as rows
from appliance.store import sites
from appliance.store.daytwo import drift_warnings
from appliance.store.rows import Bundle, Run, Site


@dataclass(frozen=True)
class PlannedRun:
    site: Site
    bundle: Bundle
    manifest: Manifest
    installed: dict[str, Installed]
    plan: Plan
    backup_run: int | None  # the run whose backup a rollback restores

    def to_json(self) -> dict[str, Any]:
        """The answer of a dry run (POST /api/runs with dry_run, ``appliance run --plan``)."""
        return {
            "dry_run": True,
            "id": None,
            "state": None,
            "action": self.plan.action,
            "site": self.site.name,
            "site_id": self.site.id,
            "bundle": self.manifest.name,
            "version": self.manifest.version,
            "backup_run": self.backup_run,
            "installed_version": self.plan.installed_version,
            "plan": self.plan.to_json(),
            # what the site's last status says differs from its records (day two)
            "warnings": drift_warnings(self.site.id),
        }


def plan_run(
    site: int | str,
    bundle: str,
    version: str,
    action: str | None,
    operation: Operation | None = None,
) -> PlannedRun:
    """Plan ``action`` (None: install or upgrade, from what the site has) of a bundle version on
    a site; NotFound / Unprocessable with the reason a run would get."""
    site_row = sites.find_site(site)
    if operation is not None:
        check_hosts(operation, [h["name"] for h in sites.site_hosts(site_row.id)])
    bundle_row = bundle_rows.find_bundle(bundle, version)
    manifest = read_manifest(bundle_row)
    installed = {
        r.component: Installed(r.version, r.bundle_name, r.bundle_version)
        for r in rows.installed_rows(site_row.id)
    }
    restore, backup_run = None, None
    if action == "rollback":
        backup = rows.latest_backup_run(site_row.id, manifest.name)
        if backup is not None:
            backup_run = backup.id
            restore = {
                name: Installed.from_json(info) for name, info in backup.installed_before.items()
            }
    changed = config.changed_components(site_row.id, manifest) if action == "reconfigure" else ()
    plan = make_plan(
        manifest, installed, action, restore=restore, operation=operation, reconfigure=changed
    )
    # a rollback restores what was, an operation starts or stops what is: neither waits for
    # values a newer declaration asks for
    if plan.action not in ("rollback", "operate"):
        config.check_ready(site_row.id, manifest)
    return PlannedRun(site_row, bundle_row, manifest, installed, plan, backup_run)


def success_for(run: Run) -> tuple[dict | None, str | None]:
    """What the run's plan records on success (``plan.success_record``, asked again: the run may
    have been planned by another process), and the bundle a rollback replaces."""
    bundle = bundle_rows.bundle_by_id(run.bundle_id)
    restore = None
    if run.action == "rollback" and run.backup_run_id is not None:
        before = rows.find_run(run.backup_run_id).installed_before
        restore = {name: Installed.from_json(info) for name, info in before.items()}
    record = success_record(read_manifest(bundle), run.action, restore)
    replace = bundle.name if restore is not None else None
    return {k: v.to_json() for k, v in record.items()} or None, replace


def read_manifest(bundle: Bundle) -> Manifest:
    path = Path(bundle.path, "bundle.yml")
    try:
        return parse_manifest(path.read_bytes())
    except OSError as e:
        raise Unprocessable(
            f"bundle {bundle.name} {bundle.version} is not readable at {path}",
            "Import the bundle again.",
        ) from e


def operation_bundle(site: int | str, component: str) -> tuple[str, str]:
    """The bundle name and version the site recorded for ``component`` (an operation runs the
    playbook of the installed version)."""
    site_row = sites.find_site(site)
    rows_by_name = {r.component: r for r in rows.installed_rows(site_row.id)}
    row = rows_by_name.get(component)
    if row is None:
        known = ", ".join(rows_by_name) or "none yet"
        raise Unprocessable(
            f"no component {component[:60]!r} is installed on site {site_row.name}",
            f"Installed components: {known}.",
        )
    return row.bundle_name, row.bundle_version
