"""Bundle archives: build (vendor side), verify without extracting, and import all-or-nothing.

Import writes into a fresh folder under ``tmp_dir`` (same filesystem as ``bundles_dir``) and
renames it to ``bundles_dir/NAME/VERSION`` only after every check passed; whatever happens,
the temporary folder is removed and no partial ``NAME/VERSION`` is left.

Identity: two bundles are the same when their bundle.yml bytes are identical. The manifest
lists the sha256 of every file and is what the signature covers, so identical manifest bytes
mean identical content even if the archive was re-compressed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.bundle.build import build_bundle
from appliance.bundle.manifest import MANIFEST_NAME, META_NAME, Manifest, parse_manifest
from appliance.bundle.reader import Scan, scan_archive
from appliance.bundle.safety import Limits, make_read_only, remove_tree
from appliance.bundle.trust import TrustedKey
from appliance.errors import BundleError, Conflict

__all__ = [
    "ImportedBundle",
    "Limits",
    "VerifiedBundle",
    "build_bundle",
    "import_bundle",
    "read_imported",
    "verify_bundle",
]

logger = logging.getLogger(__name__)

META_FORMAT = 1


@dataclass(frozen=True)
class VerifiedBundle:
    manifest: Manifest
    key_id: str
    sha256: str  # of the archive file
    size: int  # of the archive file, bytes


@dataclass(frozen=True)
class ImportedBundle:
    manifest: Manifest
    path: Path
    key_id: str
    sha256: str
    already_present: bool


def verify_bundle(archive: Path, trusted: list[TrustedKey], limits: Limits) -> VerifiedBundle:
    """Check everything import checks, reading the archive once and writing nothing."""
    scan = scan_archive(Path(archive), trusted, limits, lambda manifest, data: None)
    return VerifiedBundle(scan.manifest, scan.key.key_id, scan.sha256, scan.size)


def import_bundle(
    archive: Path,
    bundles_dir: Path,
    tmp_dir: Path,
    trusted: list[TrustedKey],
    limits: Limits,
) -> ImportedBundle:
    """Verify ``archive`` and install it read-only as ``bundles_dir/NAME/VERSION``.

    Re-importing a bundle whose bundle.yml is byte-identical to the installed one checks the
    archive and changes nothing (``already_present=True``; key_id and sha256 are then those
    recorded at the first import). A different bundle with the same name and version raises
    ``Conflict``.
    """
    bundles_dir, tmp_dir = Path(bundles_dir), Path(tmp_dir)
    present: list[Path] = []
    works: list[Path] = []

    def choose_dest(manifest: Manifest, manifest_bytes: bytes) -> Path | None:
        # Called once the signed manifest passed its checks and limits: nothing is created on
        # disk before (a refused archive leaves not even an empty temporary folder).
        target = bundles_dir / manifest.name / manifest.version
        if _installed_identical(target, manifest, manifest_bytes):
            present.append(target)
            return None  # still read it all, so a damaged archive is reported as such
        works.append(_make_work(tmp_dir))
        tree = works[0] / "tree"
        tree.mkdir(mode=0o755)
        return tree

    try:
        scan = scan_archive(Path(archive), trusted, limits, choose_dest)
        manifest = scan.manifest
        target = bundles_dir / manifest.name / manifest.version
        if present:
            return read_imported(target)
        tree = works[0] / "tree"
        try:
            _write_meta(tree, scan, hashlib.sha256(scan.manifest_bytes).hexdigest())
            make_read_only(tree, keep_root_writable=True)
            _fsync_dir(tree)
        except OSError as e:
            raise BundleError(
                f"cannot finish the import in {tree}: {e.strerror or e}",
                "Check free space and permissions of the data directory.",
            ) from e
        if not _move_into_place(tree, target, manifest, scan.manifest_bytes):
            return read_imported(target)
        logger.info(
            "imported bundle %s %s (key %s)", manifest.name, manifest.version, scan.key.key_id
        )
        return ImportedBundle(manifest, target, scan.key.key_id, scan.sha256, False)
    finally:
        for work in works:
            remove_tree(work)


def _make_work(tmp_dir: Path) -> Path:
    try:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="import-", dir=tmp_dir))
    except OSError as e:
        raise BundleError(
            f"cannot create a temporary folder in {tmp_dir}: {e.strerror or e}",
            "Check free space and permissions of the data directory.",
        ) from e


def read_imported(path: Path) -> ImportedBundle:
    """Describe an imported bundle folder from its bundle.yml and .bundle-meta.json."""
    path = Path(path)
    try:
        manifest = parse_manifest((path / MANIFEST_NAME).read_bytes())
        meta = json.loads((path / META_NAME).read_text(encoding="utf-8"))
        return ImportedBundle(
            manifest, path, str(meta["key_id"]), str(meta["archive_sha256"]), True
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BundleError(
            f"imported bundle folder {path} is damaged ({e})",
            "Delete the folder and import the bundle again.",
        ) from e


def _installed_identical(target: Path, manifest: Manifest, manifest_bytes: bytes) -> bool:
    """True if ``target`` holds this very bundle; Conflict if it holds another one."""
    if not os.path.lexists(target):
        return False
    try:
        installed = (target / MANIFEST_NAME).read_bytes()
    except OSError:
        installed = None
    if installed == manifest_bytes:
        return True
    raise Conflict(
        f"bundle {manifest.name} {manifest.version} is already imported with different content",
        "A vendor must give every changed bundle a new version. If the imported one is wrong, "
        f"delete {target} (no run may be using it) and import again.",
    )


def _write_meta(tree: Path, scan: Scan, manifest_sha256: str) -> None:
    meta: dict[str, Any] = {
        "meta_format": META_FORMAT,
        "name": scan.manifest.name,
        "version": scan.manifest.version,
        "archive_sha256": scan.sha256,
        "archive_bytes": scan.size,
        "manifest_sha256": manifest_sha256,
        "key_id": scan.key.key_id,
        "manifest": scan.manifest.to_json(),
    }
    with open(tree / META_NAME, "w", encoding="utf-8") as f:
        f.write(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a folder's entries (new files, a rename into it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(tree: Path, target: Path, manifest: Manifest, manifest_bytes: bytes) -> bool:
    """Rename ``tree`` to ``target``; False if an identical copy won a race to get there."""
    parent = target.parent
    created_parent = not parent.exists()
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BundleError(
            f"cannot create {parent}: {e.strerror or e}",
            "Check the bundles folder of the data directory.",
        ) from e
    try:
        os.rename(tree, target)
    except OSError as e:
        if created_parent:
            try:
                parent.rmdir()
            except OSError:
                pass  # another import put something there meanwhile; it is theirs
        if e.errno in (errno.EEXIST, errno.ENOTEMPTY):
            _installed_identical(target, manifest, manifest_bytes)  # Conflict if different
            return False
        if e.errno == errno.EXDEV:
            raise BundleError(
                f"cannot move the import into {target}: the temporary folder is on another "
                "filesystem",
                "Keep the temporary folder inside the data directory.",
            ) from e
        raise BundleError(
            f"cannot move the import into {target}: {e.strerror or e}",
            "Check free space and permissions of the data directory.",
        ) from e
    try:
        os.chmod(target, 0o555)
        _fsync_dir(parent)
    except OSError as e:
        logger.warning("could not make %s read-only and durable: %s", target, e)
    return True
