from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from appliance.bundle import (
    Limits,
    build_bundle,
    import_bundle,
    read_imported,
    remove_tree,
    verify_bundle,
)
from appliance.errors import BundleError, Conflict
from tests.bundle.conftest import Keys, Kit, Workspace, entry, manifest_dict

PLAY = b"- hosts: all\n  tasks: []\n"


def do_import(archive: Path, ws: Workspace, keys: Keys, limits: Limits | None = None):
    return import_bundle(archive, ws.bundles, ws.tmp, keys.trusted, limits or Limits())


def test_valid_bundle_imports_read_only_with_meta(
    project: Path, keys: Keys, workspace: Workspace, tmp_path: Path
) -> None:
    archive = build_bundle(project, keys.key_path, tmp_path)
    result = do_import(archive, workspace, keys)
    target = workspace.bundles / "demo-platform" / "1.1.0"
    assert result.path == target and not result.already_present
    assert result.key_id == keys.trusted[0].key_id
    assert result.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (target / "roles/db/tasks/main.yml").read_bytes() == (
        project / "roles/db/tasks/main.yml"
    ).read_bytes()
    assert {".bundle-meta.json", "bundle.yml", "bundle.sig", "playbooks", "files", "roles"} == {
        p.name for p in target.iterdir()
    }
    for path in [target, *target.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o222 == 0, path
    assert stat.S_IMODE((target / "files/run.sh").stat().st_mode) == 0o555
    meta = json.loads((target / ".bundle-meta.json").read_text())
    assert meta["archive_sha256"] == result.sha256
    assert meta["key_id"] == result.key_id
    assert meta["manifest"] == result.manifest.to_json()
    assert (
        meta["manifest_sha256"] == hashlib.sha256((target / "bundle.yml").read_bytes()).hexdigest()
    )
    assert os.listdir(workspace.tmp) == []
    assert read_imported(target) == result.__class__(
        result.manifest, target, result.key_id, result.sha256, True
    )

    remove_tree(target)  # what a caller uses to delete an imported bundle
    assert not target.exists()


def test_reimport_is_idempotent(
    project: Path, keys: Keys, workspace: Workspace, tmp_path: Path
) -> None:
    archive = build_bundle(project, keys.key_path, tmp_path)
    first = do_import(archive, workspace, keys)
    stamp = {p: p.stat().st_mtime_ns for p in first.path.rglob("*")}
    # The same manifest re-compressed is the same bundle.
    recompressed = tmp_path / "recompressed.bundle"
    recompressed.write_bytes(gzip.compress(gzip.decompress(archive.read_bytes()), 1))
    for again in (archive, recompressed):
        second = do_import(again, workspace, keys)
        assert second.already_present
        assert (second.path, second.sha256, second.manifest) == (
            first.path,
            first.sha256,
            first.manifest,
        )
    assert {p: p.stat().st_mtime_ns for p in first.path.rglob("*")} == stamp
    assert os.listdir(workspace.tmp) == []


def test_same_name_and_version_with_other_content_conflicts(
    project: Path, keys: Keys, workspace: Workspace, tmp_path: Path
) -> None:
    first = do_import(build_bundle(project, keys.key_path, tmp_path), workspace, keys)
    (project / "playbooks/app.yml").write_text("- hosts: app\n  tasks: [changed]\n")
    other = build_bundle(project, keys.key_path, tmp_path / "other.bundle")
    with pytest.raises(Conflict, match="already imported with different content") as info:
        do_import(other, workspace, keys)
    assert "new version" in info.value.hint
    assert (first.path / "playbooks/app.yml").read_text() == "- hosts: app\n  tasks: []\n"
    assert os.listdir(workspace.tmp) == []


def test_failed_move_leaves_nothing(
    project: Path, keys: Keys, workspace: Workspace, tmp_path: Path
) -> None:
    archive = build_bundle(project, keys.key_path, tmp_path)
    workspace.bundles.mkdir(parents=True)
    (workspace.bundles / "demo-platform").write_text("in the way")
    with pytest.raises(BundleError, match="cannot create"):
        do_import(archive, workspace, keys)
    assert os.listdir(workspace.tmp) == []  # the read-only tree was removed


def test_verify_writes_nothing(project: Path, keys: Keys, tmp_path: Path) -> None:
    archive = build_bundle(project, keys.key_path, tmp_path / "a.bundle")
    before = sorted(tmp_path.rglob("*"))
    result = verify_bundle(archive, keys.trusted, Limits())
    assert result.manifest.name == "demo-platform"
    assert result.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert sorted(tmp_path.rglob("*")) == before


def test_leading_dot_slash_and_directory_members_are_fine(
    kit: Kit, keys: Keys, workspace: Workspace
) -> None:
    files = {"p.yml": PLAY, "roles/r/tasks/main.yml": b"[]\n"}
    doc = manifest_dict(files)
    archive = kit.archive(
        [
            entry(".", kind=tarfile.DIRTYPE),
            entry("./roles", kind=tarfile.DIRTYPE),
            *kit.head(doc),
            entry("./p.yml", PLAY),
            entry("roles/r", kind=tarfile.DIRTYPE),
            entry("roles/r/tasks/main.yml", b"[]\n"),
            entry("empty/dir", kind=tarfile.DIRTYPE),
        ]
    )
    result = do_import(archive, workspace, keys)
    assert (result.path / "empty/dir").is_dir()
    assert (result.path / "p.yml").read_bytes() == PLAY


# --- refusals: each with a clear message, and nothing left behind ---------------------------

Case = Callable[[Kit, Keys], Path]
FILES = {"p.yml": PLAY, "roles/x/main.yml": b"- debug: msg=x\n"}


def valid_bytes(kit: Kit) -> bytes:
    return kit.bundle(FILES).read_bytes()


def tampered_manifest(kit: Kit, keys: Keys) -> Path:
    doc = manifest_dict(FILES)
    signed = kit.head(doc)[1]
    evil = dict(doc, upgrade_from=["*"])
    return kit.archive([kit.head(evil)[0], signed, *[entry(p, d) for p, d in FILES.items()]])


def bomb(kit: Kit, size: int) -> Path:
    """A signed bundle whose one file is ``size`` zero bytes, streamed (never in memory)."""
    zeros_hash = hashlib.sha256()
    chunk = bytes(1024 * 1024)
    for _ in range(size // len(chunk)):
        zeros_hash.update(chunk)
    doc = manifest_dict({"zeros.bin": b""})
    doc["files"]["zeros.bin"] = "sha256:" + zeros_hash.hexdigest()
    path = kit.folder / "bomb.bundle"
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w|") as tar,
    ):
        for info, data in kit.head(doc):
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("zeros.bin")
        info.size = size
        tar.addfile(info, _Zeros(size))
    return path


class _Zeros:
    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


BOMB_SIZE = 50 * 1024 * 1024

REFUSALS: dict[str, tuple[Case, str, Limits]] = {
    "plain bytes": (
        lambda kit, k: kit.write(b"just some text, not an archive" * 10),
        "not gzip-compressed",
        Limits(),
    ),
    "empty file": (lambda kit, k: kit.write(b""), "not a valid tar.gz bundle", Limits()),
    "gzip of non-tar": (
        lambda kit, k: kit.write(gzip.compress(b"hello " * 500)),
        "not a valid tar.gz bundle",
        Limits(),
    ),
    "plain tar": (
        lambda kit, k: kit.write(kit.tar_bytes(kit.head(manifest_dict(FILES)))),
        "not gzip-compressed",
        Limits(),
    ),
    "truncated": (lambda kit, k: kit.write(valid_bytes(kit)[:-30]), "truncated", Limits()),
    "truncated early": (lambda kit, k: kit.write(valid_bytes(kit)[:200]), "truncated", Limits()),
    "trailing garbage": (
        lambda kit, k: kit.write(valid_bytes(kit) + b"garbage!"),
        "trailing garbage",
        Limits(),
    ),
    "damaged compressed data": (
        lambda kit, k: kit.write(_flip(valid_bytes(kit), 60)),
        "",
        Limits(),
    ),
    "missing bundle.yml": (
        lambda kit, k: kit.archive(
            [kit.head(manifest_dict(FILES))[1], *[entry(p, d) for p, d in FILES.items()]]
        ),
        "bundle.yml is missing or not at the start",
        Limits(),
    ),
    "only bundle.yml": (
        lambda kit, k: kit.archive(kit.head(manifest_dict(FILES))[:1]),
        "archive has no bundle.sig",
        Limits(),
    ),
    "empty tar": (
        lambda kit, k: kit.archive([entry("d", kind=tarfile.DIRTYPE)]),
        "archive has no bundle.yml",
        Limits(),
    ),
    "missing bundle.sig": (
        lambda kit, k: kit.archive(
            [kit.head(manifest_dict(FILES))[0], *[entry(p, d) for p, d in FILES.items()]]
        ),
        "bundle.sig is missing or not at the start",
        Limits(),
    ),
    "files before manifest": (
        lambda kit, k: kit.archive([entry("p.yml", PLAY), *kit.head(manifest_dict(FILES))]),
        "bundle.yml is missing or not at the start",
        Limits(),
    ),
    "bad signature": (
        lambda kit, k: kit.archive(
            [
                *kit.head(manifest_dict(FILES), signature=b"\0" * 64),
                *[entry(p, d) for p, d in FILES.items()],
            ]
        ),
        "signature does not match any trusted key",
        Limits(),
    ),
    "empty signature": (
        lambda kit, k: kit.archive(
            [
                *kit.head(manifest_dict(FILES), signature=b""),
                *[entry(p, d) for p, d in FILES.items()],
            ]
        ),
        "signature does not match any trusted key",
        Limits(),
    ),
    "untrusted key": (
        lambda kit, k: _signed_by_stranger(kit),
        "signature does not match any trusted key",
        Limits(),
    ),
    "tampered manifest": (tampered_manifest, "signature does not match any trusted key", Limits()),
    "tampered file": (
        lambda kit, k: kit.archive(
            [
                *kit.head(manifest_dict(FILES)),
                entry("p.yml", PLAY),
                entry("roles/x/main.yml", b"- shell: rm -rf /\n"),
            ]
        ),
        "file 'roles/x/main.yml' does not match its sha256",
        Limits(),
    ),
    "unlisted extra file": (
        lambda kit, k: kit.bundle(FILES, extra=[entry("extra.yml", b"x")]),
        "'extra.yml' is not listed in bundle.yml",
        Limits(),
    ),
    "listed file missing": (
        lambda kit, k: kit.archive([*kit.head(manifest_dict(FILES)), entry("p.yml", PLAY)]),
        "file 'roles/x/main.yml' listed in bundle.yml is missing",
        Limits(),
    ),
    "dot-dot path": (
        lambda kit, k: kit.bundle(FILES, extra=[entry("../x", b"x")]),
        "leaves the bundle",
        Limits(),
    ),
    "nested dot-dot": (
        lambda kit, k: kit.bundle(FILES, extra=[entry("roles/../../x", b"x")]),
        "leaves the bundle",
        Limits(),
    ),
    "absolute path": (
        lambda kit, k: kit.bundle(FILES, extra=[entry("/etc/x", b"x")]),
        "is absolute",
        Limits(),
    ),
    "absolute directory": (
        lambda kit, k: kit.bundle(FILES, extra=[entry("/", kind=tarfile.DIRTYPE)]),
        "archive member has an empty path",
        Limits(),
    ),
    "backslash path": (
        lambda kit, k: kit.bundle(FILES, extra=[entry("..\\x", b"x")]),
        "'\\'",
        Limits(),
    ),
    "symlink": (
        lambda kit, k: kit.bundle(
            FILES, extra=[entry("link", kind=tarfile.SYMTYPE, linkname="/etc/passwd")]
        ),
        "'link' is a symbolic link",
        Limits(),
    ),
    "symlink first": (
        lambda kit, k: kit.archive(
            [entry("roles", kind=tarfile.SYMTYPE, linkname="/tmp"), *kit.head(manifest_dict(FILES))]
        ),
        "'roles' is a symbolic link",
        Limits(),
    ),
    "hardlink": (
        lambda kit, k: kit.bundle(
            FILES, extra=[entry("hard", kind=tarfile.LNKTYPE, linkname="p.yml")]
        ),
        "'hard' is a hard link",
        Limits(),
    ),
    "char device": (
        lambda kit, k: kit.bundle(
            FILES, extra=[entry("tty", kind=tarfile.CHRTYPE, devmajor=5, devminor=0)]
        ),
        "'tty' is a device file",
        Limits(),
    ),
    "block device": (
        lambda kit, k: kit.bundle(
            FILES, extra=[entry("sda", kind=tarfile.BLKTYPE, devmajor=8, devminor=0)]
        ),
        "'sda' is a device file",
        Limits(),
    ),
    "fifo": (
        lambda kit, k: kit.bundle(FILES, extra=[entry("pipe", kind=tarfile.FIFOTYPE)]),
        "'pipe' is a FIFO",
        Limits(),
    ),
    "duplicate member": (
        lambda kit, k: kit.bundle(FILES, extra=[entry("p.yml", PLAY)]),
        "'p.yml' appears twice",
        Limits(),
    ),
    "duplicate via ./": (
        lambda kit, k: kit.bundle(FILES, extra=[entry("./p.yml", PLAY)]),
        "'p.yml' appears twice",
        Limits(),
    ),
    "duplicate manifest": (
        lambda kit, k: kit.bundle(FILES, extra=kit.head(manifest_dict(FILES))[:1]),
        "'bundle.yml' appears twice",
        Limits(),
    ),
    "directory over a file": (
        lambda kit, k: kit.bundle(FILES, extra=[entry("p.yml/x", kind=tarfile.DIRTYPE)]),
        "clashes with file p.yml",
        Limits(),
    ),
    "too many members": (
        lambda kit, k: kit.bundle(
            FILES, extra=[entry(f"d{i}", kind=tarfile.DIRTYPE) for i in range(5)]
        ),
        "more than 6 members",
        Limits(max_members=6),
    ),
    "manifest too large": (
        lambda kit, k: kit.bundle(FILES, description="x" * 5000),
        "bundle.yml is larger than 1000 bytes",
        Limits(max_manifest_bytes=1000),
    ),
    "manifest missing components": (
        lambda kit, k: kit.bundle(FILES, components=Kit.DROP),
        "bundle.yml is missing components",
        Limits(),
    ),
    "manifest wrong type": (
        lambda kit, k: kit.bundle(
            FILES, components=[{"name": "a", "version": "1", "playbook": ["p.yml"]}]
        ),
        "components[0].playbook must be a string",
        Limits(),
    ),
    "manifest not yaml": (
        lambda kit, k: kit.archive([*kit.head(b"{: ["), *[entry(p, d) for p, d in FILES.items()]]),
        "not valid YAML",
        Limits(),
    ),
    "pax header bomb": (
        lambda kit, k: kit.bundle(
            FILES, extra=[entry("x", b"", pax_headers={"comment": "x" * (6 * 1024 * 1024)})]
        ),
        "far more tar metadata",
        Limits(),
    ),
    "size bomb over total": (
        lambda kit, k: bomb(kit, BOMB_SIZE),
        "to more than 1048576 bytes",
        Limits(max_total_bytes=1024 * 1024, max_ratio=10**9),
    ),
    "size bomb over ratio": (
        lambda kit, k: bomb(kit, BOMB_SIZE),
        "times its archive size",
        Limits(max_ratio=20),
    ),
}


def _signed_by_stranger(kit: Kit) -> Path:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = Ed25519PrivateKey.generate()
    return kit.archive(
        [*kit.head(manifest_dict(FILES), key=stranger), *[entry(p, d) for p, d in FILES.items()]]
    )


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :]


