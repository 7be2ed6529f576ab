"""The appliance's own data: one archive to back the data folder up, and a restore into a new
(empty) data folder, e.g. on a new laptop.

The archive is an uncompressed tar (bundles are large and already compressed where it matters):

    appliance-backup.json        what this is: version, when, schema, what the key is
    appliance.db                 a consistent snapshot (SQLite's backup API, taken while the
                                 appliance runs: store/snapshot.py)
    credentials-key.json         the credentials key wrapped with the backup passphrase (scrypt +
                                 AES-256-GCM), only when the key is in a file or the OS keyring
    everything else in the data folder (bundles, keys, runs and their logs, reports, backups,
    logs, credentials.json, host keys, config.json), except what belongs to a running process
    (the live database files, server.json, tmp/, the launchers in bin/, Ansible's home, the
    window's browser profile) and the plain credentials key file.

A key derived from a credentials passphrase is never stored anywhere: the restored folder
asks for that same passphrase, as the old one did.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from appliance import __version__
from appliance.context import Context
from appliance.errors import BadRequest, Conflict, Unprocessable
from appliance.store import credential_key
from appliance.store.snapshot import snapshot

logger = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "appliance-backup.json"
DB_NAME = "appliance.db"
WRAPPED_KEY = "credentials-key.json"
# Kept out of a backup: the live database (a snapshot goes in instead), what only a running
# process needs, and the plain key (it goes in wrapped).
SKIPPED = {
    DB_NAME,
    f"{DB_NAME}-wal",
    f"{DB_NAME}-shm",
    f"{DB_NAME}-journal",
    "server.json",
    "tmp",
    "bin",
    "ansible",
    "webview",
    credential_key.KEY_FILE_NAME,
}
_SCRYPT = {"length": 32, "n": 2**15, "r": 8, "p": 1}
MIN_PASSPHRASE = 8


def needs_passphrase(ctx: Context) -> bool:
    """Whether a backup must wrap a key (the folder holds credentials in a file or keyring)."""
    info = credential_key.key_info(ctx.paths.root)
    return info is not None and info["source"] != "passphrase"


def backup(ctx: Context, target: Path, passphrase: str | None) -> dict[str, Any]:
    """Write the archive to ``target`` (atomically: a half-written backup never has the name)."""
    target = Path(target)
    if target.exists() and not target.is_file():
        raise BadRequest(f"{target} exists and is not a file", "Name a new file for the backup.")
    key = _wrapped_key(ctx, passphrase)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="backup-", dir=ctx.paths.tmp) as scratch:
        db_copy = Path(scratch) / DB_NAME
        schema = snapshot(ctx.paths.db, db_copy)
        info = {
            "format": FORMAT,
            "appliance": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "schema": schema,
            "key": "wrapped" if key else _key_kind(ctx),
        }
        fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
                _add_bytes(tar, MANIFEST, json.dumps(info, indent=2).encode())
                tar.add(db_copy, DB_NAME)
                if key:
                    _add_bytes(tar, WRAPPED_KEY, json.dumps(key).encode())
                files = _add_folder(tar, ctx.paths.root)
            os.chmod(partial, 0o600)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    logger.info("backup of %s written to %s (%d files)", ctx.paths.root, target, files)
    return {**info, "path": str(target), "files": files, "bytes": target.stat().st_size}


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:") as tar:
            member = tar.extractfile(MANIFEST)
            info = json.loads(member.read()) if member else None
    except (OSError, tarfile.TarError, KeyError, ValueError) as e:
        raise Unprocessable(
            f"{archive} is not an appliance backup ({e})",
            "Name the file `appliance data backup` wrote.",
        ) from e
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise Unprocessable(f"{archive} is not an appliance backup of format {FORMAT}")
    return info


def restore(
    archive: Path, root: Path, passphrase: str | None, *, force: bool = False
) -> dict[str, Any]:
    """Restore ``archive`` into the data folder ``root``, which must be missing or empty
    (``force``: a non-empty one is moved aside to ``<root>.before-restore-<time>`` first).
    Everything is checked and unpacked beside ``root`` first; a wrong passphrase or a bad
    archive leaves ``root`` as it was."""
    archive, root = Path(archive), Path(root)
    info = read_manifest(archive)
    if root.exists() and (not root.is_dir() or any(root.iterdir())) and not force:
        raise Conflict(
            f"the data folder {root} is not empty",
            "Restore into a new folder (--data-dir NEW_FOLDER), or add --force to move the "
            "current contents aside first.",
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{root.name}.restore-", dir=root.parent))
    try:
        with tarfile.open(archive, "r:") as tar:
            tar.extractall(work, filter="data")  # no absolute paths, no .., no devices
        wrapped = work / WRAPPED_KEY
        if wrapped.exists():
            key = _unwrap(json.loads(wrapped.read_text()), passphrase)
            credential_key.restore_key_file(work, key)
            wrapped.unlink()
        (work / MANIFEST).unlink()
        os.chmod(work, 0o700)
        moved_aside = None
        if root.exists():
            if root.is_dir() and not any(root.iterdir()):
                root.rmdir()
            else:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
                moved_aside = root.with_name(f"{root.name}.before-restore-{stamp}")
                os.replace(root, moved_aside)
        os.replace(work, root)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    logger.info("restored %s into %s", archive, root)
    return {**info, "root": str(root), "moved_aside": str(moved_aside) if moved_aside else None}


# -- the key ------------------------------------------------------------------------------------
def _key_kind(ctx: Context) -> str:
    info = credential_key.key_info(ctx.paths.root)
    return "none" if info is None else "passphrase"  # derived: never stored


def _wrapped_key(ctx: Context, passphrase: str | None) -> dict[str, str] | None:
    if not needs_passphrase(ctx):
        return None
    if not passphrase or len(passphrase) < MIN_PASSPHRASE:
        raise BadRequest(
            f"a backup passphrase of at least {MIN_PASSPHRASE} characters is needed: the "
            "credentials key goes into the backup wrapped by it",
            "Give one (--passphrase-stdin, or type it when asked) and keep it apart from the "
            "backup file: the restore asks for it.",
        )
    key = credential_key.load_key(ctx.paths.root)
    salt, nonce = os.urandom(16), os.urandom(12)
    wrapping = Scrypt(salt=salt, **_SCRYPT).derive(passphrase.encode("utf-8"))
    sealed = AESGCM(wrapping).encrypt(nonce, key.key, key.key_id.encode())
    return {"key_id": key.key_id, "salt": _b64(salt), "nonce": _b64(nonce), "key": _b64(sealed)}


def _unwrap(wrapped: dict[str, str], passphrase: str | None) -> credential_key.CredentialKey:
    if not passphrase:
        raise BadRequest(
            "this backup holds the credentials key: its passphrase is needed",
            "Give the passphrase typed at backup time (--passphrase-stdin, or when asked).",
        )
    wrapping = Scrypt(salt=_unb64(wrapped["salt"]), **_SCRYPT).derive(passphrase.encode("utf-8"))
    try:
        key = AESGCM(wrapping).decrypt(
            _unb64(wrapped["nonce"]), _unb64(wrapped["key"]), wrapped["key_id"].encode()
        )
    except InvalidTag as e:
        raise BadRequest(
            "wrong backup passphrase", "Type the passphrase given when the backup was made."
        ) from e
    return credential_key.CredentialKey(wrapped["key_id"], key, "file")


# -- archive helpers ----------------------------------------------------------------------------
def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mode = 0o600
    member.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(member, io.BytesIO(data))


def _add_folder(tar: tarfile.TarFile, root: Path) -> int:
    count = 0
    for entry in sorted(root.iterdir()):
        if entry.name in SKIPPED or entry.name.startswith("."):
            continue
        for path in [entry, *sorted(entry.rglob("*"))] if entry.is_dir() else [entry]:
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                continue  # sockets, fifos, links: nothing a restore needs
            try:
                tar.add(path, str(path.relative_to(root)), recursive=False)
            except FileNotFoundError:  # removed meanwhile (retention): not part of the backup
                continue
            count += path.is_file()
    return count


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


# -- the window's side (routes/data.py) -----------------------------------------------------------
def data_info(ctx: Context) -> dict[str, Any]:
    """What the Data screen shows: where the folder is, whether a backup needs a passphrase,
    a new folder to restore into, and the snapshots of the sites' records."""
    from appliance.store import site_snapshots

    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return {
        "data_dir": str(ctx.paths.root),
        "key": "wrapped" if needs_passphrase(ctx) else _key_kind(ctx),
        "needs_passphrase": needs_passphrase(ctx),
        "min_passphrase": MIN_PASSPHRASE,
        "restore_folder": str(ctx.paths.root.with_name(f"{ctx.paths.root.name}-restored-{stamp}")),
        "backup_file": str(Path.home() / f"appliance-backup-{stamp}.tar"),
        "snapshots": site_snapshots.list_snapshots(ctx.paths.snapshots),
    }


