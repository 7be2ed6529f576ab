"""Which public keys the appliance trusts: shipped vendor keys plus keys the user added."""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.bundle.signing import key_id as compute_key_id
from appliance.bundle.signing import load_public_key, public_pem
from appliance.errors import BundleError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrustedKey:
    key_id: str
    public_key: Ed25519PublicKey = field(compare=False, repr=False)
    source: Path = field(compare=False)


def load_trusted_keys(*folders: Path) -> list[TrustedKey]:
    """Every ``*.pub`` in ``folders`` (a missing folder has none), each key once.

    A file that is not a valid key is skipped with a warning: it must not make every other
    trusted key unusable, and skipping it can only trust less.
    """
    keys: dict[str, TrustedKey] = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.pub")):
            try:
                public_key = load_public_key(path)
            except BundleError as e:
                logger.warning("ignoring trusted key file %s: %s", path, e.message)
                continue
            kid = compute_key_id(public_key)
            keys.setdefault(kid, TrustedKey(kid, public_key, path))
    return list(keys.values())


def add_trusted_key(user_keys_dir: Path, pubfile: Path) -> TrustedKey:
    """Trust ``pubfile``: check it and store it as ``<key_id>.pub`` (nothing to do if known)."""
    public_key = load_public_key(pubfile)
    kid = compute_key_id(public_key)
    user_keys_dir = Path(user_keys_dir)
    for known in load_trusted_keys(user_keys_dir):
        if known.key_id == kid:
            return known
    user_keys_dir.mkdir(parents=True, exist_ok=True)
    target = user_keys_dir / f"{kid}.pub"
    # Written to a temporary name and moved, so a reader never sees half a key.
    fd, tmp = tempfile.mkstemp(dir=user_keys_dir, prefix=".tmp-", suffix=".pub-new")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(public_pem(public_key))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("trusted key %s from %s", kid, pubfile)
    return TrustedKey(kid, public_key, target)
