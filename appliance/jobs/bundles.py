"""Bundle import as a service: verify and extract with the bundle library, then record the row.

Order matters for "nothing half-imported": the folder appears only complete (rename), the row is
written after it; a folder without a row (crash in between) is recognised as identical on the
next import, and ``sync_rows`` records such folders at start-up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from appliance.bundle import (
    Limits,
    Manifest,
    TrustedKey,
    add_trusted_key,
    build_bundle,
    import_bundle,
    load_trusted_keys,
    parse_manifest,
    read_imported,
    upgrade_allowed,
    verify_bundle,
    verify_signature,
)
from appliance.bundle.manifest import MANIFEST_NAME, RESERVED_NAMES, SIGNATURE_NAME
from appliance.bundle.upgrade import refusal_code
from appliance.compat import carried_bundles_dir, shipped_keys_dir
from appliance.context import Context
from appliance.errors import BundleError, NotFound, PayloadTooLarge, coded
from appliance.jobs import removal
from appliance.jobs.ansible.syntax import check_playbooks
from appliance.store import bundles as rows

logger = logging.getLogger(__name__)
CHUNK = 1024 * 1024


def build_file(src_dir: Path, key_path: Path, out: Path, data_dir: Path) -> Path:
    """``appliance bundle build``: refuse content Ansible cannot load (syntax check of every
    playbook the manifest names, with the bundle's roles/ and collections/), then build."""

    def check(project: Path, manifest: Manifest) -> None:
        check_playbooks(project, manifest.playbooks(), data_dir)

    return build_bundle(src_dir, key_path, out, check=check)


def trusted_keys(ctx: Context) -> list[TrustedKey]:
    return load_trusted_keys(shipped_keys_dir(), ctx.paths.keys)


def add_key(ctx: Context, pubfile: Path) -> TrustedKey:
    return add_trusted_key(ctx.paths.keys, pubfile)


def limits(ctx: Context) -> Limits:
    return Limits.from_settings(ctx.settings)


def verify_file(ctx: Context, archive: Path) -> dict[str, Any]:
    checked = verify_bundle(archive, trusted_keys(ctx), limits(ctx))
    return {
        "name": checked.manifest.name,
        "version": checked.manifest.version,
        "key_id": checked.key_id,
        "sha256": checked.sha256,
        "size": checked.size,
        "manifest": checked.manifest.to_json(),
    }


def verify_imported(ctx: Context, name: str, version: str) -> dict[str, Any]:
    """``appliance bundle verify NAME@VERSION``: the imported folder against what was signed
    (signature of its bundle.yml, every file's sha256, nothing added); BundleError if not."""
    folder = Path(rows.find_bundle(name, version).path)
    try:
        manifest_bytes = (folder / MANIFEST_NAME).read_bytes()
        signature = (folder / SIGNATURE_NAME).read_bytes()
    except OSError as e:
        raise BundleError(
            f"imported bundle {name} {version} cannot be read at {folder}: {e.strerror or e}",
            "Import the bundle again.",
        ) from e
    key = verify_signature(trusted_keys(ctx), manifest_bytes, signature)
    manifest = parse_manifest(manifest_bytes)
    problems: list[str] = []
    for rel, expected in manifest.files.items():
        digest = hashlib.sha256()
        try:
            with open(folder / rel, "rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
        except OSError:
            problems.append(f"{rel} is missing")
            continue
        if digest.hexdigest() != expected:
            problems.append(f"{rel} changed")
    for dirpath, _dirs, files in os.walk(folder):
        for file in files:
            rel = Path(dirpath, file).relative_to(folder).as_posix()
            if rel not in manifest.files and rel not in RESERVED_NAMES:
                problems.append(f"{rel} was added")
    if problems:
        raise BundleError(
            f"imported bundle {name} {version} is not what was signed: "
            + "; ".join(sorted(problems)[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
            f"Delete {folder} (no run may be using it) and import the bundle again.",
        )
    return {
        "name": manifest.name,
        "version": manifest.version,
        "key_id": key.key_id,
        "path": str(folder),
        "manifest": manifest.to_json(),
    }


def import_file(ctx: Context, archive: Path) -> tuple[dict[str, Any], bool]:
    """Import ``archive``; returns (bundle as JSON, created?)."""
    imported = import_bundle(
        archive, ctx.paths.bundles, ctx.paths.tmp, trusted_keys(ctx), limits(ctx)
    )
    m = imported.manifest
    existed = rows.bundle_exists(m.name, m.version)
    bundle = rows.record_bundle(
        ctx.store,
        m.name,
        m.version,
        imported.sha256,
        imported.key_id,
        str(imported.path),
        m.to_json(),
    )
    removal.forget_deletion(ctx, imported.sha256)  # imported on purpose: wanted again
    return bundle, not existed


def import_stream(ctx: Context, body: BinaryIO, length: int | None) -> tuple[dict, bool]:
    """Spool an uploaded archive to the data folder's tmp (bounded), then import it."""
    cap = ctx.settings.bundle_max_bytes
    if length is not None and length > cap:
        raise PayloadTooLarge(
            f"the bundle is larger than {cap} bytes",
            "Raise the bundle_max_bytes setting if the bundle is genuine.",
        )
    ctx.paths.tmp.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=".bundle", dir=ctx.paths.tmp)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            remaining = length if length is not None else cap + 1
            total = 0
            while remaining > 0:
                chunk = body.read(min(CHUNK, remaining))
                if not chunk:
                    break
                out.write(chunk)
                total += len(chunk)
                remaining -= len(chunk)
                if total > cap:
                    raise PayloadTooLarge(
                        f"the bundle is larger than {cap} bytes",
                        "Raise the bundle_max_bytes setting if it is genuine.",
                    )
        if total == 0:
            raise BundleError(
                "the request body is empty", "Send the .bundle file's bytes as the request body."
            )
        if length is not None and total < length:
            raise BundleError("the upload ended early", "Upload the bundle again.")
        return import_file(ctx, path)
    except BundleError as e:
        if e.code is None:  # the page words every refusal; the detail stays as written
            coded(e, "bundle.refused", detail=e.message)
        raise
    finally:
        path.unlink(missing_ok=True)


def bundle_detail(name: str, version: str) -> dict[str, Any]:
    """A bundle with its upgrade paths: which sites (at which version) may move to it."""
    bundle = rows.find_bundle(name, version)
    detail = rows.bundle_to_json(bundle)
    manifest = parse_manifest(Path(bundle.path, "bundle.yml").read_bytes())
    sites = []
    for site, installed in rows.installed_bundle_versions(name):
        allowed, reason = upgrade_allowed(manifest, installed)
        code, params = refusal_code(manifest, installed) or (None, {})
        sites.append(
            {
                "site": site.name,
                "site_id": site.id,
                "installed": installed,
                "action": "install" if installed is None else "upgrade",
                "allowed": allowed,
                "reason": reason,
                "reason_code": code,  # the page words a refusal in its language
                "reason_params": params,
            }
        )
    others = [
        b["version"]
        for b in rows.list_bundles(limit=100_000)
        if b["name"] == name and b["version"] != version
    ]
    detail["sites"] = sites
    detail["upgrades_from_imported"] = [v for v in others if upgrade_allowed(manifest, v)[0]]
    detail["path"] = bundle.path
    return detail


def sync_rows(ctx: Context) -> int:
    """Record bundle folders that have no row (a crash between rename and insert)."""
    added = 0
    if not ctx.paths.bundles.is_dir():
        return 0
    for version_dir in sorted(ctx.paths.bundles.glob("*/*")):
        name, version = version_dir.parent.name, version_dir.name
        if not version_dir.is_dir() or rows.bundle_exists(name, version):
            continue
        try:
            imported = read_imported(version_dir)
        except BundleError:
            logger.warning("ignoring damaged bundle folder %s", version_dir)
            continue
        m = imported.manifest
        rows.record_bundle(
            ctx.store,
            m.name,
            m.version,
            imported.sha256,
            imported.key_id,
            str(version_dir),
            m.to_json(),
        )
        added += 1
    return added


def import_carried(ctx: Context, folder: Path | None = None) -> list[str]:
    """Import the signed bundles carried inside the appliance (idempotent; errors logged).

    Each archive is verified in full once; later starts recognise it by the size, times and
    inode recorded then (and its bundle still being there, under the archive hash recorded), so
    a start does not read gigabytes it already checked. A changed file is verified again. A
    bundle the user deleted stays deleted (known by its archive hash: the recorded one when the
    file is recognised, else the file is hashed, and only while any deletion is remembered).
    """
    sync_rows(ctx)
    imported = []
    folder = carried_bundles_dir() if folder is None else folder
    # Recorded per folder (a build's cache folder, a checkout's build/bundles), by file name.
    key = str(folder.resolve())
    record = _read_carried_record(ctx.paths.carried_record)
    known_here = record.get(key, {})
    seen: dict[str, dict[str, Any]] = {}
    for archive in sorted(folder.glob("*.bundle")) if folder.is_dir() else []:
        try:
            stamp = _stamp(archive)
            known = known_here.get(archive.name)
            recognised = known is not None and known.get("stamp") == stamp
            if recognised and _still_imported(known):
                seen[archive.name] = known
                continue
            sha256 = known.get("sha256") if recognised else None
            if deleted := removal.was_deleted(ctx, archive, sha256):
                logger.info("carried bundle %s stays deleted (%s)", archive.name, deleted)
                if recognised:
                    seen[archive.name] = known  # the next start need not hash it either
                continue
            bundle, created = import_file(ctx, archive)
        except Exception:
            logger.exception("carried bundle %s could not be imported", archive.name)
            continue
        seen[archive.name] = {
            "stamp": stamp,
            "name": bundle["name"],
            "version": bundle["version"],
            "sha256": bundle["sha256"],
        }
        if created:
            imported.append(f"{bundle['name']} {bundle['version']}")
    if seen != known_here:
        kept = {k: v for k, v in record.items() if k != key and os.path.isdir(k)}
        _write_carried_record(ctx.paths.carried_record, {**kept, key: seen} if seen else kept)
    if imported:
        logger.info("imported carried bundles: %s", ", ".join(imported))
    return imported


def _stamp(archive: Path) -> list[int]:
    """What changes when the file does: size, mtime and ctime (ns), inode and device."""
    st = os.stat(archive)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _still_imported(known: dict[str, Any]) -> bool:
    try:
        row = rows.find_bundle(str(known["name"]), str(known["version"]))
    except (NotFound, KeyError):
        return False
    return row.sha256 == known.get("sha256") and os.path.isdir(row.path)


def _read_carried_record(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or damaged: every carried bundle is verified again
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def _write_carried_record(path: Path, record: dict[str, dict[str, dict[str, Any]]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:  # only a cache: the next start verifies again
        logger.warning("could not record the verified carried bundles in %s: %s", path, e)
