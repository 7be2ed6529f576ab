"""What every step of a run shares, made once per run: the inventory, the credentials, the
run's own view of the bundle, the environment and the extra variables."""

from __future__ import annotations

import dataclasses
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.ansible_env import content_environment, local_remote_temp, target_environment
from appliance.compat import launcher_dir
from appliance.context import Context
from appliance.jobs.ansible import cores, hostkeys, vault
from appliance.jobs.ansible.inventory import inventory_yaml
from appliance.jobs.ansible.local_python import local_interpreter
from appliance.jobs.ansible.secrets import RunnerSecrets, runner_secrets
from appliance.jobs.runs import processes, project
from appliance.jobs.runs.log import RunLog
from appliance.jobs.runs.planning import read_manifest
from appliance.jobs.runs.runner import write_private
from appliance.jobs.sites import config
from appliance.store import bundles as bundle_rows
from appliance.store import credentials, sites
from appliance.store import runs as run_rows
from appliance.store.rows import Run, Site


@dataclass(frozen=True)
class Workspace:
    site_id: int
    inventory: str
    secrets: RunnerSecrets
    view: Path  # runs/<id>/project: what its tasks write never reaches the import
    envvars: dict[str, str]
    extravars: dict[str, Any]


def prepare(ctx: Context, run: Run) -> Workspace:
    site = sites.find_site(run.site_id)
    bundle = bundle_rows.bundle_by_id(run.bundle_id)
    manifest = read_manifest(bundle)
    # The backup of this run (or, for a rollback, of the run it restores): in the data directory
    # for hosts on this machine; on a remote host the bundle places it by backup_id (a laptop
    # path means nothing there). Not an extra var: those would win on every host.
    backup_run = run.backup_run_id or run.id
    local = {
        "backup_dir": str(ctx.paths.backups / site.name / str(backup_run)),
        "ansible_remote_tmp": local_remote_temp(ctx.paths.root),
    }
    known_hosts = hostkeys.known_hosts_file(ctx.paths.root, site.id)
    inventory = site_inventory(site, local, known_hosts)
    # a key unlocked from the window is held by the server (never stored)
    unlocked = ctx.services.get("credential_key")
    site_secrets = credentials.load_credentials(ctx.paths.root, site.id, key=unlocked)
    secrets = runner_secrets(site_secrets)
    view = project.make_view(Path(bundle.path), ctx.paths.run_dir(run.id))
    extravars = {
        "bundle_name": manifest.name,
        "bundle_version": manifest.version,
        "backup_id": f"run-{backup_run}",
        "component_versions": {c.name: c.version for c in manifest.components},
    }
    # the declared configuration: plain values as extra vars, passwords in a vault file
    plain, secret = config.run_values(ctx, site.id, manifest)
    extravars = {**plain, **extravars}
    if secret:
        password = vault.new_password()
        path = ctx.paths.run_dir(run.id) / "private" / "config.vault.yml"
        write_private(path, vault.vault_vars(secret, password))
        secrets = dataclasses.replace(
            secrets,
            passwords={**secrets.passwords, vault.VAULT_PROMPT: password},
            flags=(*secrets.flags, vault.VAULT_FLAG, "-e", shlex.quote(f"@{path}")),
            redact=credentials.Redactor([*site_secrets.values(), *secret.values(), password]),
        )
    env = envvars(ctx, run.id, view, known_hosts)
    env.update(cores.environment(core_of(ctx.paths.run_dir(run.id))))
    return Workspace(site.id, inventory, secrets, view, env, extravars)


CORE_FILE = "ansible-core"  # in the run's folder: the ansible-core its steps import


def record_core(run_dir: Path, core: cores.Core, log: RunLog) -> None:
    """Remember which carried ansible-core the run uses (a resume uses it again) and, when it
    is not the appliance's own, say so in the log."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / CORE_FILE).write_text(core.version + "\n", encoding="utf-8")
    if core.path is not None:
        log.line(f"appliance: ansible-core {core.describe()}: this run uses it for its hosts")
        if note := core.outside_matrix():
            log.line(f"appliance: {note}")


def core_of(run_dir: Path) -> cores.Core:
    """The core :func:`record_core` recorded; the appliance's own when none was (a run made
    before cores were chosen) or it is no longer carried."""
    carried = cores.carried()
    try:
        version = (run_dir / CORE_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return carried[0]
    return next((c for c in carried if c.version == version), carried[0])


def site_inventory(site: Site, local: dict[str, Any], known_hosts: Path) -> str:
    """The site's inventory as Ansible gets it: ``local`` holds the variables of hosts on this
    machine (their interpreter added here)."""
    # runnable by whichever user a task becomes (become_user on a local host)
    interpreter = local_interpreter()
    if interpreter is not None:
        local = {**local, "ansible_python_interpreter": interpreter}
    # every SSH connection checks the site's own accepted host keys, strictly
    hosts, site_vars = hostkeys.enforce_vars(sites.site_hosts(site.id), site.vars, known_hosts)
    return inventory_yaml(hosts, site_vars, local)


def envvars(ctx: Context, run_id: int, view: Path, known_hosts: Path) -> dict[str, str]:
    root = ctx.paths.root
    env = target_environment(root)
    env.update(hostkeys.environment(known_hosts))  # with ANSIBLE_HOST_KEY_CHECKING
    # the bundle's roles/ and collections/ from every playbook; nothing from this machine
    env.update(content_environment(view, ctx.paths.ansible_home / "empty.cfg"))
    path = os.environ.get("PATH", os.defpath)
    env.update(
        {
            "PATH": f"{launcher_dir(root / 'bin')}{os.pathsep}{path}",
            "ANSIBLE_FORCE_COLOR": "1",  # the log keeps colours; the UI renders ANSI
            "APPLIANCE_DATA_DIR": str(root),
            processes.MARKER_VAR: processes.run_marker(root, run_id),
        }
    )
    return env


def site_core(ctx: Context, site_id: int) -> cores.Core:
    """The core of the site's newest run, for its steps outside a run (status, operations'
    backup removal): the hosts' Python chose it then."""
    newest = run_rows.list_runs(site=site_id, limit=1)
    return core_of(ctx.paths.run_dir(newest[0]["id"])) if newest else cores.carried()[0]
