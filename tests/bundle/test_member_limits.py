"""Archive member and size limits hold before anything is created on disk (issue 19, item 3),
and still let real collections through (issue 13: community.general alone is ~4,000 files).

The signed manifest is the archive's index: the members it accounts for are counted before the
import creates even its temporary folder; folder members are never created as they stream by.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.bundle import Limits, import_bundle
from appliance.errors import BundleError
from tests.bundle.conftest import Keys, Kit, Workspace, entry, manifest_dict

PLAY = b"- hosts: all\n  tasks: []\n"

HUNDRED_THOUSAND_AND_ONE = 100_001  # one over the default Limits().max_members


def _folder_headers(count: int, prefix: str = "d") -> bytes:
    """``count`` folder members as raw ustar headers (tarfile's own encoder, without pax)."""
    blocks = []
    for i in range(count):
        info = tarfile.TarInfo(f"{prefix}{i:06d}")
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        blocks.append(info.tobuf(format=tarfile.USTAR_FORMAT))
    return b"".join(blocks)


def _archive(kit: Kit, parts: list[bytes]) -> Path:
    """Concatenated tar parts, each without its end marker, closed once, gzipped."""
    return kit.write(gzip.compress(b"".join(parts) + b"\0" * 1024, compresslevel=1, mtime=0))


def _tar(entries: list[tuple]) -> bytes:
    """Members as tar blocks without an end marker, so parts can be concatenated."""
    blocks = []
    for info, data in entries:
        blocks.append(info.tobuf(format=tarfile.PAX_FORMAT))
        if data:
            blocks.append(data + b"\0" * (-len(data) % tarfile.BLOCKSIZE))
    return b"".join(blocks)


def _refuse(archive: Path, workspace: Workspace, keys: Keys) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(BundleError) as refused:
        import_bundle(archive, workspace.bundles, workspace.tmp, keys.trusted, Limits())
    return refused.value.message, time.monotonic() - started


@pytest.mark.timeout(120)
def test_a_flood_of_folder_members_before_the_manifest_creates_nothing(
    kit: Kit, keys: Keys, workspace: Workspace
) -> None:
    files = {"p.yml": PLAY}
    head = _tar([*kit.head(manifest_dict(files)), entry("p.yml", PLAY)])
    archive = _archive(kit, [_folder_headers(HUNDRED_THOUSAND_AND_ONE), head])
    message, took = _refuse(archive, workspace, keys)
    assert "more than 100000 members" in message
    assert not workspace.tmp.exists()  # not even the temporary folder was made
    workspace.assert_clean()
    print(f"\n{HUNDRED_THOUSAND_AND_ONE} members refused in {took:.2f}s")


@pytest.mark.timeout(120)
def test_a_flood_of_folder_members_after_the_files_creates_none_of_them(
    kit: Kit, keys: Keys, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"p.yml": PLAY}
    head = _tar([*kit.head(manifest_dict(files)), entry("p.yml", PLAY)])
    archive = _archive(kit, [head, _folder_headers(HUNDRED_THOUSAND_AND_ONE)])
    seen: list[str] = []
    real = os.makedirs

    def spy(path: str | Path, *args: Any, **kwargs: Any) -> None:
        seen.append(str(path))
        real(path, *args, **kwargs)

    # Counts the folders made during the import (and still makes them).
    monkeypatch.setattr(os, "makedirs", spy)
    message, took = _refuse(archive, workspace, keys)
    monkeypatch.undo()
    assert "more than 100000 members" in message
    assert seen == []  # not one of the 100,001 folders was created, before or after
    workspace.assert_clean()
    print(f"\n{HUNDRED_THOUSAND_AND_ONE} members refused in {took:.2f}s")


@pytest.mark.timeout(120)
def test_a_manifest_announcing_too_many_members_is_refused_before_any_write(
    kit: Kit, keys: Keys, workspace: Workspace
) -> None:
    digest = "sha256:" + hashlib.sha256(b"x").hexdigest()
    doc = manifest_dict({"p.yml": PLAY})
    doc["files"].update({f"{i:05x}": digest for i in range(HUNDRED_THOUSAND_AND_ONE)})
    archive = kit.archive([*kit.head(doc), entry("p.yml", PLAY)])
    message, took = _refuse(archive, workspace, keys)
    assert "more than the 100000 archive members allowed" in message
    assert not workspace.tmp.exists()
    workspace.assert_clean()
    print(f"\nmanifest of {HUNDRED_THOUSAND_AND_ONE} files refused in {took:.2f}s")


def test_empty_folders_are_made_only_after_every_check(
    kit: Kit, keys: Keys, workspace: Workspace
) -> None:
    """An empty folder member of a good archive is still imported; of a bad one, never made."""
    files = {"p.yml": PLAY}
    good = kit.archive(
        [
            *kit.head(manifest_dict(files)),
            entry("empty", kind=tarfile.DIRTYPE),
            *[entry(p, d) for p, d in files.items()],
        ]
    )
    imported = import_bundle(good, workspace.bundles, workspace.tmp, keys.trusted, Limits())
    assert (imported.path / "empty").is_dir()

    bad = kit.archive(
        [
            *kit.head(manifest_dict(files, version="2.0.0")),
            entry("empty", kind=tarfile.DIRTYPE),
            entry("p.yml", b"altered\n"),
        ]
    )
    with pytest.raises(BundleError, match="does not match its sha256"):
        import_bundle(bad, workspace.bundles, workspace.tmp, keys.trusted, Limits())
    assert list(workspace.tmp.iterdir()) == []


@pytest.mark.timeout(300)
def test_eight_thousand_files_import_with_the_default_limits(
    kit: Kit, keys: Keys, workspace: Workspace
) -> None:
    """Twice community.general's file count, laid out as a vendored collection."""
    base = "collections/ansible_collections/acme/big/plugins/modules"
    files = {f"{base}/m{i // 500:02d}/module_{i:05d}.py": b"# %d\n" % i for i in range(8000)}
    files["p.yml"] = PLAY
    archive = kit.bundle(files)
    imported = import_bundle(archive, workspace.bundles, workspace.tmp, keys.trusted, Limits())
    assert len(imported.manifest.files) == 8001
    assert (imported.path / base / "m15/module_07999.py").read_bytes() == b"# 7999\n"


@pytest.mark.parametrize(
    ("folders", "names"),
    [
        (["empty", "Empty"], "'Empty' and 'empty'"),
        (["Roles"], "'Roles' and 'roles'"),  # beside the listed roles/x/main.yml
        (["P.YML"], "'P.YML' and 'p.yml'"),
        (["Bundle.yml"], "'Bundle.yml' and 'bundle.yml'"),
    ],
)
def test_folder_members_that_fold_onto_other_names_are_refused(
    kit: Kit, keys: Keys, workspace: Workspace, folders: list[str], names: str
) -> None:
    files = {"p.yml": PLAY, "roles/x/main.yml": b"[]\n"}
    archive = kit.bundle(files, extra=[entry(f, kind=tarfile.DIRTYPE) for f in folders])
    with pytest.raises(BundleError) as refused:
        import_bundle(archive, workspace.bundles, workspace.tmp, keys.trusted, Limits())
    assert names in refused.value.message and "normalisation" in refused.value.message
    workspace.assert_clean()
