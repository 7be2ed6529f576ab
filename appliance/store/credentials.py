"""A site's credentials: SSH private key, SSH password, become (sudo) password.

Stored encrypted in the ``credential`` table (one row per site and kind: nonce, AES-256-GCM
ciphertext, the id of the key that made it); the key is described in credential_key.py. The
associated data binds a ciphertext to its key, site and kind, so rows cannot be swapped.
Plaintext exists only in memory: the command line reads it from a file or stdin, the HTTP API
from a request body, and the run engine hands it to ansible-runner (ssh_key fifo, passwords
answered on the pty) and to :class:`Redactor`, which removes it from every text written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization

from appliance.errors import BadRequest
from appliance.store import Store
from appliance.store.credential_key import CredentialKey, CredentialKeyError, load_key
from appliance.store.models import Credential

KINDS = ("ssh_key", "password", "become_password")
MAX_SECRET = 16_384
REDACTED = "********"


@dataclass(frozen=True)
class SiteSecrets:
    ssh_key: str | None = None
    password: str | None = None
    become_password: str | None = None

    def __repr__(self) -> str:  # never the values
        return f"SiteSecrets(kinds={self.kinds()})"

    def kinds(self) -> list[str]:
        return [k for k in KINDS if getattr(self, k)]

    def __bool__(self) -> bool:
        return bool(self.kinds())

    def redactor(self) -> Redactor:
        return Redactor(self.values())

    def values(self) -> list[str]:
        """Every text that must never be written: the passwords, the key and its lines."""
        found = [v for v in (self.password, self.become_password) if v]
        if self.ssh_key:
            found.append(self.ssh_key.strip())
            found += [
                line
                for line in self.ssh_key.splitlines()
                if len(line.strip()) >= 16 and not line.startswith("-----")
            ]
        return found


class Redactor:
    """Replaces known secret values in text; longest first, so a key's lines go with it."""

    def __init__(self, values: Iterable[str]) -> None:
        unique = sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, unique))) if unique else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def __bool__(self) -> bool:
        return self._pattern is not None


# -- checking what is given -------------------------------------------------------------------
def check_ssh_key(text: str) -> str:
    """A private key ssh-add can load without asking anything; returns it normalized (LF line
    ends and a final newline, which ssh-add needs)."""
    key = text.replace("\r\n", "\n").strip() + "\n"
    if len(key) > MAX_SECRET or "PRIVATE KEY-----" not in key:
        raise BadRequest(
            "ssh_key is not a private key (expected -----BEGIN ... PRIVATE KEY-----)",
            "Give the private key file (e.g. ~/.ssh/id_ed25519), not the .pub file.",
        )
    data = key.encode()
    try:
        if "BEGIN OPENSSH PRIVATE KEY" in key:
            serialization.load_ssh_private_key(data, password=None)
        else:
            serialization.load_pem_private_key(data, password=None)
    except TypeError as e:  # cryptography: "Password was not given but private key is encrypted"
        raise BadRequest(
            "ssh_key is protected by a passphrase",
            "Give a key without passphrase (ssh-keygen -p -N '' -f COPY_OF_KEY), the appliance "
            "encrypts it at rest itself.",
        ) from e
    except (ValueError, UnsupportedKey) as e:
        raise BadRequest(
            "ssh_key could not be read as a private key", "Give an OpenSSH or PEM private key."
        ) from e
    return key


try:  # older cryptography raises UnsupportedAlgorithm for some key types
    from cryptography.exceptions import UnsupportedAlgorithm as UnsupportedKey
except ImportError:  # pragma: no cover
    UnsupportedKey = ValueError  # type: ignore[misc,assignment]


def check_password(kind: str, text: str) -> str:
    if not text or "\n" in text or "\r" in text or len(text) > 1024:
        raise BadRequest(
            f"{kind} must be one line of 1..1024 characters",
            "Give the password without a line break.",
        )
    return text