@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
def test_refusals_are_clear_and_leave_nothing(
    case: str, kit: Kit, keys: Keys, workspace: Workspace
) -> None:
    make, expected, limits = REFUSALS[case]
    archive = make(kit, keys)
    with pytest.raises(BundleError) as verified:
        verify_bundle(archive, keys.trusted, limits)
    assert expected in verified.value.message
    with pytest.raises(BundleError) as imported:
        do_import(archive, workspace, keys, limits)
    assert imported.value.message == verified.value.message
    assert imported.value.hint and imported.value.status == 422
    workspace.assert_clean()


def test_bomb_stops_early(
    kit: Kit, keys: Keys, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting stops the stream soon after the ratio is passed: little of the bomb is written.

    The header of this bomb is honest, so only the byte count can stop it; a spy on rmtree
    measures what was on disk when the import cleaned up.
    """
    archive = bomb(kit, BOMB_SIZE)
    packed = archive.stat().st_size
    written: list[int] = []
    real_rmtree = shutil.rmtree

    def measuring_rmtree(path: str | Path, *args: object, **kwargs: object) -> None:
        written.append(sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()))
        real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(shutil, "rmtree", measuring_rmtree)
    with pytest.raises(BundleError, match="times its archive size"):
        do_import(archive, workspace, keys, Limits(max_ratio=5))
    assert written and written[0] <= 5 * packed + 1024 * 1024 < BOMB_SIZE / 10
    workspace.assert_clean()


def test_concurrent_imports_of_one_bundle_create_it_once(
    project: Path, keys: Keys, workspace: Workspace, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    archive = build_bundle(project, keys.key_path, tmp_path)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: do_import(archive, workspace, keys), range(4)))
    assert sorted(r.already_present for r in results) == [False, True, True, True]
    assert {r.path for r in results} == {workspace.bundles / "demo-platform" / "1.1.0"}
    assert os.listdir(workspace.tmp) == []


def test_long_and_non_ascii_paths_round_trip(
    project: Path, keys: Keys, workspace: Workspace, tmp_path: Path
) -> None:
    long_name = "roles/db/templates/" + "l" * 150 + ".j2"
    for rel in (long_name, "files/é-ü.txt"):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(rel)
    result = do_import(build_bundle(project, keys.key_path, tmp_path), workspace, keys)
    assert (result.path / long_name).read_text() == long_name
    assert (result.path / "files/é-ü.txt").read_text() == "files/é-ü.txt"


def test_limits_from_settings(tmp_path: Path) -> None:
    from appliance.settings import load_settings

    settings = load_settings(
        cli={"data_dir": str(tmp_path), "bundle_max_bytes": 1000, "bundle_max_ratio": 3}, env={}
    )
    assert Limits.from_settings(settings) == Limits(max_total_bytes=1000, max_ratio=3)
