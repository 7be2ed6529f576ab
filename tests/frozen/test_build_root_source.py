"""The CPython source of the build root when Debian has replaced the pinned revision (its pool
keeps only current ones): ``build_root.sh source`` takes the newest python3.13 of trixie and
trixie-security instead, its checksums read from the suites' indexes that gpgv checks against
Debian's archive keys; a file that is there but differs from its pin is never replaced by another.
Real downloads from deb.debian.org (Debian's registry); the upstream tarball is copied from the
build cache when it is there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.frozen.support import BUILD_ROOT_SCRIPT

pytestmark = pytest.mark.slow
CACHE = Path(os.environ.get("APPLIANCE_BUILD_CACHE", Path.home() / ".cache/appliance-build"))


def pinned(name: str) -> str:
    found = re.search(rf"^{name}=(\S+)$", BUILD_ROOT_SCRIPT.read_text(), re.M)
    assert found, name
    return found.group(1)


def script_with(tmp_path: Path, **pins: str) -> tuple[Path, dict[str, str]]:
    """A copy of build_root.sh with other pins, its own cache (the upstream tarball seeded)."""
    text = BUILD_ROOT_SCRIPT.read_text()
    for name, value in pins.items():
        text, count = re.subn(rf"^{name}=\S+$", f"{name}={value}", text, flags=re.M)
        assert count == 1, name
    copy = tmp_path / "repo" / "scripts" / "build_root.sh"
    copy.parent.mkdir(parents=True)
    copy.write_text(text)
    cache = tmp_path / "cache"
    (cache / "sources").mkdir(parents=True)
    orig = CACHE / "sources" / f"python3.13_{pinned('PY_VERSION')}.orig.tar.xz"
    if orig.is_file():
        shutil.copy(orig, cache / "sources")
    return copy, {**os.environ, "APPLIANCE_BUILD_CACHE": str(cache)}


def test_a_revision_gone_from_the_pool_falls_back_to_the_signed_index(tmp_path: Path) -> None:
    gone = pinned("PY_VERSION") + "-0+gone1"
    script, env = script_with(tmp_path, PY_DEBIAN=gone, PY_DEBIAN_SHA256="0" * 64)
    done = subprocess.run(
        ["bash", str(script), "source"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    revision, orig, debian = done.stdout.split()
    assert revision != gone and revision.startswith("3.13.")
    assert f"python3.13 {gone} is gone from Debian's pool: building {revision}" in done.stderr
    assert Path(orig).is_file() and Path(debian).name == f"python3.13_{revision}.debian.tar.xz"


def test_a_file_unlike_its_pin_is_refused(tmp_path: Path) -> None:
    script, env = script_with(tmp_path, PY_ORIG_SHA256="0" * 64)
    done = subprocess.run(
        ["bash", str(script), "source"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 3, (done.returncode, done.stderr)
    assert "sha256 mismatch" in done.stderr and "gone from Debian's pool" not in done.stderr
