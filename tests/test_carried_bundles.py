"""Carried bundles at start-up: verified in full once, then recognised without being read; a
changed file is verified again (and refused if it no longer verifies)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as service
from appliance.store.models import Bundle
from tests.support.processes import REPO

PAYLOAD = 4 * 1024 * 1024


@pytest.fixture
def carried(tmp_path: Path) -> Path:
    """A folder of carried bundles: the demo 1.1.0 plus a 4 MiB random payload, demo key."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "bundles" / "demo-platform" / "1.1.0", src)
    (src / "files" / "payload.bin").write_bytes(os.urandom(PAYLOAD))
    key = tmp_path / "demo.key"
    shutil.copy(REPO / "bundles" / "DEMO-ONLY-signing.key", key)
    key.chmod(0o600)
    folder = tmp_path / "carried"
    folder.mkdir()
    build_bundle(src, key, folder / "demo.bundle")
    return folder


def _bytes_read() -> int:
    """Bytes this process read through read(2) and friends so far (Linux /proc)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def _recorded(ctx: Context, folder: Path) -> dict:
    return json.loads(ctx.paths.carried_record.read_text()).get(str(folder.resolve()), {})


def _import_reading(ctx: Context, folder: Path) -> tuple[list[str], int]:
    before = _bytes_read()
    imported = service.import_carried(ctx, folder)
    return imported, _bytes_read() - before


def test_verified_once_then_recognised_without_reading(ctx: Context, carried: Path) -> None:
    imported, read = _import_reading(ctx, carried)
    assert imported == ["demo-platform 1.1.0"]
    assert read >= PAYLOAD  # the first start reads and checks every byte
    record = _recorded(ctx, carried)
    assert record["demo.bundle"]["sha256"] == Bundle.get().sha256

    imported, read = _import_reading(ctx, carried)
    assert imported == []
    assert read < PAYLOAD // 8  # recognised by its recorded stamp, not read again

    # Another folder of carried bundles (another build's) keeps its own record, not this one's.
    other = carried.parent / "other"
    other.mkdir()
    assert service.import_carried(ctx, other) == []
    _, read = _import_reading(ctx, carried)
    assert read < PAYLOAD // 8


def test_a_changed_carried_file_is_verified_again(
    ctx: Context, carried: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive = carried / "demo.bundle"
    original = archive.read_bytes()
    service.import_carried(ctx, carried)

    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0xFF  # same size, same inode
    mtime = archive.stat().st_mtime_ns
    archive.write_bytes(bytes(damaged))
    # A write moves the mtime on; set it apart explicitly, as the clock may not have ticked.
    os.utime(archive, ns=(mtime, mtime + 10**9))
    with caplog.at_level(logging.ERROR):
        _, read = _import_reading(ctx, carried)
    assert read >= len(original) // 2
    assert "demo.bundle could not be imported" in caplog.text
    assert "demo.bundle" not in _recorded(ctx, carried)

    archive.write_bytes(original)  # intact again: verified again, recorded again
    _, read = _import_reading(ctx, carried)
    assert read >= PAYLOAD
    assert "demo.bundle" in _recorded(ctx, carried)


def test_a_lost_bundle_folder_or_record_means_verifying_again(ctx: Context, carried: Path) -> None:
    service.import_carried(ctx, carried)
    ctx.paths.carried_record.write_text("not json")
    _, read = _import_reading(ctx, carried)
    assert read >= PAYLOAD
    assert _recorded(ctx, carried)["demo.bundle"]

    # The row points at a folder that is gone: the record alone does not vouch for it.
    ctx.store.write(lambda: Bundle.update(path=str(ctx.paths.root / "gone")).execute())
    _, read = _import_reading(ctx, carried)
    assert read >= PAYLOAD
