"""What the command line and the HTTP API share for remote sites: credentials, inventory
import/export, connectivity checks. Thin: parsing and storage live in store/, Ansible in
site_check.py, the formats in inventory_io.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from appliance.context import Context
from appliance.jobs.ansible import hostkeys
from appliance.jobs.ansible.secrets import RunnerSecrets, runner_secrets
from appliance.jobs.sites import check as site_check
from appliance.jobs.sites import inventory_io
from appliance.store import credential_key, credentials, sites


def set_site_credentials(
    ctx: Context,
    site_ref: int | str,
    data: Mapping[str, Any],
    clear: Iterable[str] = (),
    key_source: str = "auto",
    passphrase: str | None = None,
) -> dict[str, Any]:
    """Validate and store credentials; the answer says which kinds are set, never a value."""
    values = credentials.parse_secrets(data)
    clear = list(clear)
    credentials.parse_secrets(dict.fromkeys(clear, None))  # refuses unknown kinds
    site = sites.find_site(site_ref)
    key = None
    if values:  # only clearing needs no key
        key = (None if passphrase else unlocked_key(ctx)) or credential_key.load_or_create_key(
            ctx.paths.root, key_source, passphrase
        )
    kinds = credentials.set_credentials(ctx.store, key, site.id, values, clear)
    return {"site": site.name, "site_id": site.id, "credentials": kinds}


def credential_status(site_ref: int | str) -> dict[str, Any]:
    site = sites.find_site(site_ref)
    return {
        "site": site.name,
        "site_id": site.id,
        "credentials": credentials.credential_kinds(site.id),
    }


def site_secrets(ctx: Context, site_id: int, passphrase: str | None = None) -> RunnerSecrets:
    """The site's credentials, ready for ansible-runner (the run engine calls this per run)."""
    key = None if passphrase else unlocked_key(ctx)
    return runner_secrets(credentials.load_credentials(ctx.paths.root, site_id, passphrase, key))


UNLOCKED = "credential_key"  # ctx.services: the key opened with the passphrase, memory only


def unlocked_key(ctx: Context) -> credential_key.CredentialKey | None:
    return ctx.services.get(UNLOCKED)


def key_status(ctx: Context) -> dict[str, Any]:
    """How the credentials key is kept and whether this process can use it now (no secret)."""
    info = credential_key.key_info(ctx.paths.root)
    source = info["source"] if info else None
    return {
        "exists": info is not None,
        "source": source,
        "locked": source == "passphrase" and unlocked_key(ctx) is None,
    }


def unlock_key(ctx: Context, passphrase: str) -> dict[str, Any]:
    """Open the passphrase-protected key and keep it in this process's memory (never on disk)
    until lock_key or the end of the process; 423 for a wrong passphrase."""
    ctx.services[UNLOCKED] = credential_key.load_key(ctx.paths.root, passphrase)
    return key_status(ctx)


def lock_key(ctx: Context) -> dict[str, Any]:
    ctx.services.pop(UNLOCKED, None)
    return key_status(ctx)


def import_site(ctx: Context, name: str, fmt: str, text: str) -> dict[str, Any]:
    """Create a site from an inventory file's text; nothing is stored when anything is wrong."""
    spec = sites.parse_site(inventory_io.import_inventory(name, fmt, text))
    return sites.create_site(ctx.store, spec)


def export_site(site_ref: int | str) -> str:
    return inventory_io.export_ini(sites.get_site(site_ref))


def check_site(ctx: Context, site_ref: int | str, passphrase: str | None = None) -> dict:
    site = sites.find_site(site_ref)
    hosts = sites.site_hosts(site.id)
    secrets = site_secrets(ctx, site.id, passphrase)
    known_hosts = hostkeys.known_hosts_file(ctx.paths.root, site.id)
    results = site_check.check_hosts(
        ctx.paths.root, hosts, site.vars, secrets, known_hosts, site.name
    )
    return {
        "site": site.name,
        "site_id": site.id,
        "ok": site_check.summary_ok(results),
        "credentials": credentials.credential_kinds(site.id),
        "hosts": results,
    }
