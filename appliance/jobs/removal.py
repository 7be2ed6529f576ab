"""Deleting a site or a bundle (the command line and the API share this), and remembering a
deleted bundle so the copy carried inside the appliance is not imported again at the next start.

The store refuses, inside the same transaction as the delete, while something refers to the
site or bundle (store/sites.py ``delete_site``, store/bundles.py ``delete_bundle``); here the
files go: a deleted site's run folders, a deleted bundle's extracted folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from appliance.bundle import remove_tree
from appliance.context import Context
from appliance.store import bundles as bundle_rows
from appliance.store import sites as site_rows

logger = logging.getLogger(__name__)
DELETED_FILE = "deleted-bundles.json"
CHUNK = 1024 * 1024


def delete_site(ctx: Context, ref: int | str) -> dict[str, Any]:
    gone = site_rows.delete_site(ctx.store, ref)
    for run_id in gone["runs"]:
        _remove_tree(ctx.paths.run_dir(run_id))
    # its accepted host keys and kept inventory folder: a later site may get the same id
    _remove_tree(ctx.paths.sites / str(gone["site_id"]))
    logger.info("deleted site %s (%d runs)", gone["site"], len(gone["runs"]))
    return gone


def delete_bundle(ctx: Context, name: str, version: str) -> dict[str, Any]:
    """Delete a bundle no run, schedule or site refers to; its archive's sha256 is remembered
    so a carried copy stays deleted (an explicit import brings it back)."""
    bundle = bundle_rows.find_bundle(name, version)
    _remember(ctx, bundle.sha256, f"{name} {version}")
    try:
        gone = bundle_rows.delete_bundle(ctx.store, name, version)
    except Exception:
        forget_deletion(ctx, bundle.sha256)
        raise
    folder = Path(gone.pop("path"))
    if folder.is_relative_to(ctx.paths.bundles) and folder.is_dir():
        # moved away in one step first: a half-removed folder would look like a damaged import
        ctx.paths.tmp.mkdir(parents=True, exist_ok=True)
        trash = Path(tempfile.mkdtemp(prefix="deleted-bundle-", dir=ctx.paths.tmp))
        os.replace(folder, trash / "tree")
        _remove_tree(trash)
        if folder.parent != ctx.paths.bundles and not any(folder.parent.iterdir()):
            folder.parent.rmdir()
    logger.info("deleted bundle %s %s", name, version)
    return gone


def _deleted_path(ctx: Context) -> Path:
    return ctx.paths.root / DELETED_FILE


def deleted_bundles(ctx: Context) -> dict[str, str]:
    """sha256 of each deleted archive -> "name version"."""
    try:
        data = json.loads(_deleted_path(ctx).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        logger.exception("%s is unreadable: treating no bundle as deleted", DELETED_FILE)
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_deleted(ctx: Context, data: dict[str, str]) -> None:
    path = _deleted_path(ctx)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _remember(ctx: Context, sha256: str, label: str) -> None:
    _write_deleted(ctx, {**deleted_bundles(ctx), sha256: label})


def forget_deletion(ctx: Context, sha256: str) -> None:
    """An explicit import of a deleted bundle: it is wanted again."""
    data = deleted_bundles(ctx)
    if data.pop(sha256, None) is not None:
        _write_deleted(ctx, data)


def was_deleted(ctx: Context, archive: Path, sha256: str | None = None) -> str | None:
    """The label of ``archive`` if the user deleted that very archive's bundle, else None.
    ``sha256``: the archive's hash when already known (no read)."""
    deleted = deleted_bundles(ctx)
    if not deleted:
        return None
    if sha256 is None:
        digest = hashlib.sha256()
        with archive.open("rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        sha256 = digest.hexdigest()
    return deleted.get(sha256)


def _remove_tree(path: Path) -> None:
    """Remove a folder an import made read-only; a failure is logged, the rows are gone."""
    try:
        remove_tree(path)
    except OSError:
        logger.exception("could not remove %s", path)
