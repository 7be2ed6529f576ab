"""Ed25519 keys and signatures: the vendor signs bundle.yml, the appliance checks it."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from appliance.errors import BundleError

if TYPE_CHECKING:
    from appliance.bundle.trust import TrustedKey

logger = logging.getLogger(__name__)

# Real key files are a few hundred bytes; refusing big ones keeps a wrong path cheap.
MAX_KEY_FILE_BYTES = 64 * 1024
SIGNATURE_BYTES = 64


def generate_keypair(prefix: Path) -> tuple[Path, Path]:
    """Write ``PREFIX.key`` (PKCS8 PEM, mode 0600) and ``PREFIX.pub``; never overwrite."""
    prefix = Path(prefix)
    key_path = prefix.with_name(prefix.name + ".key")
    pub_path = prefix.with_name(prefix.name + ".pub")
    for path in (key_path, pub_path):
        if os.path.lexists(path):
            raise BundleError(
                f"{path} already exists",
                "Choose another prefix, or move the old key away first (a lost private key "
                "cannot sign updates for sites that trust it).",
            )
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_new(key_path, private_pem, 0o600)
    try:
        _write_new(pub_path, public_pem(private_key.public_key()), 0o644)
    except BaseException:
        key_path.unlink()
        raise
    logger.info("generated key %s in %s", key_id(private_key.public_key()), key_path)
    return key_path, pub_path


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a PEM Ed25519 private key written by ``generate_keypair``."""
    data = _read_key_file(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise BundleError(
            f"{path} is not a readable PEM private key ({e})",
            "Give the PREFIX.key file written by 'appliance bundle keygen' (unencrypted).",
        ) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(
            f"{path} is a {type(key).__name__}, not an Ed25519 private key",
            "Bundles are signed with Ed25519; create a key with 'appliance bundle keygen'.",
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a PEM (SubjectPublicKeyInfo) Ed25519 public key."""
    data = _read_key_file(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise BundleError(
            f"{path} is not a readable PEM public key ({e})",
            "Give the PREFIX.pub file written by 'appliance bundle keygen'.",
        ) from e
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(
            f"{path} is a {type(key).__name__}, not an Ed25519 public key",
            "Give the PREFIX.pub file written by 'appliance bundle keygen'.",
        )
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    """Short fingerprint: the first 16 hex digits of sha256 over the raw 32-byte key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(private_key: Ed25519PrivateKey, data: bytes) -> bytes:
    """The 64-byte detached signature of ``data``."""
    return private_key.sign(data)


def verify_signature(trusted: list[TrustedKey], data: bytes, signature: bytes) -> TrustedKey:
    """Return the trusted key that signed ``data``; refuse if none did."""
    if not trusted:
        raise BundleError(
            "no trusted keys: the bundle's signature cannot be checked",
            "Trust the vendor's public key (Bundles screen, Trusted vendor keys, or "
            "'appliance key add PUBFILE') and try again.",
            code="bundle.no_trusted_keys",
        )
    if len(signature) == SIGNATURE_BYTES:
        for key in trusted:
            try:
                key.public_key.verify(signature, data)
            except InvalidSignature:
                continue
            return key
    known = ", ".join(key.key_id for key in trusted)
    raise BundleError(
        "signature does not match any trusted key (the bundle was altered, or signed by a "
        f"key this appliance does not trust; trusted: {known})",
        "If the vendor's key is new, trust it (Bundles screen, Trusted vendor keys, or "
        "'appliance key add PUBFILE'); otherwise ask the vendor for an intact bundle.",
        code="bundle.signature",
        params={"trusted": known},
    )


def _read_key_file(path: Path, what: str) -> bytes:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as e:
        raise BundleError(
            f"cannot read {what} {path}: {e.strerror or e}", "Check the path and its permissions."
        ) from e
    if len(data) > MAX_KEY_FILE_BYTES:
        raise BundleError(
            f"{path} is too large to be a {what}",
            "Give the PEM file written by 'appliance bundle keygen'.",
        )
    return data


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` exclusively (O_EXCL: never clobber a key) with ``mode`` from the start."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as e:
        raise BundleError(f"{path} already exists", "Choose another prefix.") from e
    except OSError as e:
        raise BundleError(
            f"cannot create {path}: {e.strerror or e}",
            "Check that the folder exists and is writable.",
        ) from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(path, mode)  # the umask may have narrowed or widened it
    except BaseException:
        path.unlink(missing_ok=True)
        raise
