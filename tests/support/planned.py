"""Bundle rows a schedule's plan check accepts, without a real import: a manifest file the
planner reads (nothing in it is run by these tests) and the site's installed versions an
upgrade starts from."""

from __future__ import annotations

from typing import Any

from appliance.context import Context
from appliance.store import runs, sites
from appliance.store.bundles import record_bundle

ZEROS = "sha256:" + "0" * 64


def fake_bundle(
    ctx: Context, version: str, expected_minutes: float | None = None, sha: str = "0"
) -> dict[str, Any]:
    """demo-platform VERSION (one component, app, at that version; upgrades from 1.0.*)."""
    folder = ctx.paths.root / "fake-bundles" / version
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        "format: 1",
        "name: demo-platform",
        f"version: {version}",
        'upgrade_from: ["1.0.*", "1.1.*"]',
        *([f"expected_minutes: {expected_minutes}"] if expected_minutes is not None else []),
        "components:",
        f"  - {{name: app, version: {version}, playbook: playbooks/app.yml}}",
        "stages: {}",
        f'files: {{playbooks/app.yml: "{ZEROS}"}}',
    ]
    (folder / "bundle.yml").write_text("\n".join(lines) + "\n")
    manifest: dict[str, Any] = {"files": {}, "components": []}
    if expected_minutes is not None:
        manifest["expected_minutes"] = expected_minutes
    return record_bundle(ctx.store, "demo-platform", version, sha * 64, "k", str(folder), manifest)


def installed(ctx: Context, site: str, version: str = "1.0.0") -> None:
    """The site has demo-platform VERSION installed (so an upgrade to 1.1.0 plans)."""
    site_id = sites.find_site(site).id
    app = {"version": version, "bundle_name": "demo-platform", "bundle_version": version}
    record = {"app": app}
    ctx.store.write(runs.record_installed, site_id, None, record, ctx.store.now())
