"""Deleting a backup: on the hosts, then in the record.

A bundle's backup stage reports where each host's backup is (``appliance_backup``: ``path``);
the appliance removes exactly those paths with a small playbook it carries (``PLAYBOOK``,
written next to the step, run like a status step through ``runner.run_step``: the site's
inventory and credentials, no run row). A host that reported no path keeps whatever the bundle
wrote there (the answer names it); the folder the appliance gave hosts on its own machine
(``<data>/backups/<site>/<run>``) is removed by the appliance itself. Refused while a run is
active on the site; when a host cannot remove its copy the backup stays listed (delete again).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path, PurePosixPath
from typing import Any

from appliance.ansible_env import local_remote_temp
from appliance.bundle import remove_tree
from appliance.context import Context
from appliance.errors import Conflict, Unprocessable
from appliance.jobs.ansible import cores, hostkeys
from appliance.jobs.ansible.secrets import runner_secrets
from appliance.jobs.runs import processes
from appliance.jobs.runs.log import RunLog
from appliance.jobs.runs.runner import StepSpec, run_step
from appliance.jobs.runs.workspace import envvars, site_core, site_inventory
from appliance.store import backups as rows
from appliance.store import credentials, sites
from appliance.store.daytwo import active_run_id
from appliance.validate import SQLITE_INT_MAX

logger = logging.getLogger(__name__)

PLAYBOOK_NAME = "remove-backup.yml"
PLAYBOOK = """\
# Written by the appliance: removes the backup each host reported (appliance_backup_paths).
- name: appliance removes backup {{ appliance_backup_id }}
  hosts: all
  gather_facts: false
  tasks:
    - name: Remove {{ appliance_backup_paths[inventory_hostname] | default('nothing') }}
      ansible.builtin.file:
        path: "{{ appliance_backup_paths[inventory_hostname] }}"
        state: absent
      when: inventory_hostname in appliance_backup_paths
"""
TIMEOUT_SECONDS = 600
_lock = threading.Lock()  # one deletion at a time (they are rare and short)


def safe_path(path: Any) -> bool:
    """A reported path worth removing: absolute, no ``..``, at least two levels deep."""
    if not isinstance(path, str) or not path.startswith("/") or "\n" in path:
        return False
    parts = PurePosixPath(path).parts
    return ".." not in parts and len(parts) >= 3


def delete_backup(ctx: Context, site_ref: int | str, run_id: Any) -> dict[str, Any]:
    """Remove the backup ``run_id`` of a site on its hosts and mark it deleted."""
    site = sites.find_site(site_ref)
    row = _deletable(site, run_id)
    with _lock:
        _refuse_busy(site)
        paths = {h: i.get("path") for h, i in row.hosts.items() if safe_path(i.get("path"))}
        known = {h["name"] for h in sites.site_hosts(site.id)}
        paths = {h: p for h, p in paths.items() if h in known}
        if paths:
            _remove_on_hosts(ctx, site, row.run_id, paths)
        remove_tree(ctx.paths.backups / site.name / str(row.run_id))
        rows.mark_deleted(ctx.store, row.run_id)
    kept = sorted(known - set(paths))
    return {
        "deleted": row.run_id,
        "site": site.name,
        "removed": [{"host": h, "path": p} for h, p in sorted(paths.items())],
        # hosts whose backup stage reported no path: their copy (if any) is not touched
        "not_reported": kept,
    }


def _deletable(site: Any, run_id: Any) -> Any:
    if isinstance(run_id, str) and run_id.isascii() and run_id.isdigit() and len(run_id) <= 18:
        run_id = int(run_id)
    if isinstance(run_id, bool) or not isinstance(run_id, int) or not 0 < run_id <= SQLITE_INT_MAX:
        raise Unprocessable(
            f"{str(run_id)[:40]!r} is not a backup id (the run id that took it)",
            f"List the backups: `appliance backups {site.name}`.",
        )
    row = rows.find_backup(run_id)
    if row.site_id != site.id:
        raise Unprocessable(
            f"backup {run_id} belongs to another site, not to {site.name}",
            f"List the backups: `appliance backups {site.name}`.",
        )
    if row.deleted_at is not None:
        raise Unprocessable(
            f"backup {run_id} of site {site.name} was deleted already ({row.deleted_at})",
            "Nothing to do.",
        )
    return row


def _refuse_busy(site: Any) -> None:
    busy = active_run_id(site.id)
    if busy is not None:
        raise Conflict(
            f"run {busy} is active on site {site.name}; a backup is not deleted during a run",
            f"Wait for run {busy} to end, then delete the backup.",
        )


def _remove_on_hosts(ctx: Context, site: Any, run_id: int, paths: dict[str, str]) -> None:
    folder = ctx.paths.backups / ".remove" / f"{site.id}-{run_id}"
    project = folder / "project"
    project.mkdir(parents=True, exist_ok=True, mode=0o700)
    (project / PLAYBOOK_NAME).write_text(PLAYBOOK, encoding="utf-8")
    local = {"ansible_remote_tmp": local_remote_temp(ctx.paths.root)}
    # the site's accepted host keys, checked strictly, as for its runs
    known_hosts = hostkeys.known_hosts_file(ctx.paths.root, site.id)
    inventory = site_inventory(site, local, known_hosts)
    unlocked = ctx.services.get("credential_key")
    secrets = runner_secrets(credentials.load_credentials(ctx.paths.root, site.id, key=unlocked))
    env = envvars(ctx, 0, project, known_hosts)
    env.update(cores.environment(site_core(ctx, site.id)))  # the core its runs use
    env[processes.MARKER_VAR] = processes.run_marker(ctx.paths.root, 0) + f"-backup-{run_id}"
    spec = StepSpec(
        private_dir=folder / "private",
        project=project,
        playbook=PLAYBOOK_NAME,
        inventory=inventory,
        envvars=env,
        extravars={"appliance_backup_id": f"run-{run_id}", "appliance_backup_paths": paths},
        secrets=secrets,
        limit=tuple(sorted(paths)),
    )
    deadline = time.monotonic() + TIMEOUT_SECONDS
    log_path = folder / "remove.log"
    with RunLog(log_path, redact=secrets.redact or None) as log:
        log.header(f"delete backup run-{run_id} of site {site.name}")
        outcome = run_step(
            spec,
            log,
            on_event=lambda event: None,
            should_cancel=lambda: time.monotonic() > deadline,
            on_process=lambda pid, pgid: None,
        )
    if outcome.status != "successful":
        raise Unprocessable(
            f"backup {run_id} could not be removed on every host: "
            f"{outcome.failure or outcome.status}",
            f"The backup stays listed; see {Path(log_path)}, fix the host and delete it again.",
        )
