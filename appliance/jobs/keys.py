"""Vendor keys the appliance trusts, as the command line and the API show and change them:
shipped keys (inside the appliance, not removable) and keys the user added (``<data>/keys``).

An added key is stored as ``<key id>.pub``; the name it was added under (the file's name)
is kept beside it in ``names.json``. A key that signed imported bundles is not removed: those
bundles would stay importable-looking but unverifiable.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from appliance.bundle import (
    TrustedKey,
    add_trusted_key,
    load_public_key,
    load_trusted_keys,
    remove_tree,
)
from appliance.bundle import key_id as compute_key_id
from appliance.compat import shipped_keys_dir
from appliance.context import Context
from appliance.errors import BadRequest, BundleError, Conflict, NotFound
from appliance.store import bundles as rows

NAMES_FILE = "names.json"
MAX_PEM = 16 * 1024


def fingerprint(key: TrustedKey) -> str:
    """sha256 of the raw key in groups of four hex digits (read aloud over the phone); the key
    id is its first four groups."""
    raw = key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(raw).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def _names(ctx: Context) -> dict[str, str]:
    try:
        data = json.loads((ctx.paths.keys / NAMES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_names(ctx: Context, names: dict[str, str]) -> None:
    path = ctx.paths.keys / NAMES_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(names, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _describe(ctx: Context, key: TrustedKey, names: dict[str, str]) -> dict[str, Any]:
    shipped = key.source.parent == shipped_keys_dir()
    return {
        "id": key.key_id,
        "name": key.source.stem if shipped else names.get(key.key_id, key.source.name),
        "fingerprint": fingerprint(key),
        "source": "shipped" if shipped else "added",
        "bundles": rows.bundles_signed_by(key.key_id),
    }


def list_keys(ctx: Context) -> list[dict[str, Any]]:
    names = _names(ctx)
    keys = load_trusted_keys(shipped_keys_dir(), ctx.paths.keys)
    return [_describe(ctx, k, names) for k in keys]


def describe(ctx: Context, key_id: str) -> dict[str, Any] | None:
    """The trusted key ``key_id`` as listed, or None (it was removed since)."""
    return next((k for k in list_keys(ctx) if k["id"] == key_id), None)


def add_key(ctx: Context, pubfile: Path, name: str | None = None) -> dict[str, Any]:
    """Trust a public key file; ``name`` (default: the file's name) is how lists show it."""
    key = add_trusted_key(ctx.paths.keys, pubfile)
    names = _names(ctx)
    if key.source.parent == ctx.paths.keys and key.key_id not in names:
        names[key.key_id] = name or pubfile.name
        _write_names(ctx, names)
    return _describe(ctx, key, _names(ctx))


def add_key_text(ctx: Context, name: str, pem: str) -> dict[str, Any]:
    """Trust a key sent as text (the window reads the chosen .pub file)."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", name.strip())[:100] or "vendor.pub"
    if len(pem) > MAX_PEM:
        raise BadRequest(
            f"{clean} is {len(pem)} characters; a public key is a few hundred",
            "Choose the vendor's PREFIX.pub file, not a bundle or a private key.",
        )
    ctx.paths.tmp.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="key-", dir=ctx.paths.tmp))
    try:
        path = folder / clean
        path.write_text(pem, encoding="utf-8")
        try:
            return add_key(ctx, path, clean)
        except BundleError as e:  # the message names our temporary file: name theirs
            raise BundleError(e.message.replace(str(path), clean), e.hint) from e
    finally:
        remove_tree(folder)


def remove_key(ctx: Context, key_id: str) -> dict[str, Any]:
    """Stop trusting an added key; refused for a shipped key and for one that signed imported
    bundles (the answer lists them)."""
    found = next(
        (k for k in load_trusted_keys(shipped_keys_dir(), ctx.paths.keys) if k.key_id == key_id),
        None,
    )
    if found is None:
        raise NotFound(
            f"no trusted key {key_id}",
            "List the keys with GET /api/keys.",
            code="not_found.key",
            params={"id": key_id},
        )
    info = _describe(ctx, found, _names(ctx))
    if info["source"] == "shipped":
        raise Conflict(
            f"key {key_id} ({info['name']}) is shipped inside the appliance",
            "A shipped vendor key cannot be removed; only keys you added can.",
        )
    if info["bundles"]:
        raise Conflict(
            f"key {key_id} signed imported bundles: {', '.join(info['bundles'])}",
            "Delete those bundles first, then remove the key.",
        )
    for path in ctx.paths.keys.glob("*.pub"):  # every file holding this key
        try:
            held = compute_key_id(load_public_key(path))
        except BundleError:
            continue
        if held == key_id:
            path.unlink()
    names = _names(ctx)
    if names.pop(key_id, None) is not None:
        _write_names(ctx, names)
    return info
