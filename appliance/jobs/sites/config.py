"""A site's values for a bundle's declared configuration: shown, checked, stored, handed to
runs. The declaration (``config:`` in bundle.yml) is the bundle's; values belong to the site
and the bundle's name, so they carry over to the next version; a version that adds a required
item without default must have it filled (``version=``) before its upgrade can start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from appliance.bundle import Manifest
from appliance.bundle.configspec import ConfigItem, check_values, effective, parse_items
from appliance.context import Context
from appliance.errors import BadRequest, InvalidValues, NotFound
from appliance.jobs.sites.service import unlocked_key
from appliance.store import credential_key, siteconfig, sites

_SET = "********"  # stands for a password that is set, in checks that never decrypt


@dataclass(frozen=True)
class Declared:
    bundle: str
    version: str
    items: tuple[ConfigItem, ...]
    users: Mapping[str, tuple[str, ...]]  # item -> the components that use it

    @classmethod
    def of(cls, manifest: Manifest) -> Declared:
        users = {
            item.name: tuple(c.name for c in manifest.components if item.name in c.config)
            for item in manifest.config
        }
        return cls(manifest.name, manifest.version, manifest.config, users)


def declared(site_id: int, bundle: str, version: str | None = None) -> Declared:
    """The declaration of ``bundle`` at ``version`` (default: what the site runs, else the
    newest import). Read from the stored manifest: it was checked in full at import."""
    rows = siteconfig.bundle_rows(bundle)
    if not rows:
        raise NotFound(f"no bundle {bundle[:100]!r}", "List bundles with GET /api/bundles.")
    wanted = version or siteconfig.installed_version(site_id, bundle)
    row = next((r for r in rows if r.version == wanted), None)
    if row is None and version is not None:
        raise NotFound(
            f"no bundle {bundle} {version[:40]!r}",
            f"Versions imported: {', '.join(r.version for r in rows)}.",
        )
    row = row or rows[-1]  # the installed version was deleted, or nothing installed yet
    data = row.manifest
    items = parse_items(data.get("config"))
    users = {
        item.name: tuple(
            c["name"] for c in data.get("components", []) if item.name in c.get("config", [])
        )
        for item in items
    }
    return Declared(row.name, row.version, items, users)


def problems(site_id: int, decl: Declared) -> dict[str, str]:
    """What is missing or invalid for a run of ``decl`` on the site (nothing decrypted)."""
    plain, secret = siteconfig.stored(site_id, decl.bundle)
    _, errors = effective(decl.items, {**plain, **dict.fromkeys(secret, _SET)})
    return errors


def check_ready(site_id: int, manifest: Manifest) -> None:
    """Refuse (400, field by field) a run whose required values are missing or invalid."""
    if not manifest.config:
        return
    errors = problems(site_id, Declared.of(manifest))
    if errors:
        site = sites.find_site(site_id).name
        raise InvalidValues(
            f"{manifest.name} {manifest.version} needs configuration on site {site}: "
            + "; ".join(f"{k} {v}" for k, v in errors.items()),
            errors,
            f"Fill them in the site's Configuration screen, or: appliance config set {site} "
            f"{manifest.name}@{manifest.version} NAME=VALUE (PUT /api/sites/{site}/config/"
            f"{manifest.name}?version={manifest.version}).",
        )


def describe(site_ref: int | str, bundle: str, version: str | None = None) -> dict[str, Any]:
    """GET /api/sites/<site>/config/<bundle>: the items with their values (never a password's)."""
    site = sites.find_site(site_ref)
    decl = declared(site.id, bundle, version)
    plain, secret = siteconfig.stored(site.id, decl.bundle)
    _, errors = effective(decl.items, {**plain, **dict.fromkeys(secret, _SET)})
    items = []
    for item in decl.items:
        data = item.to_json()
        is_set = item.name in (secret if item.secret else plain)
        data.update(
            title=dict(item.title),
            help=dict(item.help),
            required=item.required,
            default=item.default,
            set=is_set,
            components=list(decl.users.get(item.name, ())),
        )
        if not item.secret:
            data["value"] = plain.get(item.name, item.default)
        items.append(data)
    return {
        "site": site.name,
        "site_id": site.id,
        "bundle": decl.bundle,
        "version": decl.version,
        "items": items,
        "valid": not errors,
        "errors": errors,
        "reconfigure": _changed(site.id, decl),
        "versions": [row.version for row in siteconfig.bundle_rows(decl.bundle)],
    }


def update(
    ctx: Context,
    site_ref: int | str,
    bundle: str,
    values: Any,
    version: str | None = None,
    *,
    from_text: bool = False,
) -> dict[str, Any]:
    """PUT: check every value (all refused at once, field by field; nothing stored on error),
    then store them in one transaction; ``None`` clears a value (its default applies again)."""
    if not isinstance(values, dict):
        raise BadRequest("values must be a mapping of item name to value", "Send {'values': {}}.")
    site = sites.find_site(site_ref)
    decl = declared(site.id, bundle, version)
    if not decl.items:
        raise BadRequest(
            f"{decl.bundle} {decl.version} declares no configuration",
            "Only bundles with a config section in bundle.yml take values here; use site vars.",
        )
    clean, errors = check_values(decl.items, values, from_text=from_text)
    if errors:
        raise InvalidValues(
            "invalid configuration: " + "; ".join(f"{k} {v}" for k, v in errors.items()), errors
        )
    secret = {i.name for i in decl.items if i.secret and clean.get(i.name) is not None}
    key = None
    if secret:
        key = unlocked_key(ctx) or credential_key.load_or_create_key(ctx.paths.root, "auto")
    changed = siteconfig.save(ctx.store, key, site.id, decl.bundle, clean, secret)
    answer = describe(site.id, decl.bundle, decl.version)
    answer["changed"] = changed
    return answer


def run_values(ctx: Context, site_id: int, manifest: Manifest) -> tuple[dict, dict]:
    """``(plain, secret)`` values a run of ``manifest`` passes to its steps (defaults applied;
    passwords decrypted, in memory only)."""
    if not manifest.config:
        return {}, {}
    stored = siteconfig.load(ctx.paths.root, site_id, manifest.name, unlocked_key(ctx))
    values, _ = effective(manifest.config, stored)
    secret_names = {item.name for item in manifest.config if item.secret}
    plain = {k: v for k, v in values.items() if k not in secret_names}
    return plain, {k: v for k, v in values.items() if k in secret_names}


def _changed(site_id: int, decl: Declared) -> list[str]:
    """The components a reconfigure would re-apply (in the order they first use an item)."""
    uses: dict[str, list[str]] = {}
    for item, components in decl.users.items():
        for component in components:
            uses.setdefault(component, []).append(item)
    return [
        c
        for c, items in uses.items()
        if siteconfig.changed_since_applied(site_id, decl.bundle, c, items)
    ]


def changed_components(site_id: int, manifest: Manifest) -> list[str]:
    """The components whose config items were set after they last ran on the site."""
    return [
        c.name
        for c in manifest.components
        if siteconfig.changed_since_applied(site_id, manifest.name, c.name, c.config)
    ]


def plain_values(site_id: int, manifest: Manifest) -> dict[str, Any]:
    """The values of ``manifest``'s items other than passwords (defaults applied): what an
    export may write into its extra variables."""
    plain, _ = siteconfig.stored(site_id, manifest.name)
    items = tuple(i for i in manifest.config if not i.secret)
    values, _ = effective(items, plain)
    return values