def parse_secrets(data: Mapping[str, Any]) -> dict[str, str]:
    """Validate ``{"ssh_key"?, "password"?, "become_password"?}`` (strings)."""
    unknown = sorted(set(data) - set(KINDS))
    if unknown:
        # the names are not repeated: a secret pasted where a kind belongs would come back
        raise BadRequest(
            f"unknown credential kind(s): {len(unknown)} field(s) not recognised "
            "(not repeated here, in case one is a secret)",
            f"Allowed: {', '.join(KINDS)}.",
        )
    clean: dict[str, str] = {}
    for kind in KINDS:
        value = data.get(kind)
        if value is None:
            continue
        if not isinstance(value, str):
            raise BadRequest(f"{kind} must be a string", f"Send {kind!r} as a string.")
        clean[kind] = check_ssh_key(value) if kind == "ssh_key" else check_password(kind, value)
    return clean


# -- rows -------------------------------------------------------------------------------------
def _aad(key: CredentialKey, site_id: int, kind: str) -> bytes:
    return f"appliance/credential/v1/{key.key_id}/{site_id}/{kind}".encode()


def set_credentials(
    store: Store,
    key: CredentialKey | None,
    site_id: int,
    values: Mapping[str, str],
    clear: Iterable[str] = (),
) -> list[str]:
    """Store (replace) the given kinds and delete the ``clear`` kinds in one transaction;
    returns the kinds now set. ``values`` come from :func:`parse_secrets`; ``key`` may be None
    when there are none (only clearing)."""
    rows = []
    for kind, value in values.items():
        assert key is not None, "a key is needed to store credentials"
        aead = key.aesgcm()
        nonce = os.urandom(12)
        rows.append((kind, nonce, aead.encrypt(nonce, value.encode(), _aad(key, site_id, kind))))

    def write() -> list[str]:
        gone = [k for k in clear if k not in values]
        if gone:
            Credential.delete().where(
                (Credential.site == site_id) & Credential.kind.in_(gone)
            ).execute()
        now = store.now()
        for kind, nonce, ciphertext in rows:
            Credential.delete().where(
                (Credential.site == site_id) & (Credential.kind == kind)
            ).execute()
            Credential.create(
                site=site_id,
                kind=kind,
                key_id=key.key_id,  # type: ignore[union-attr]
                nonce=nonce,
                ciphertext=ciphertext,
                created_at=now,
            )
        return credential_kinds(site_id)

    return store.write(write)


def credential_kinds(site_id: int) -> list[str]:
    """Which kinds a site has (no decryption, no key needed)."""
    found = {c.kind for c in Credential.select(Credential.kind).where(Credential.site == site_id)}
    return [k for k in KINDS if k in found]


def load_credentials(
    root: Path, site_id: int, passphrase: str | None = None, key: CredentialKey | None = None
) -> SiteSecrets:
    """Decrypt a site's credentials (with ``key`` when it is already open, e.g. unlocked from
    the window); an empty SiteSecrets when it has none (no key needed)."""
    rows = list(Credential.select().where(Credential.site == site_id))
    if not rows:
        return SiteSecrets()
    key = key or load_key(root, passphrase)
    aead = key.aesgcm()
    values: dict[str, str] = {}
    for row in rows:
        if row.key_id != key.key_id:
            raise CredentialKeyError(
                f"the {row.kind} of site {site_id} was encrypted with another key ({row.key_id})",
                "Set the site's credentials again.",
            )
        try:
            plain = aead.decrypt(
                bytes(row.nonce), bytes(row.ciphertext), _aad(key, site_id, row.kind)
            )
        except InvalidTag as e:
            raise CredentialKeyError(
                f"the {row.kind} of site {site_id} cannot be decrypted (damaged or moved)",
                "Set the site's credentials again.",
            ) from e
        values[row.kind] = plain.decode()
    return SiteSecrets(**values)
