from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
import yaml

from appliance.bundle import Limits, build_bundle, parse_manifest, verify_bundle
from appliance.bundle.build import FIXED_MTIME
from appliance.errors import BundleError
from tests.bundle.conftest import Keys


def members(archive: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def test_build_writes_a_signed_deterministic_bundle(
    project: Path, keys: Keys, tmp_path: Path, limits: Limits
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    archive = build_bundle(project, keys.key_path, out_dir)
    assert archive == out_dir / "demo-platform-1.1.0.bundle"

    found = members(archive)
    names = list(found)
    assert names[:2] == ["bundle.yml", "bundle.sig"]
    assert names[2:] == sorted(names[2:])
    assert set(names[2:]) == {
        "files/run.sh",
        "playbooks/app.yml",
        "playbooks/db.yml",
        "playbooks/preflight.yml",
        "playbooks/verify.yml",
        "roles/db/tasks/main.yml",
    }
    for info in found.values():
        assert (info.uid, info.gid, info.mtime, info.uname) == (0, 0, FIXED_MTIME, "")
        assert info.mode == (0o755 if info.name == "files/run.sh" else 0o644)

    again = build_bundle(project, keys.key_path, tmp_path / "again.bundle")
    assert again.read_bytes() == archive.read_bytes()

    verified = verify_bundle(archive, keys.trusted, limits)
    assert verified.manifest.files.keys() == set(names[2:])
    assert verified.manifest.components[0].version == "2"
    assert verified.size == archive.stat().st_size


def test_build_replaces_stale_files_and_skips_its_own_output(project: Path, keys: Keys) -> None:
    source = yaml.safe_load((project / "bundle.yml").read_text())
    source["files"] = {"gone.yml": "sha256:" + "0" * 64}
    (project / "bundle.yml").write_text(yaml.safe_dump(source))
    (project / "bundle.sig").write_bytes(b"old")
    archive = build_bundle(project, keys.key_path, project)
    assert archive.parent == project
    rebuilt = build_bundle(project, keys.key_path, project)  # the first output is not packed
    assert rebuilt == archive
    with tarfile.open(archive, "r:gz") as tar:
        manifest = parse_manifest(tar.extractfile("bundle.yml").read())  # type: ignore[union-attr]
    assert "gone.yml" not in manifest.files
    assert archive.name not in manifest.files


def test_build_refuses_symlinks(project: Path, keys: Keys, tmp_path: Path) -> None:
    os.symlink("/etc/passwd", project / "files" / "passwd")
    with pytest.raises(BundleError, match="files/passwd in the project is a symbolic link"):
        build_bundle(project, keys.key_path, tmp_path / "x.bundle")
    assert not (tmp_path / "x.bundle").exists()
    assert list(tmp_path.glob(".x.bundle*")) == []


def test_build_refuses_a_missing_playbook(project: Path, keys: Keys, tmp_path: Path) -> None:
    (project / "playbooks" / "verify.yml").unlink()
    with pytest.raises(BundleError, match=r"stages\.verify playbooks/verify\.yml is not in files"):
        build_bundle(project, keys.key_path, tmp_path / "x.bundle")


def test_build_needs_a_manifest_and_a_private_key(
    project: Path, keys: Keys, tmp_path: Path
) -> None:
    with pytest.raises(BundleError, match=r"has no bundle\.yml"):
        build_bundle(tmp_path, keys.key_path, tmp_path / "x.bundle")
    with pytest.raises(BundleError, match="private key"):
        build_bundle(project, keys.pub_path, tmp_path / "x.bundle")
