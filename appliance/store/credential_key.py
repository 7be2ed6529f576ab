"""The key that encrypts site credentials (AES-256-GCM), and where it lives.

``<data>/credentials.json`` (mode 0600) records how the key is found, never the key itself::

    {"version": 1, "key_id": "<random hex>", "source": "keyring" | "file" | "passphrase",
     "salt": "<b64>" (passphrase only), "check": "<b64 nonce+ciphertext of a known text>"}

- ``keyring``: 32 random bytes in the OS keyring (service ``appliance-credentials``, user
  ``key_id``), when the optional ``keyring`` package is installed and has a usable backend;
- ``file``: 32 random bytes, base64, in ``<data>/credentials.key`` with mode 0600 (refused
  when group or others can read it);
- ``passphrase``: derived with scrypt from a passphrase the user types, never stored.

``check`` tells a wrong passphrase or a replaced key apart from damaged data.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from appliance.errors import ApplianceError, BadRequest, Conflict

logger = logging.getLogger(__name__)

META_NAME = "credentials.json"
KEY_FILE_NAME = "credentials.key"
KEYRING_SERVICE = "appliance-credentials"
SOURCES = ("auto", "keyring", "file", "passphrase")
_CHECK_TEXT = b"appliance credentials key check v1"
_SCRYPT = {"length": 32, "n": 2**15, "r": 8, "p": 1}


class CredentialKeyError(ApplianceError):
    """The credentials key cannot be found or opened; nothing was decrypted."""

    status = 409
    default_hint = "Set the site's credentials again (appliance site credentials SITE ...)."


class PassphraseNeeded(CredentialKeyError):
    status = 423
    default_code = "credentials.locked"
    default_hint = (
        "Unlock the credentials in the window (a site's Credentials section), or type the "
        "passphrase when the command prompts for it on a terminal."
    )


@dataclass(frozen=True)
class CredentialKey:
    key_id: str
    key: bytes
    source: str

    def __repr__(self) -> str:  # never the key
        return f"CredentialKey(key_id={self.key_id!r}, source={self.source!r})"

    def aesgcm(self) -> AESGCM:
        return AESGCM(self.key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def keyring_backend():
    """The OS keyring if the optional ``keyring`` package has a usable backend, else None."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken desktop keyring must not stop the appliance
        logger.warning("the OS keyring is not usable; using a key file", exc_info=True)
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    return backend


def _derive(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, **_SCRYPT).derive(passphrase.encode("utf-8"))


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def key_info(root: Path) -> dict | None:
    """What ``credentials.json`` says (no secret in it), or None when no key exists yet."""
    path = Path(root) / META_NAME
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise CredentialKeyError(
            f"{path} is unreadable: {e}",
            "Restore it from a backup, or delete it and every site's credentials and set them "
            "again.",
        ) from e
    if not isinstance(meta, dict) or meta.get("source") not in SOURCES[1:]:
        raise CredentialKeyError(f"{path} is not a credentials key description")
    return meta


def load_key(root: Path, passphrase: str | None = None) -> CredentialKey:
    """The existing key; CredentialKeyError (or PassphraseNeeded) when it cannot be opened."""
    root = Path(root)
    meta = key_info(root)
    if meta is None:
        raise CredentialKeyError(
            "no credentials have been stored in this data folder yet",
            "Set a site's credentials first (appliance site credentials SITE ...).",
        )
    key_id, source = meta["key_id"], meta["source"]
    if source == "keyring":
        backend = keyring_backend()
        secret = backend.get_password(KEYRING_SERVICE, key_id) if backend else None
        if not secret:
            raise CredentialKeyError(
                f"the credentials key {key_id} is not in the OS keyring",
                "Unlock the desktop keyring (log in graphically), or set the sites' credentials "
                "again.",
            )
        key = _unb64(secret)
    elif source == "file":
        key = _unb64(_read_key_file(root / KEY_FILE_NAME))
    else:
        if passphrase is None:
            raise PassphraseNeeded("the site credentials are protected by a passphrase")
        key = _derive(passphrase, _unb64(meta["salt"]))
    found = CredentialKey(key_id, key, source)
    _verify(found, meta)
    return found


