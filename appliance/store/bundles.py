"""Imported bundles as rows: one per name+version, pointing at the verified, read-only folder."""

from __future__ import annotations

from typing import Any

from peewee import IntegrityError

from appliance.errors import Conflict, NotFound
from appliance.store import Store
from appliance.store.models import Bundle, InstalledComponent, Run, Schedule, Site


def record_bundle(
    store: Store,
    name: str,
    version: str,
    sha256: str,
    key_id: str,
    path: str,
    manifest: dict[str, Any],
) -> dict[str, Any]:
    """Insert the row for a freshly imported bundle, or return the existing identical one."""

    def write() -> int:
        existing = Bundle.get_or_none((Bundle.name == name) & (Bundle.version == version))
        if existing is not None:
            if existing.manifest.get("files") != manifest.get("files"):
                raise Conflict(
                    f"bundle {name} {version} is already imported with other content",
                    "Ask the vendor for a bundle with a new version number.",
                )
            return existing.id
        try:
            return Bundle.create(
                name=name,
                version=version,
                sha256=sha256,
                key_id=key_id,
                path=path,
                manifest=manifest,
                imported_at=store.now(),
            ).id
        except IntegrityError as e:
            raise Conflict(
                f"bundle {name} {version} was imported at the same time",
                "List bundles and use the one there.",
            ) from e

    store.write(write)
    return bundle_to_json(find_bundle(name, version))


def bundle_to_json(bundle: Bundle) -> dict[str, Any]:
    manifest = bundle.manifest
    return {
        "id": bundle.id,
        "name": bundle.name,
        "version": bundle.version,
        "description": manifest.get("description", ""),
        "sha256": bundle.sha256,
        "key_id": bundle.key_id,
        "imported_at": bundle.imported_at,
        "upgrade_from": manifest.get("upgrade_from", []),
        "expected_minutes": manifest.get("expected_minutes"),
        "components": manifest.get("components", []),
        "stages": manifest.get("stages", {}),
        "files": len(manifest.get("files", {})),
        "config": manifest.get("config", []),
    }


def find_bundle(name: str, version: str) -> Bundle:
    bundle = Bundle.get_or_none((Bundle.name == name) & (Bundle.version == version))
    if bundle is None:
        known = [b.version for b in Bundle.select(Bundle.version).where(Bundle.name == name)]
        hint = (
            f"Imported versions of {name}: {', '.join(known)}."
            if known
            else "Import the bundle first (appliance bundle import FILE, or the Bundles screen)."
        )
        raise NotFound(
            f"no bundle {name} {version}",
            hint,
            code="not_found.bundle",
            params={"name": name, "version": version},
        )
    return bundle


def bundle_by_id(bundle_id: int) -> Bundle:
    """The bundle a run or schedule points at (its row stays while anything points at it)."""
    return Bundle.get_by_id(bundle_id)


def bundle_exists(name: str, version: str) -> bool:
    return Bundle.select().where((Bundle.name == name) & (Bundle.version == version)).exists()


def list_bundles(limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
    query = Bundle.select().order_by(Bundle.name, Bundle.id).limit(limit).offset(offset)
    return [bundle_to_json(b) for b in query]


def installed_bundle_versions(bundle_name: str) -> list[tuple[Site, str | None]]:
    """For every site: the version of ``bundle_name`` installed there (None if none)."""
    installed: dict[int, str] = {}
    rows = InstalledComponent.select().where(InstalledComponent.bundle_name == bundle_name)
    for row in rows.order_by(InstalledComponent.updated_at):
        installed[row.site_id] = row.bundle_version
    return [(site, installed.get(site.id)) for site in Site.select().order_by(Site.id)]


def delete_bundle(store: Store, name: str, version: str) -> dict[str, Any]:
    """Delete a bundle's row, in one transaction with the check: refused (Conflict, the
    reasons) while runs (their history and resuming need its playbooks), schedules or
    installed components refer to it. Returns the row as it was (its folder is the caller's)."""

    def write() -> dict[str, Any]:
        bundle = find_bundle(name, version)
        label = f"{name} {version}"
        reasons = []
        runs = [r.id for r in Run.select(Run.id).where(Run.bundle == bundle.id)]
        if runs:
            reasons.append(f"runs #{', #'.join(map(str, runs[:10]))} used it")
        schedules = [s.id for s in Schedule.select(Schedule.id).where(Schedule.bundle == bundle.id)]
        if schedules:
            reasons.append(f"schedules {', '.join(map(str, schedules))} use it")
        sites = sorted(
            {
                c.site.name
                for c in InstalledComponent.select(InstalledComponent, Site)
                .join(Site)
                .where(
                    (InstalledComponent.bundle_name == name)
                    & (InstalledComponent.bundle_version == version)
                )
            }
        )
        if sites:
            reasons.append(f"it is installed at {', '.join(sites)}")
        if reasons:
            raise Conflict(
                f"bundle {label} is in use: {'; '.join(reasons)}",
                "A bundle stays while the history, a schedule or a site refers to it: delete "
                "the schedules (or the site) first; a bundle a run used cannot be deleted.",
            )
        gone = bundle_to_json(bundle)
        gone["path"] = bundle.path
        bundle.delete_instance()
        return gone

    return store.write(write)


def bundles_signed_by(key_id: str) -> list[str]:
    """ "name version" of the imported bundles signed with ``key_id``."""
    query = Bundle.select(Bundle.name, Bundle.version).where(Bundle.key_id == key_id)
    return [f"{b.name} {b.version}" for b in query.order_by(Bundle.name, Bundle.id)]
