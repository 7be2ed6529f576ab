"""The vendor side: turn an Ansible project with a bundle.yml into a signed, reproducible
bundle archive. The same project and key always give the same bytes."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import os
import stat
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from appliance.bundle.deflate import ParallelGzipWriter
from appliance.bundle.manifest import (
    MANIFEST_NAME,
    RESERVED_NAMES,
    SIGNATURE_NAME,
    Manifest,
    dump_manifest,
    parse_manifest,
)
from appliance.bundle.safety import check_relpath
from appliance.bundle.signing import load_private_key, sign
from appliance.errors import BundleError

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024
SKIP_DIRS = frozenset({".git", "__pycache__"})
SKIP_SUFFIXES = (".pyc",)
# A fixed, valid timestamp (2000-01-01) so rebuilding the same project gives the same bytes.
FIXED_MTIME = 946684800


# check(project folder, manifest): raises BundleError when the content cannot run
ContentCheck = Callable[[Path, Manifest], None]


def build_bundle(
    src_dir: Path, key_path: Path, out: Path, *, check: ContentCheck | None = None
) -> Path:
    """Hash every file of ``src_dir``, sign the manifest, write ``out`` (or ``out/NAME-VERSION
    .bundle`` if ``out`` is a folder) atomically. Returns the archive's path.

    ``check`` runs on the finished manifest before anything is written (the appliance's build
    command passes Ansible's syntax check of every playbook; this library knows no Ansible)."""
    src_dir = Path(src_dir)
    source = src_dir / MANIFEST_NAME
    if not source.is_file():
        raise BundleError(
            f"{src_dir} has no {MANIFEST_NAME}",
            "Build from the bundle's project folder (the one holding bundle.yml).",
        )
    private_key = load_private_key(key_path)
    draft = parse_manifest(source.read_bytes(), source=True)
    out = Path(out)
    target = out / f"{draft.name}-{draft.version}.bundle" if out.is_dir() else out
    files = _project_files(src_dir, skip=target)
    hashes = {path: _sha256(src_dir / path) for path in files}
    # Re-parsing the canonical dump checks the finished manifest exactly as import will.
    manifest_bytes = dump_manifest(dataclasses.replace(draft, files=hashes))
    manifest = parse_manifest(manifest_bytes)
    if check is not None:
        check(src_dir, manifest)
    signature = sign(private_key, manifest_bytes)
    _write_archive(target, src_dir, manifest, manifest_bytes, signature)
    logger.info("built %s (%d files)", target, len(files))
    return target


def _project_files(src_dir: Path, skip: Path) -> list[str]:
    """Relative paths of the files to ship, sorted; refuses links and special files."""
    skip_resolved = skip.resolve()
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(src_dir, onerror=_walk_error):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(src_dir).as_posix()
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                raise BundleError(
                    f"{rel} in the project is a symbolic link",
                    "Bundles hold only regular files: replace the link with a copy of its "
                    "target (or remove it).",
                )
            if name in dirnames:
                continue
            if name.endswith(SKIP_SUFFIXES):
                continue
            if rel in (MANIFEST_NAME, SIGNATURE_NAME) or path.resolve() == skip_resolved:
                continue
            if not stat.S_ISREG(mode):
                raise BundleError(
                    f"{rel} in the project is not a regular file",
                    "Remove it from the project folder.",
                )
            if rel in RESERVED_NAMES:
                raise BundleError(f"{rel} is a name the appliance reserves", "Rename or remove it.")
            found.append(check_relpath(rel, "project file"))
    return sorted(found)


def _walk_error(e: OSError) -> None:
    # os.walk would silently leave out a folder it cannot list; a bundle must not.
    raise BundleError(
        f"cannot read {e.filename}: {e.strerror or e}", "Fix the permissions of the project folder."
    ) from e


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _HashingFile:
    """Hashes what tarfile copies, so a file changed since it was hashed is caught."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        self.sha256.update(data)
        return data


def _tarinfo(name: str, size: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def _write_archive(
    target: Path, src_dir: Path, manifest: Manifest, manifest_bytes: bytes, signature: bytes
) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as raw:
            gz = ParallelGzipWriter(raw)
            try:
                _write_tar(gz, src_dir, manifest, manifest_bytes, signature)
                gz.close()
            except BaseException:
                gz.abort()
                raise
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _write_tar(
    gz: ParallelGzipWriter,
    src_dir: Path,
    manifest: Manifest,
    manifest_bytes: bytes,
    signature: bytes,
) -> None:
    # Large blocks: tarfile's defaults (10 KiB records, 16 KiB copies) cost more than hashing.
    with tarfile.open(
        fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK, copybufsize=CHUNK
    ) as tar:
        for name, data in ((MANIFEST_NAME, manifest_bytes), (SIGNATURE_NAME, signature)):
            tar.addfile(_tarinfo(name, len(data), 0o644), io.BytesIO(data))
        for rel, expected in manifest.files.items():
            path = src_dir / rel
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                mode = 0o755 if st.st_mode & 0o111 else 0o644
                hashing = _HashingFile(f)
                tar.addfile(_tarinfo(rel, st.st_size, mode), hashing)
            if hashing.sha256.hexdigest() != expected:
                raise BundleError(
                    f"{rel} changed while the bundle was being built",
                    "Build again once nothing is writing to the project.",
                )
