"""Fixtures for the bundle tests: throwaway keys, a tiny source project, and a kit that crafts
archives by hand (including malicious ones) with tarfile."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.bundle import (
    Limits,
    TrustedKey,
    generate_keypair,
    load_private_key,
    load_trusted_keys,
)

SOURCE_MANIFEST = """\
format: 1
name: demo-platform
version: 1.1.0
description: "Demo platform"
upgrade_from: ["1.0.*"]
expected_minutes: 10
components:
  - {name: db, version: 2, playbook: playbooks/db.yml}
  - {name: app, version: 1.1.0, playbook: playbooks/app.yml}
stages: {preflight: playbooks/preflight.yml, verify: playbooks/verify.yml}
"""


@dataclass(frozen=True)
class Keys:
    key_path: Path
    pub_path: Path
    private_key: Ed25519PrivateKey
    trusted: list[TrustedKey]


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("vendor-keys")
    key_path, pub_path = generate_keypair(folder / "vendor")
    return Keys(key_path, pub_path, load_private_key(key_path), load_trusted_keys(folder))


@pytest.fixture(scope="session")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("stranger-keys")
    key_path, pub_path = generate_keypair(folder / "stranger")
    return Keys(key_path, pub_path, load_private_key(key_path), load_trusted_keys(folder))


def write_project(root: Path) -> Path:
    """A tiny Ansible project with a bundle.yml lacking files:, plus clutter build must skip."""
    files = {
        "bundle.yml": SOURCE_MANIFEST,
        "playbooks/db.yml": "- hosts: db\n  roles: [db]\n",
        "playbooks/app.yml": "- hosts: app\n  tasks: []\n",
        "playbooks/preflight.yml": "- hosts: all\n  tasks: []\n",
        "playbooks/verify.yml": "- hosts: all\n  tasks: []\n",
        "roles/db/tasks/main.yml": "- name: install\n  debug: msg=hi\n",
        "files/run.sh": "#!/bin/sh\necho hi\n",
        "roles/db/__pycache__/x.cpython-311.pyc": "junk",
        "library/helper.pyc": "junk",
        ".git/config": "[core]\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    os.chmod(root / "files/run.sh", 0o755)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "src")


@dataclass
class Workspace:
    bundles: Path
    tmp: Path

    def assert_clean(self) -> None:
        """Nothing half-imported: no NAME/VERSION anywhere, nothing in the temp folder."""
        leftovers = [p for p in self.bundles.rglob("*")] if self.bundles.exists() else []
        assert leftovers == [], leftovers
        assert not self.tmp.exists() or list(self.tmp.iterdir()) == []


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "data" / "bundles", tmp_path / "data" / "tmp")


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest_dict(files: dict[str, bytes], **overrides: Any) -> dict[str, Any]:
    """A valid manifest for ``files`` (the first file is the one component's playbook)."""
    playbook = next(iter(files))
    doc: dict[str, Any] = {
        "format": 1,
        "name": "evil",
        "version": "1.0",
        "upgrade_from": [],
        "components": [{"name": "one", "version": "1", "playbook": playbook}],
        "files": {path: sha(data) for path, data in files.items()},
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not _DROP}


_DROP = object()


def entry(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, **attrs: Any) -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    info.mode = 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, (data if info.size else None)


class Kit:
    """Writes archives member by member, exactly as told (good or malicious)."""

    DROP = _DROP

    def __init__(self, folder: Path, keys: Keys) -> None:
        self.folder = folder
        self.keys = keys
        self.count = 0

    def head(
        self,
        manifest: dict[str, Any] | bytes,
        key: Ed25519PrivateKey | None = None,
        signature: bytes | None = None,
    ) -> list[tuple]:
        data = manifest if isinstance(manifest, bytes) else yaml.safe_dump(manifest).encode()
        sig = (key or self.keys.private_key).sign(data) if signature is None else signature
        return [entry("bundle.yml", data), entry("bundle.sig", sig)]

    def tar_bytes(self, entries: Iterable[tuple]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for info, data in entries:
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()

    def write(self, raw: bytes, name: str | None = None) -> Path:
        self.count += 1
        path = self.folder / (name or f"crafted-{self.count}.bundle")
        path.write_bytes(raw)
        return path

    def archive(self, entries: Iterable[tuple]) -> Path:
        return self.write(gzip.compress(self.tar_bytes(entries), mtime=0))

    def bundle(
        self, files: dict[str, bytes], *, extra: Iterable[tuple] = (), **overrides: Any
    ) -> Path:
        """A signed bundle of ``files`` plus ``extra`` raw members after them."""
        doc = manifest_dict(files, **overrides)
        body = [entry(path, data) for path, data in files.items()]
        return self.archive([*self.head(doc), *body, *extra])


@pytest.fixture
def kit(tmp_path: Path, keys: Keys) -> Kit:
    folder = tmp_path / "crafted"
    folder.mkdir()
    return Kit(folder, keys)


@pytest.fixture
def limits() -> Limits:
    return Limits()
