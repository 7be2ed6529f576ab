"""Password config values handed to a playbook without resting in plaintext on disk.

They go into an ansible-vault file (format 1.1, AES256: the format Ansible documents; written
with ``cryptography`` so the server never imports Ansible) under a random per-step vault
password. The file is passed as ``-e @file`` with ``--ask-vault-pass``; the vault password is
answered on Ansible's prompt by ansible-runner's ``passwords`` (typed into the pty, never echoed,
like the SSH and become passwords), and redacted from everything the appliance writes.
"""

from __future__ import annotations

import binascii
import os
import secrets
from collections.abc import Mapping
from typing import Any

import yaml
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

VAULT_PROMPT = r"^Vault password:\s*?$"  # Ansible's prompt for --ask-vault-pass
VAULT_FLAG = "--ask-vault-pass"
_HEADER = b"$ANSIBLE_VAULT;1.1;AES256"


def new_password() -> str:
    return secrets.token_urlsafe(32)


def encrypt(plaintext: bytes, password: str) -> bytes:
    """``plaintext`` as an ansible-vault 1.1 AES256 document."""
    salt = os.urandom(32)
    derived = PBKDF2HMAC(algorithm=hashes.SHA256(), length=80, salt=salt, iterations=10000).derive(
        password.encode()
    )
    cipher_key, hmac_key, iv = derived[:32], derived[32:64], derived[64:80]
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(cipher_key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    mac = hmac.HMAC(hmac_key, hashes.SHA256())
    mac.update(ciphertext)
    body = b"\n".join(binascii.hexlify(part) for part in (salt, mac.finalize(), ciphertext))
    text = binascii.hexlify(body)
    lines = [text[i : i + 80] for i in range(0, len(text), 80)]
    return b"\n".join([_HEADER, *lines]) + b"\n"


def vault_vars(values: Mapping[str, Any], password: str) -> bytes:
    """A vars file holding ``values``, encrypted whole (an extra vars file may be a vault)."""
    text = yaml.safe_dump(dict(values), sort_keys=True, allow_unicode=True, width=1000)
    return encrypt(text.encode("utf-8"), password)
