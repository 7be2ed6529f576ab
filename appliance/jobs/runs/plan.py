"""What a run will do: a pure function of the bundle manifest and what the site has installed.

- install (nothing of this bundle installed): preflight, every component in order, verify;
- upgrade: preflight, backup, each component whose version changes, verify;
- check: preflight, then every component with ``--check --diff``;
- rollback: the bundle's rollback stage, restoring the backup an earlier run took;
- reconfigure: preflight, the installed components whose config values changed since they
  last ran, verify (the versions stay).
Stages the bundle does not have are left out, except the one an action cannot do without
(rollback); a refusal is an ``Unprocessable`` (422) that says why and what to do instead.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from appliance.bundle import Manifest, upgrade_allowed
from appliance.errors import BadRequest, Unprocessable
from appliance.jobs.runs.operate import OPERATE, Operation, operate_steps

ACTIONS = ("install", "upgrade", "check", "rollback", "reconfigure")


@dataclass(frozen=True)
class Installed:
    """One component installed at a site (an InstalledComponent row)."""

    version: str
    bundle_name: str
    bundle_version: str

    def to_json(self) -> dict[str, str]:
        return {
            "version": self.version,
            "bundle_name": self.bundle_name,
            "bundle_version": self.bundle_version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Installed:
        return cls(data["version"], data["bundle_name"], data["bundle_version"])


@dataclass(frozen=True)
class PlannedStep:
    idx: int  # 1-based, the order of the run
    kind: str  # preflight | backup | component | verify | rollback
    name: str  # the stage, or the component's name
    playbook: str  # relative to the bundle folder
    component: str | None = None
    from_version: str | None = None
    to_version: str | None = None
    check: bool = False  # run with --check --diff
    limit: tuple[str, ...] = ()  # operate: only these hosts (empty: all)

    def title(self, total: int) -> str:
        """``[3/6] component app 1.0.0 -> 1.1.0 (playbooks/app.yml)``"""
        what = self.kind if self.kind != "component" else f"component {self.name}"
        if self.kind == "component":
            what += f" {self.from_version or 'none'} -> {self.to_version}"
        if self.kind == "operation":
            what = f"{self.name} {self.component}"
            what += f" on {', '.join(self.limit)}" if self.limit else ""
        if self.check:
            what += " --check --diff"
        return f"[{self.idx}/{total}] {what} ({self.playbook})"

    def to_json(self) -> dict[str, Any]:
        return {
            "idx": self.idx,
            "kind": self.kind,
            "name": self.name,
            "playbook": self.playbook,
            "component": self.component,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "check": self.check,
            **({"limit": list(self.limit)} if self.limit else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlannedStep:
        fields = {k: data.get(k) for k in cls.__dataclass_fields__ if k in data}
        if "limit" in fields:
            fields["limit"] = tuple(fields["limit"] or ())
        return cls(**fields)


@dataclass(frozen=True)
class Plan:
    action: str
    steps: tuple[PlannedStep, ...]
    installed_version: str | None  # this bundle's version at the site before the run
    record: Mapping[str, Installed] = field(default_factory=dict)  # written on success

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.steps]


def installed_bundle_version(installed: Mapping[str, Installed], bundle: str) -> str | None:
    """The version of ``bundle`` the site runs (the last recorded wins if rows disagree)."""
    version = None
    for row in installed.values():
        if row.bundle_name == bundle:
            version = row.bundle_version
    return version


def success_record(
    manifest: Manifest, action: str, restore: Mapping[str, Installed] | None = None
) -> dict[str, Installed]:
    """What a run records as installed once it succeeded: the bundle's components (install,
    upgrade), ``restore`` (rollback: what the site had before the run that took the backup),
    nothing (check). The plan carries it (``Plan.record``); the run manager asks again at the
    end of a run, which may have been planned by another process."""
    if action in ("install", "upgrade"):
        return {
            c.name: Installed(c.version, manifest.name, manifest.version)
            for c in manifest.components
        }
    return dict(restore or {}) if action == "rollback" else {}


Step = tuple[str, str, str, dict[str, Any]]  # kind, name, playbook, PlannedStep extras


def make_plan(
    manifest: Manifest,
    installed: Mapping[str, Installed],
    action: str | None = None,
    *,
    restore: Mapping[str, Installed] | None = None,
    operation: Operation | None = None,
    reconfigure: Collection[str] = (),
) -> Plan:
    """The steps of a run of ``manifest`` on a site with ``installed`` components.

    ``restore`` (rollback only) is what the site had installed before the run whose backup is
    restored; None means no earlier run took a backup. ``reconfigure`` (reconfigure only): the
    components whose config values changed.
    """
    current = installed_bundle_version(installed, manifest.name)
    if action is None:
        action = "install" if current is None else "upgrade"
    if action not in ACTIONS and action != OPERATE:
        raise BadRequest(
            f"unknown action {action!r}",
            f"Use one of: {', '.join(ACTIONS)}.",
            code="plan.unknown_action",
            params={"action": action, "actions": ", ".join(ACTIONS)},
        )
    if action == OPERATE:
        steps = operate_steps(manifest, installed, operation)
    elif action in ("install", "upgrade"):
        _check_allowed(manifest, action, current)
        steps = _change_steps(manifest, installed, action)
    elif action == "check":
        steps = _check_steps(manifest, installed)
    elif action == "reconfigure":
        steps = _reconfigure_steps(manifest, current, reconfigure)
    else:
        steps = _rollback_steps(manifest, restore)
    planned = tuple(
        PlannedStep(idx=i, kind=kind, name=name, playbook=playbook, **extra)
        for i, (kind, name, playbook, extra) in enumerate(steps, start=1)
    )
    record = success_record(manifest, action, restore)
    return Plan(action=action, steps=planned, installed_version=current, record=record)


def _stage(manifest: Manifest, name: str) -> list[Step]:
    """The bundle's stage ``name`` as a step, or nothing when the bundle has no such stage."""
    return [(name, name, manifest.stages[name], {})] if name in manifest.stages else []


