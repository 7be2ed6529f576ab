"""What a site's status refresh runs: the status playbook of every installed component, from
the bundle version the site recorded for it; and the workspace those steps share."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.ansible_env import local_remote_temp
from appliance.bundle import Manifest
from appliance.context import Context
from appliance.errors import ApplianceError
from appliance.jobs.ansible import cores, hostkeys
from appliance.jobs.ansible.secrets import RunnerSecrets, runner_secrets
from appliance.jobs.runs import processes, project
from appliance.jobs.runs.planning import read_manifest
from appliance.jobs.runs.workspace import envvars, site_core, site_inventory
from appliance.jobs.sites import config
from appliance.store import bundles as bundle_rows
from appliance.store import credentials, sites
from appliance.store import runs as run_rows
from appliance.store.rows import Bundle, Site


@dataclass
class Target:
    component: str
    installed_version: str
    bundle: Bundle | None = None
    manifest: Manifest | None = None
    playbook: str | None = None  # None: nothing to run (problem says why)
    problem: str | None = None


@dataclass
class Shared:
    inventory: str
    secrets: RunnerSecrets
    known_hosts: Path  # the site's accepted host keys (checked strictly, as for a run)
    envvars: dict[str, str] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)


def status_targets(site_id: int) -> list[Target]:
    """The installed components whose bundle declares a status playbook, in the bundle's order
    (a component whose bundle is gone is kept, with the reason, so the board still shows it)."""
    installed = run_rows.installed_rows(site_id)
    by_bundle: dict[tuple[str, str], list[Any]] = {}
    for row in installed:
        by_bundle.setdefault((row.bundle_name, row.bundle_version), []).append(row)
    found: list[Target] = []
    for (name, version), rows in by_bundle.items():
        recorded = {r.component: r.version for r in rows}
        try:
            bundle = bundle_rows.find_bundle(name, version)
            manifest = read_manifest(bundle)
        except ApplianceError:
            found += [
                Target(c, v, problem=f"bundle {name} {version} is no longer imported")
                for c, v in recorded.items()
            ]
            continue
        for component in manifest.components:
            if component.name in recorded and component.status:
                found.append(
                    Target(
                        component.name,
                        recorded[component.name],
                        bundle,
                        manifest,
                        component.status,
                    )
                )
    return found


def shared(ctx: Context, site: Site, timeout: int) -> Shared:
    """Inventory, credentials (a locked key raises as it does for a run) and environment."""
    known_hosts = hostkeys.known_hosts_file(ctx.paths.root, site.id)
    local = {"ansible_remote_tmp": local_remote_temp(ctx.paths.root)}
    inventory = site_inventory(site, local, known_hosts)
    hosts = sites.site_hosts(site.id)
    unlocked = ctx.services.get("credential_key")
    secrets = runner_secrets(credentials.load_credentials(ctx.paths.root, site.id, key=unlocked))
    return Shared(inventory, secrets, known_hosts, hosts=[h["name"] for h in hosts])


_views_lock = threading.Lock()


def view_of(ctx: Context, bundle: Bundle) -> Path:
    """A copy of the bundle status steps run in (made once per imported bundle and kept)."""
    key = f"{bundle.name}-{bundle.version}-{bundle.sha256[:16]}"
    with _views_lock:
        return project.make_view(Path(bundle.path), ctx.paths.root / "status" / "views" / key)


def step_env(
    ctx: Context, site: Site, view: Path, timeout: int, known_hosts: Path
) -> dict[str, str]:
    env = envvars(ctx, 0, view, known_hosts)
    env.update(cores.environment(site_core(ctx, site.id)))  # the core its runs use
    env[processes.MARKER_VAR] = processes.run_marker(ctx.paths.root, 0) + f"-status-{site.id}"
    env["ANSIBLE_TIMEOUT"] = str(timeout)  # connecting to a host
    env["ANSIBLE_TASK_TIMEOUT"] = str(timeout)  # each task
    return env


def extravars(ctx: Context, site: Site, manifest: Manifest) -> dict[str, Any]:
    """What a run's steps get, the site's declared configuration included (its plain values:
    a status playbook reads ports and paths, never passwords)."""
    plain, _ = config.run_values(ctx, site.id, manifest)
    return {
        **plain,
        "bundle_name": manifest.name,
        "bundle_version": manifest.version,
        "component_versions": {c.name: c.version for c in manifest.components},
    }
