"""A planned run carried to another engine: an ansible-runner private data folder (scale-out).

``appliance export SITE BUNDLE@VERSION`` writes what the run engine would run, for
``ansible-runner run DIR -p appliance-<action>.yml`` or an AWX / Automation Platform project::

    project/                     the bundle's files (bundle.yml, bundle.sig and every listed file)
    project/appliance-<action>.yml   the plan: one import_playbook per step, in the run's order
    inventory/hosts.yml          the site's hosts (inventory.py, as a run writes it)
    env/extravars                the site's configuration values and what the engine passes
    env/envvars                  ANSIBLE_HOST_KEY_CHECKING, as the run engine sets it
    README.md                    what is here, how to run it, how to supply the credentials

The plan is the run engine's own (``RunManager.start_run(..., dry_run=True)``, i.e. make_plan on
the site's installed versions), so an export refuses exactly what a run refuses. Secrets never
leave: the site's credentials are not read at all, and password variables (the names the
inventory import refuses) are left out of the inventory and extra vars; the README says how to
give them to the engine. Everything is checked before anything is written, and the folder is
written under a temporary name next to ``DIR`` and renamed into place: a refusal or a failure
leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from appliance.bundle import Manifest, parse_manifest
from appliance.bundle.manifest import MANIFEST_NAME, SIGNATURE_NAME
from appliance.context import Context
from appliance.errors import BadRequest, Conflict, Unprocessable
from appliance.jobs.ansible.inventory import inventory_yaml
from appliance.jobs.runs.export_note import readme
from appliance.jobs.runs.plan import PlannedStep
from appliance.jobs.sites import config
from appliance.jobs.sites.inventory_io import SECRET_VARS
from appliance.store import bundles as bundle_rows
from appliance.store import credentials, sites

EXPORT_ACTIONS = ("install", "upgrade")


@dataclass(frozen=True)
class Export:
    path: Path
    playbook: str  # relative to project/
    action: str
    site: str
    bundle: str
    version: str
    installed_version: str | None
    steps: tuple[PlannedStep, ...]
    extravars: Mapping[str, Any]
    inventory_vars: tuple[str, ...]  # site vars kept in the inventory (not extra vars), why below
    left_out: tuple[str, ...]  # password variables not exported
    credentials: tuple[str, ...]  # kinds of credentials the site has (never exported)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "playbook": self.playbook,
            "action": self.action,
            "site": self.site,
            "bundle": self.bundle,
            "version": self.version,
            "installed_version": self.installed_version,
            "plan": [s.to_json() for s in self.steps],
            "left_out": list(self.left_out),
            "credentials": list(self.credentials),
            "command": f"ansible-runner run {self.path} -p {self.playbook}",
        }


def playbook_name(action: str) -> str:
    return f"appliance-{action}.yml"


def export_run(
    ctx: Context,
    site: int | str,
    bundle: str,
    version: str,
    out: Path | str,
    action: str | None = None,
    *,
    manager: Any = None,
) -> Export:
    """Write the export of ``action`` (default: install, or upgrade when installed) of
    ``bundle`` ``version`` on ``site`` into the new folder ``out``."""
    from appliance.jobs.runs.manager import RunManager

    if action is not None and action not in EXPORT_ACTIONS:
        raise BadRequest(
            f"cannot export action {action!r}",
            f"Export one of: {', '.join(EXPORT_ACTIONS)} (check and rollback stay on the "
            "appliance: they read its records of earlier runs).",
        )
    target = Path(out).absolute()
    _check_target(target)
    planned = (manager or RunManager(ctx)).start_run(site, bundle, version, action, dry_run=True)
    steps = tuple(PlannedStep.from_json(s) for s in planned["plan"])
    if not steps:
        raise Unprocessable(
            f"the plan for {planned['action']} of {bundle} {version} has no steps",
            "Nothing to do.",
        )
    bundle_row = bundle_rows.find_bundle(planned["bundle"], planned["version"])
    source = Path(bundle_row.path)
    manifest = _manifest(source, bundle, version)
    playbook = playbook_name(planned["action"])
    if playbook in manifest.files:
        raise Unprocessable(
            f"{bundle} {version} has a file named {playbook}, the name of the exported plan",
            "Rename that file in the bundle and build it again.",
        )
    site_row = sites.find_site(planned["site_id"])
    hosts = sites.site_hosts(site_row.id)
    inventory_site, extra = _split_vars(site_row.vars, hosts)
    export = Export(
        path=target,
        playbook=playbook,
        action=planned["action"],
        site=planned["site"],
        bundle=manifest.name,
        version=manifest.version,
        installed_version=planned["installed_version"],
        steps=steps,
        # The appliance names a backup after its run; here the export's time names it (the demo
        # bundles keep it on the host under install_root/backups/<backup_id>).
        extravars={
            **extra,
            **config.plain_values(site_row.id, manifest),
            **engine_extravars(manifest, "export-" + _stamp()),
        },
        inventory_vars=tuple(sorted(inventory_site)),
        left_out=_secret_names(site_row.vars, hosts)
        + tuple(i.name for i in manifest.config if i.secret),
        credentials=tuple(credentials.credential_kinds(site_row.id)),
    )
    files = {
        f"project/{playbook}": plan_playbook(export),
        "inventory/hosts.yml": inventory_yaml(_without_secrets(hosts), inventory_site),
        "env/extravars": _dump(export.extravars),
        "env/envvars": _dump({"ANSIBLE_HOST_KEY_CHECKING": "True"}),
        "README.md": readme(export),
    }
    _write_folder(target, source, manifest, files)
    return export


def _check_target(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise Conflict(
            f"{target} exists and is not a folder", "Name a new folder for the export (-o DIR)."
        )
    if target.is_dir() and any(target.iterdir()):
        raise Conflict(
            f"{target} exists and is not empty",
            "Name a new (or empty) folder for the export, or remove the old one first.",
        )
    parent = next((p for p in target.parents if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise BadRequest(
            f"cannot create {target}: {parent} is not a writable folder",
            "Pick a folder you can write to.",
        )


def _manifest(source: Path, bundle: str, version: str) -> Manifest:
    try:
        return parse_manifest((source / MANIFEST_NAME).read_bytes())
    except OSError as e:
        raise Unprocessable(
            f"bundle {bundle} {version} is not readable at {source}", "Import the bundle again."
        ) from e


def _split_vars(
    site_vars: Mapping[str, Any], hosts: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Site vars -> (kept in the inventory's all:vars, given as extra vars).

    Configuration values become extra vars. Kept in the inventory: connection settings
    (``ansible_*``: the engine's credentials and inventory own them; an extra var would beat
    them) and any value a host sets differently (an extra var would beat the host's own, where
    in the appliance the host wins). Password variables go nowhere."""
    overridden = {name for host in hosts for name in (host.get("vars") or {})}
    inventory, extra = {}, {}
    for name, value in site_vars.items():
        if name in SECRET_VARS:
            continue
        if name.startswith("ansible_") or name in overridden:
            inventory[name] = value
        else:
            extra[name] = value
    return inventory, extra