def backup_download(ctx: Context, passphrase: str | None) -> tuple[BinaryIO, str, int]:
    """A backup for the window to download: (open file, file name, size). The file is written
    in this process's tmp (never part of a backup) and unlinked at once: the open file is all
    that is left of it, gone when the answer is sent or the client goes away."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"appliance-backup-{stamp}.tar"
    ctx.paths.tmp.mkdir(parents=True, exist_ok=True)
    path = ctx.paths.tmp / f"download-{os.urandom(6).hex()}.tar"
    try:
        done = backup(ctx, path, passphrase)
        stream = path.open("rb")
    finally:
        path.unlink(missing_ok=True)
    return stream, name, done["bytes"]


def backup_to_file(ctx: Context, path: str, passphrase: str | None) -> dict[str, Any]:
    """A backup the window writes on this computer (where the appliance runs): an absolute
    path outside the data folder (a backup inside it would go into the next one)."""
    target = Path(path or "").expanduser()
    if not path or not target.is_absolute():
        raise BadRequest(
            "the backup file must be an absolute path", "Name a file, e.g. the one suggested."
        )
    target = Path(os.path.abspath(target))
    if target.is_relative_to(ctx.paths.root.resolve()):
        raise Conflict(
            f"{target} is inside the data folder",
            "Save the backup outside it, best on a disk that leaves with you.",
        )
    if target.exists():
        raise Conflict(f"{target} exists", "Name a new file: a backup never overwrites one.")
    return backup(ctx, target, passphrase)


def restore_upload(
    ctx: Context, body: BinaryIO, length: int | None, folder: str, passphrase: str | None
) -> dict[str, Any]:
    """An archive sent by the window restored into a NEW folder (never the running one's):
    the body is spooled to this process's tmp (bounded by its Content-Length and the free
    space), checked and unpacked as :func:`restore` does, then removed."""
    target = _restore_target(ctx, folder)
    if length is None or length <= 0:
        raise BadRequest("the backup's size is missing", "Send the file with its Content-Length.")
    ctx.paths.tmp.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(ctx.paths.tmp).free
    if length * 2 > free:  # the upload, then what is unpacked from it
        raise Unprocessable(
            f"not enough free space for a {length}-byte backup ({free} bytes free)",
            "Free some space (twice the backup's size), then restore again.",
        )
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=".tar", dir=ctx.paths.tmp)
    upload = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            remaining = length
            while remaining > 0:
                chunk = body.read(min(1024 * 1024, remaining))
                if not chunk:
                    raise BadRequest("the upload ended early", "Send the backup again.")
                out.write(chunk)
                remaining -= len(chunk)
        info = read_manifest(upload)
        if info.get("key") == "wrapped" and not passphrase:
            raise BadRequest(
                "this backup holds the credentials key: its passphrase is needed",
                "Type the passphrase given when the backup was made.",
            )
        done = restore(upload, target, passphrase)
    finally:
        upload.unlink(missing_ok=True)
    return done


def _restore_target(ctx: Context, folder: str) -> Path:
    target = Path(folder or "").expanduser()
    if not folder or not target.is_absolute():
        raise BadRequest(
            "the folder to restore into must be an absolute path",
            "Name a new folder, e.g. the one suggested.",
        )
    target, root = Path(os.path.abspath(target)), ctx.paths.root.resolve()
    if target == root or target.is_relative_to(root) or root.is_relative_to(target):
        raise Conflict(
            f"{target} is this appliance's own data folder (or holds it)",
            "A running appliance keeps its folder: restore into a new folder, then start the "
            "appliance on it (--data-dir).",
        )
    return target
