"""Keys for tests: a fresh private key as a site's credential would hold it."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


def openssh_private_key() -> str:
    """A new unencrypted Ed25519 key in OpenSSH's PEM form (what `ssh-keygen` writes)."""
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode()
    )
