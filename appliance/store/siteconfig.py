"""A site's values for a bundle's declared configuration (``config:`` in bundle.yml).

One ``site_config`` row per site, bundle *name* and item, so values carry over from one version
of a bundle to the next. Passwords are encrypted like credentials (AES-256-GCM with the
credentials key, associated data binding the ciphertext to its key, site, bundle and item);
every other value is stored as JSON. Plaintext passwords exist only in memory.

A value reset to its default leaves a *reset row* (no value, no ciphertext) with the time of the
reset, so a reconfigure sees the change; readers skip it like a value never set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag

from appliance.states import StepState
from appliance.store import Store
from appliance.store.credential_key import CredentialKey, CredentialKeyError, load_key
from appliance.store.models import Bundle, InstalledComponent, Run, RunStep, SiteConfig


def _aad(key: CredentialKey, site_id: int, bundle: str, name: str) -> bytes:
    return f"appliance/site-config/v1/{key.key_id}/{site_id}/{bundle}/{name}".encode()


def stored(site_id: int, bundle: str) -> tuple[dict[str, Any], set[str]]:
    """``(plain values, names of the passwords set)``: nothing decrypted, no key needed."""
    plain: dict[str, Any] = {}
    secret: set[str] = set()
    query = SiteConfig.select().where(
        (SiteConfig.site == site_id) & (SiteConfig.bundle_name == bundle)
    )
    for row in query:
        if row.ciphertext is not None:
            secret.add(row.name)
        elif not _is_reset(row):
            plain[row.name] = row.value
    return plain, secret


def _is_reset(row: SiteConfig) -> bool:
    return row.ciphertext is None and row.value is None


def load(root: Path, site_id: int, bundle: str, key: CredentialKey | None = None) -> dict[str, Any]:
    """Every value, passwords decrypted (the key is opened only when there is one)."""
    values: dict[str, Any] = {}
    query = SiteConfig.select().where(
        (SiteConfig.site == site_id) & (SiteConfig.bundle_name == bundle)
    )
    for row in query:
        if row.ciphertext is None:
            if not _is_reset(row):
                values[row.name] = row.value
            continue
        key = key or load_key(root)
        if row.key_id != key.key_id:
            raise CredentialKeyError(
                f"config {row.name} of site {site_id} was encrypted with another key",
                "Set the value again (appliance config set SITE BUNDLE NAME).",
            )
        try:
            plain = key.aesgcm().decrypt(
                bytes(row.nonce), bytes(row.ciphertext), _aad(key, site_id, bundle, row.name)
            )
        except InvalidTag as e:
            raise CredentialKeyError(
                f"config {row.name} of site {site_id} cannot be decrypted (damaged or moved)",
                "Set the value again (appliance config set SITE BUNDLE NAME).",
            ) from e
        values[row.name] = plain.decode()
    return values


def save(
    store: Store,
    key: CredentialKey | None,
    site_id: int,
    bundle: str,
    values: Mapping[str, Any],
    secret: Iterable[str] = (),
) -> list[str]:
    """Set (or, for ``None``, reset to the default) the given values in one transaction; names
    in ``secret`` are encrypted with ``key`` (needed when one of them is set). Returns the names
    whose value changed (a plain value set again unchanged, or a reset of a value never set, is
    not one)."""
    secret = set(secret)
    rows: list[dict[str, Any]] = []
    for name, value in values.items():
        row: dict[str, Any] = {"name": name, "value": None, "key_id": None}
        row.update(nonce=None, ciphertext=None)
        if value is None:
            pass  # a reset row
        elif name in secret:
            assert key is not None, "a key is needed to store a password"
            nonce = os.urandom(12)
            aad = _aad(key, site_id, bundle, name)
            row.update(key_id=key.key_id, nonce=nonce)
            row["ciphertext"] = key.aesgcm().encrypt(nonce, str(value).encode(), aad)
        else:
            row["value"] = value
        rows.append(row)

    def write() -> list[str]:
        # a plain value set again unchanged keeps its row (and time): nothing to re-apply;
        # neither does a reset of what was never set (or already reset)
        existing = {
            row.name: row
            for row in SiteConfig.select().where(
                (SiteConfig.site == site_id)
                & (SiteConfig.bundle_name == bundle)
                & SiteConfig.name.in_(list(values))
            )
        }
        same = {
            name
            for name, value in values.items()
            if (name not in existing and value is None)
            or (
                name in existing
                and existing[name].ciphertext is None
                and existing[name].value == value
            )
        }
        names = [name for name in values if name not in same]
        if names:
            SiteConfig.delete().where(
                (SiteConfig.site == site_id)
                & (SiteConfig.bundle_name == bundle)
                & SiteConfig.name.in_(names)
            ).execute()
        now = store.now()
        for row in rows:
            if row["name"] in same:
                continue
            SiteConfig.create(site=site_id, bundle_name=bundle, updated_at=now, **row)
        return sorted(names)

    return store.write(write)


def bundle_rows(name: str) -> list[Bundle]:
    """The imported versions of a bundle, oldest import first."""
    return list(Bundle.select().where(Bundle.name == name).order_by(Bundle.id))


def installed_version(site_id: int, bundle: str) -> str | None:
    """The version of ``bundle`` the site runs (the last recorded wins)."""
    row = (
        InstalledComponent.select()
        .where((InstalledComponent.site == site_id) & (InstalledComponent.bundle_name == bundle))
        .order_by(InstalledComponent.updated_at.desc(), InstalledComponent.id.desc())
        .first()
    )
    return row.bundle_version if row is not None else None


def changed_since_applied(site_id: int, bundle: str, component: str, items: Iterable[str]) -> bool:
    """Whether one of ``items`` was set after ``component`` of ``bundle`` last ran successfully
    on the site (install, upgrade or reconfigure; a check applies nothing)."""
    items = list(items)
    if not items:
        return False
    applied = (
        RunStep.select(RunStep.finished_at)
        .join(Run)
        .join(Bundle)
        .where(
            (Run.site == site_id)
            & (Bundle.name == bundle)
            & (Run.action != "check")
            & (RunStep.component == component)
            & (RunStep.state == StepState.SUCCEEDED)
        )
        .order_by(RunStep.finished_at.desc())
        .first()
    )
    if applied is None or applied.finished_at is None:
        return False  # never applied: an install or upgrade will
    return (
        SiteConfig.select()
        .where(
            (SiteConfig.site == site_id)
            & (SiteConfig.bundle_name == bundle)
            & SiteConfig.name.in_(items)
            & (SiteConfig.updated_at > applied.finished_at)
        )
        .exists()
    )