def _check_allowed(manifest: Manifest, action: str, current: str | None) -> None:
    """Refuse an install over an installed bundle and an upgrade the bundle does not allow."""
    target = f"{manifest.name} {manifest.version}"
    if action == "install" and current is not None:
        raise Unprocessable(
            f"{manifest.name} {current} is installed on the site already; install is for a "
            "site without it",
            f"Upgrade instead (action upgrade), or run action check to compare with {target}.",
            code="plan.installed_already",
            params={"bundle": manifest.name, "current": current, "target": target},
        )
    if action == "upgrade":
        if current is None:
            raise Unprocessable(
                f"nothing of {manifest.name} is installed on the site",
                f"Install {target} instead (action install).",
                code="plan.nothing_installed",
                params={"bundle": manifest.name, "target": target},
            )
        ok, reason = upgrade_allowed(manifest, current)
        if not ok:
            patterns = ", ".join(manifest.upgrade_from) or "no version"
            raise Unprocessable(
                f"cannot upgrade the site to {target}: {reason}",
                f"{target} upgrades from {patterns}; the site has {current}. "
                "Install a version in between first, or pick another bundle version.",
                code="plan.upgrade_refused",
                params={"target": target, "from": patterns, "current": current},
            )


def _change_steps(
    manifest: Manifest, installed: Mapping[str, Installed], action: str
) -> list[Step]:
    """install: preflight, every component, verify; upgrade: preflight, backup, the components
    whose version changes, verify."""
    steps = _stage(manifest, "preflight")
    if action == "upgrade":
        steps += _stage(manifest, "backup")
    for c in manifest.components:
        before = installed.get(c.name)
        before_version = before.version if before is not None else None
        if action == "install" or before_version != c.version:
            extra = {"component": c.name, "from_version": before_version, "to_version": c.version}
            steps.append(("component", c.name, c.playbook, extra))
    return steps + _stage(manifest, "verify")


def _check_steps(manifest: Manifest, installed: Mapping[str, Installed]) -> list[Step]:
    """preflight, then every component in check mode (``--check --diff``)."""
    steps = _stage(manifest, "preflight")
    for c in manifest.components:
        before = installed.get(c.name)
        extra = {
            "component": c.name,
            "to_version": c.version,
            "check": True,
            "from_version": before.version if before is not None else None,
        }
        steps.append(("component", c.name, c.playbook, extra))
    return steps


def _rollback_steps(manifest: Manifest, restore: Mapping[str, Installed] | None) -> list[Step]:
    """The rollback stage alone; refused without one, or without a backup to restore."""
    if "rollback" not in manifest.stages:
        raise Unprocessable(
            f"{manifest.name} {manifest.version} has no rollback stage",
            "Roll back with the bundle version whose upgrade took the backup, or restore by hand.",
            code="plan.no_rollback_stage",
            params={"bundle": manifest.name, "version": manifest.version},
        )
    if restore is None:
        raise Unprocessable(
            "no earlier run on this site took a backup to roll back to",
            "Only an upgrade takes a backup; there is nothing to restore.",
            code="plan.no_backup",
        )
    return _stage(manifest, "rollback")


def _reconfigure_steps(
    manifest: Manifest, current: str | None, changed: Collection[str]
) -> list[Step]:
    """preflight, the components using changed values (in install order), verify."""
    target = f"{manifest.name} {manifest.version}"
    if current != manifest.version:
        raise Unprocessable(
            f"reconfigure applies {target} as installed; the site has {current or 'nothing of it'}",
            "Install or upgrade to this version first (it applies the values as well).",
        )
    picked = [c for c in manifest.components if c.name in changed]
    if not picked:
        raise Unprocessable(
            "no configuration value used by a component changed since it last ran",
            "Change a value first (the site's Configuration screen or appliance config set).",
        )
    steps = _stage(manifest, "preflight")
    for c in picked:
        extra = {"component": c.name, "from_version": c.version, "to_version": c.version}
        steps.append(("component", c.name, c.playbook, extra))
    return steps + _stage(manifest, "verify")