def _read_key_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CredentialKeyError(
                f"{path} can be read by other users (mode {stat.S_IMODE(mode):o})",
                f"Run `chmod 600 {path}`.",
            )
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError as e:
        raise CredentialKeyError(
            f"the credentials key file {path} is missing",
            "Restore it from a backup, or set every site's credentials again.",
        ) from e


def _verify(found: CredentialKey, meta: dict) -> None:
    blob = _unb64(meta["check"])
    try:
        found.aesgcm().decrypt(blob[:12], blob[12:], found.key_id.encode())
    except InvalidTag as e:
        if found.source == "passphrase":
            raise PassphraseNeeded(
                "wrong credentials passphrase",
                "Type the passphrase again.",
                code="credentials.wrong_passphrase",
            ) from e
        raise CredentialKeyError(
            f"the credentials key ({found.source}) does not match this data folder"
        ) from e


def create_key(root: Path, source: str = "auto", passphrase: str | None = None) -> CredentialKey:
    """Make the key (once per data folder); Conflict when one exists."""
    root = Path(root)
    if key_info(root) is not None:
        raise Conflict("a credentials key exists already", "Use it (load_key).")
    if source not in SOURCES:
        raise BadRequest(f"unknown key source {source!r}", f"Use one of {', '.join(SOURCES)}.")
    backend = keyring_backend() if source in ("auto", "keyring") else None
    if source == "keyring" and backend is None:
        raise BadRequest(
            "no usable OS keyring (the keyring package or its backend is missing)",
            "Use the key file (--key-source file) or a passphrase.",
        )
    if source == "auto":
        source = "keyring" if backend is not None else "file"
    key_id = secrets.token_hex(8)
    meta: dict = {"version": 1, "key_id": key_id, "source": source}
    if source == "passphrase":
        if not passphrase:
            raise PassphraseNeeded("a passphrase is needed to protect the credentials")
        salt = os.urandom(16)
        key = _derive(passphrase, salt)
        meta["salt"] = _b64(salt)
    else:
        key = AESGCM.generate_key(bit_length=256)
        if source == "keyring":
            backend.set_password(KEYRING_SERVICE, key_id, _b64(key))
        else:
            _write_private(root / KEY_FILE_NAME, _b64(key) + "\n")
    made = CredentialKey(key_id, key, source)
    nonce = os.urandom(12)
    meta["check"] = _b64(nonce + made.aesgcm().encrypt(nonce, _CHECK_TEXT, key_id.encode()))
    _write_private(root / META_NAME, json.dumps(meta, indent=2) + "\n")
    logger.info("created the credentials key %s (%s)", key_id, source)
    return made


def restore_key_file(root: Path, key: CredentialKey) -> None:
    """Put a key taken from a backup into the (restored) data folder ``root`` as a key file:
    ``credentials.json`` must describe the same key (its check must open with it)."""
    root = Path(root)
    meta = key_info(root)
    if meta is None or meta["key_id"] != key.key_id:
        raise CredentialKeyError(
            "the backup's credentials key does not belong to its credentials.json",
            "Use a backup written by `appliance data backup` unchanged.",
        )
    _verify(CredentialKey(key.key_id, key.key, "file"), meta)
    _write_private(root / KEY_FILE_NAME, _b64(key.key) + "\n")
    meta = {**meta, "source": "file"}
    meta.pop("salt", None)
    _write_private(root / META_NAME, json.dumps(meta, indent=2) + "\n")


def load_or_create_key(
    root: Path, source: str = "auto", passphrase: str | None = None
) -> CredentialKey:
    if key_info(root) is None:
        return create_key(root, source, passphrase)
    return load_key(root, passphrase)