def _without_secrets(hosts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**h, "vars": {k: v for k, v in (h.get("vars") or {}).items() if k not in SECRET_VARS}}
        for h in hosts
    ]


def engine_extravars(manifest: Manifest, backup_id: str) -> dict[str, Any]:
    """What the run engine passes every step (manager.py, ``_run_steps``)."""
    return {
        "bundle_name": manifest.name,
        "bundle_version": manifest.version,
        "backup_id": backup_id,
        "component_versions": {c.name: c.version for c in manifest.components},
    }


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def _secret_names(
    site_vars: Mapping[str, Any], hosts: Sequence[Mapping[str, Any]]
) -> tuple[str, ...]:
    names = {k for k in site_vars if k in SECRET_VARS}
    names |= {k for h in hosts for k in (h.get("vars") or {}) if k in SECRET_VARS}
    return tuple(sorted(names))


def plan_playbook(export: Export) -> str:
    """The top-level playbook: each step of the plan imported in order, tagged ``step-N``."""
    total = len(export.steps)
    lines = [
        f"# Written by `appliance export`: {export.action} {export.bundle} {export.version} on "
        f"site {export.site}",
        f"# (installed before: {export.installed_version or 'nothing'}). The appliance's plan, "
        "one step a play; run it with",
        f"#   ansible-runner run <the folder above project/> -p {export.playbook}",
        "# Resume from step N: --tags step-N,step-N+1,... (see README.md).",
    ]
    for step in export.steps:
        lines.append(f"- name: {_quote(step.title(total))}")
        # the short name: AWX lists a project's playbooks by a line matching
        # ^\s*?-?\s*?(?:hosts|include|import_playbook): (awx/main/utils/ansible.py)
        lines.append(f"  import_playbook: {_quote(step.playbook)}")
        lines.append(f"  tags: [step-{step.idx}]")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return yaml.safe_dump(text, default_style='"', width=1000).strip()


def _dump(value: Any) -> str:
    return yaml.safe_dump(
        dict(value), sort_keys=True, default_flow_style=False, allow_unicode=True, width=1000
    )


def _write_folder(target: Path, source: Path, manifest: Manifest, files: Mapping[str, str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".export", dir=target.parent))
    try:
        project = tmp / "project"
        for name in [MANIFEST_NAME, SIGNATURE_NAME, *sorted(manifest.files)]:
            src, dst = source / name, project / name
            if not src.exists() and name == SIGNATURE_NAME:
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            executable = src.stat().st_mode & stat.S_IXUSR
            dst.chmod(0o755 if executable else 0o644)
        for name, text in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        try:
            os.rename(tmp, target)  # onto nothing, or onto an empty folder
        except OSError as e:
            raise Conflict(
                f"{target} appeared meanwhile ({e.strerror})", "Name a new folder for the export."
            ) from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
