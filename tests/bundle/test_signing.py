from __future__ import annotations

import stat
from pathlib import Path

import pytest

from appliance.bundle import (
    add_trusted_key,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    load_trusted_keys,
    sign,
    verify_signature,
)
from appliance.errors import BundleError
from tests.bundle.conftest import Keys


def test_generate_keypair_writes_private_0600_and_public(tmp_path: Path) -> None:
    key_path, pub_path = generate_keypair(tmp_path / "acme.v1")
    assert (key_path.name, pub_path.name) == ("acme.v1.key", "acme.v1.pub")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pub_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    private = load_private_key(key_path)
    assert key_id(load_public_key(pub_path)) == key_id(private.public_key())


def test_generate_keypair_never_overwrites(tmp_path: Path) -> None:
    key_path, _ = generate_keypair(tmp_path / "k")
    before = key_path.read_bytes()
    with pytest.raises(BundleError, match="already exists"):
        generate_keypair(tmp_path / "k")
    assert key_path.read_bytes() == before
    (tmp_path / "p.pub").write_text("someone else's")
    with pytest.raises(BundleError, match="already exists"):
        generate_keypair(tmp_path / "p")
    assert not (tmp_path / "p.key").exists()


def test_key_id_is_short_hex(keys: Keys) -> None:
    kid = key_id(keys.private_key.public_key())
    assert len(kid) == 16 and int(kid, 16) >= 0
    assert keys.trusted[0].key_id == kid


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "not a readable PEM"),
        (b"garbage", "not a readable PEM"),
        (b"x" * 100_000, "too large"),
    ],
)
def test_loading_bad_key_files_is_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.pem"
    path.write_bytes(content)
    for loader in (load_private_key, load_public_key):
        with pytest.raises(BundleError, match=expected) as info:
            loader(path)
        assert info.value.hint


def test_public_and_private_files_are_not_interchangeable(keys: Keys) -> None:
    with pytest.raises(BundleError, match="private key"):
        load_private_key(keys.pub_path)
    with pytest.raises(BundleError, match="public key"):
        load_public_key(keys.key_path)
    with pytest.raises(BundleError, match="cannot read"):
        load_public_key(keys.pub_path.with_name("missing.pub"))


def test_other_algorithms_are_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp_path / "ec.pub"
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(BundleError, match="not an Ed25519 public key"):
        load_public_key(pub)


def test_sign_and_verify(keys: Keys, other_keys: Keys) -> None:
    data = b"format: 1\n"
    signature = sign(keys.private_key, data)
    both = other_keys.trusted + keys.trusted
    assert verify_signature(both, data, signature).key_id == keys.trusted[0].key_id
    for trusted, payload, sig in [
        (other_keys.trusted, data, signature),
        (both, data + b" ", signature),
        (both, data, signature[:-1]),
        (both, data, b""),
    ]:
        with pytest.raises(BundleError, match="signature does not match any trusted key") as info:
            verify_signature(trusted, payload, sig)
        assert "appliance key add" in info.value.hint
    with pytest.raises(BundleError, match="no trusted keys") as info:
        verify_signature([], data, signature)
    assert "appliance key add" in info.value.hint


def test_trusted_keys_from_folders(tmp_path: Path, keys: Keys, other_keys: Keys) -> None:
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    shipped.mkdir()
    (shipped / "vendor.pub").write_bytes(keys.pub_path.read_bytes())
    (shipped / "copy.pub").write_bytes(keys.pub_path.read_bytes())
    (shipped / "broken.pub").write_text("not a key")
    (shipped / "notes.txt").write_text("ignored")
    assert load_trusted_keys(tmp_path / "missing") == []
    found = load_trusted_keys(shipped, user, tmp_path / "missing")
    assert [k.key_id for k in found] == [keys.trusted[0].key_id]

    added = add_trusted_key(user, other_keys.pub_path)
    assert added.source == user / f"{added.key_id}.pub"
    assert add_trusted_key(user, other_keys.pub_path) == added  # idempotent
    assert sorted(p.name for p in user.iterdir()) == [f"{added.key_id}.pub"]
    ids = {k.key_id for k in load_trusted_keys(shipped, user)}
    assert ids == {keys.trusted[0].key_id, other_keys.trusted[0].key_id}


def test_add_trusted_key_refuses_non_keys(tmp_path: Path, keys: Keys) -> None:
    with pytest.raises(BundleError, match="not a readable PEM public key"):
        add_trusted_key(tmp_path / "user", keys.key_path)
    assert not (tmp_path / "user").exists()
