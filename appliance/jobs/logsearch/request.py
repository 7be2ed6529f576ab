"""A log search asked for, checked against the site before anything runs: which hosts, which
declared log files (the installed bundle's ``logs:`` per component), what to look for, how many
lines. Every refusal is a 4xx with a hint; nothing has run when one is raised."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.bundle.manifest import Manifest, parse_manifest
from appliance.errors import BadRequest, Conflict, NotFound, Unprocessable
from appliance.jobs.logsearch.pattern import Pattern, parse_pattern
from appliance.store import bundles as bundle_rows
from appliance.store import runs, sites

DEFAULT_LINES = 100
MAX_LINES = 1000  # lines per host
MAX_BYTES = 256 * 1024  # bytes of lines per host


@dataclass(frozen=True)
class SearchRequest:
    site_id: int
    site: str
    site_vars: Mapping[str, Any]
    hosts: list[dict[str, Any]]  # the hosts searched (store.sites.host_to_json)
    components: dict[str, list[str]]  # component -> its declared globs
    pattern: Pattern
    lines: int
    facts: bool = False  # also the hosts' basic facts (support bundles)

    def globs(self) -> list[str]:
        out: list[str] = []
        for globs in self.components.values():
            out += [g for g in globs if g not in out]
        return out


def plan_search(
    site_ref: int | str,
    component: str | None = None,
    grep: str | None = None,
    regex: bool = False,
    lines: int | None = None,
    host: str | None = None,
) -> SearchRequest:
    pattern = parse_pattern(grep, regex)
    lines = DEFAULT_LINES if lines is None else lines
    if not 1 <= lines <= MAX_LINES:
        raise BadRequest(
            f"lines={lines} is out of range", f"Ask for 1 to {MAX_LINES} lines per host."
        )
    site = sites.get_site(site_ref)
    hosts = site["hosts"]
    if host:
        hosts = [h for h in hosts if h["name"] == host]
        if not hosts:
            names = ", ".join(h["name"] for h in site["hosts"]) or "none"
            raise NotFound(f"site {site['name']} has no host {host!r}", f"Its hosts: {names}.")
    active = [r.id for r in runs.active_runs() if r.site_id == site["id"]]
    if active:
        raise Conflict(
            f"the site is busy: run {active[0]} is active on it",
            f"Search the logs when run {active[0]} has ended (appliance log {active[0]} "
            "--follow shows it).",
        )
    declared = _declared_logs(site["installed"])
    if component:
        if component not in declared:
            raise NotFound(
                f"no component {component!r} with declared logs on site {site['name']}",
                _which(declared),
            )
        declared = {component: declared[component]}
    if not declared:
        raise Unprocessable(f"nothing on site {site['name']} declares log files", _which(declared))
    return SearchRequest(site["id"], site["name"], site["vars"], hosts, declared, pattern, lines)


def _which(declared: Mapping[str, list[str]]) -> str:
    if declared:
        return f"Components with declared logs: {', '.join(declared)}."
    return (
        "Install a bundle whose components declare logs: in bundle.yml (see docs/bundle-format.md)."
    )


def _declared_logs(installed: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """component -> globs, from the manifest of the bundle version each was installed from."""
    manifests: dict[tuple[str, str], Manifest | None] = {}
    out: dict[str, list[str]] = {}
    for name, info in installed.items():
        key = (info["bundle"], info["bundle_version"])
        if key not in manifests:
            manifests[key] = _manifest(*key)
        manifest = manifests[key]
        for c in manifest.components if manifest else ():
            if c.name == name and c.logs:
                out[name] = list(c.logs)
    return out


def _manifest(name: str, version: str) -> Manifest | None:
    """The manifest of an imported bundle; None when it was deleted since it was installed."""
    try:
        bundle = bundle_rows.find_bundle(name, version)
        return parse_manifest(Path(bundle.path, "bundle.yml").read_bytes())
    except (NotFound, OSError):
        return None
