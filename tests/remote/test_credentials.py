"""Credentials at rest: AES-GCM rows, the key file / passphrase, what is refused."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from appliance.context import Context
from appliance.errors import BadRequest
from appliance.store import credential_key, credentials, sites
from appliance.store.credential_key import CredentialKeyError, PassphraseNeeded

PASSWORD = "s3cret-Pa55word-for-tests"
BECOME = "become-Pa55word-for-tests"


@pytest.fixture(scope="module")
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("key") / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.read_text()


def make_site(ctx: Context, name: str = "s1") -> int:
    spec = sites.parse_site({"name": name, "hosts": [{"name": "a", "address": "10.0.0.1"}]})
    return sites.create_site(ctx.store, spec)["id"]


def test_round_trip_with_key_file(ctx: Context, ssh_key: str) -> None:
    site_id = make_site(ctx)
    key = credential_key.load_or_create_key(ctx.paths.root, source="file")
    values = credentials.parse_secrets({"ssh_key": ssh_key, "become_password": BECOME})
    assert credentials.set_credentials(ctx.store, key, site_id, values) == [
        "ssh_key",
        "become_password",
    ]
    got = credentials.load_credentials(ctx.paths.root, site_id)
    assert got.ssh_key == ssh_key and got.become_password == BECOME and got.password is None
    assert "ssh_key" in repr(got) and BECOME not in repr(got)
    key_file = ctx.paths.root / credential_key.KEY_FILE_NAME
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (ctx.paths.root / credential_key.META_NAME).stat().st_mode & 0o777 == 0o600
    # replacing one kind and clearing another
    credentials.set_credentials(
        ctx.store, key, site_id, {"password": PASSWORD}, clear=["become_password"]
    )
    assert credentials.credential_kinds(site_id) == ["ssh_key", "password"]
    # nothing in plaintext in the database file
    raw = b"".join(p.read_bytes() for p in ctx.paths.root.glob("appliance.db*"))
    assert PASSWORD.encode() not in raw and BECOME.encode() not in raw
    assert ssh_key.splitlines()[1].encode() not in raw
    # rows cannot be swapped between kinds (associated data)
    con = sqlite3.connect(ctx.paths.db)
    con.execute(
        "UPDATE credential SET kind = 'become_password' WHERE kind = 'password' AND site_id = ?",
        (site_id,),
    )
    con.commit()
    con.close()
    with pytest.raises(CredentialKeyError, match="cannot be decrypted"):
        credentials.load_credentials(ctx.paths.root, site_id)


def test_key_file_must_be_private(ctx: Context) -> None:
    site_id = make_site(ctx)
    key = credential_key.load_or_create_key(ctx.paths.root, source="file")
    credentials.set_credentials(ctx.store, key, site_id, {"password": PASSWORD})
    (ctx.paths.root / credential_key.KEY_FILE_NAME).chmod(0o644)
    with pytest.raises(CredentialKeyError, match="can be read by other users") as caught:
        credentials.load_credentials(ctx.paths.root, site_id)
    assert "chmod 600" in caught.value.hint


def test_passphrase_source(ctx: Context) -> None:
    site_id = make_site(ctx)
    key = credential_key.create_key(ctx.paths.root, "passphrase", "correct horse")
    credentials.set_credentials(ctx.store, key, site_id, {"password": PASSWORD})
    assert not (ctx.paths.root / credential_key.KEY_FILE_NAME).exists()
    meta = json.loads((ctx.paths.root / credential_key.META_NAME).read_text())
    assert meta["source"] == "passphrase" and "correct horse" not in json.dumps(meta)
    with pytest.raises(PassphraseNeeded):
        credentials.load_credentials(ctx.paths.root, site_id)
    with pytest.raises(PassphraseNeeded, match="wrong"):
        credentials.load_credentials(ctx.paths.root, site_id, passphrase="wrong horse")
    got = credentials.load_credentials(ctx.paths.root, site_id, passphrase="correct horse")
    assert got.password == PASSWORD


def test_sites_without_credentials_need_no_key(ctx: Context) -> None:
    site_id = make_site(ctx)
    assert not credentials.load_credentials(ctx.paths.root, site_id)
    assert credential_key.key_info(ctx.paths.root) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"ssh_key": "ssh-ed25519 AAAA... user@host"}, "not a private key"),
        (
            {
                "ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n"
                "-----END OPENSSH PRIVATE KEY-----"
            },
            "could not be read",
        ),
        ({"password": "two\nlines"}, "one line"),
        ({"password": ""}, "one line"),
        ({"password": 5}, "must be a string"),
        ({"token": "x"}, "unknown credential kind"),
    ],
)
def test_bad_secrets_refused(data: dict, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        credentials.parse_secrets(data)


def test_passphrase_protected_key_refused(tmp_path: Path) -> None:
    path = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pp", "-f", str(path)], check=True)
    with pytest.raises(BadRequest, match="passphrase"):
        credentials.parse_secrets({"ssh_key": path.read_text()})


def test_redactor(ssh_key: str) -> None:
    secrets = credentials.SiteSecrets(ssh_key=ssh_key, password=PASSWORD)
    redact = secrets.redactor()
    text = f"fatal: {PASSWORD} and\n{ssh_key}\nline: {ssh_key.splitlines()[1]}"
    out = redact(text)
    assert PASSWORD not in out and ssh_key.splitlines()[1] not in out
    assert "fatal: ********" in out
    assert credentials.Redactor([])("same") == "same"
