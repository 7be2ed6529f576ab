"""The one file's launcher (packaging/onefile/) on a tiny stand-in for the onedir build: the
first launch unpacks into the private cache folder named by the build's hash, later launches
exec it directly, and a cache that was tampered with or half-written is refused and rebuilt.
Built with the same compiler and packer as the real binary; fast (no PyInstaller)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.frozen.support import REPO

LAUNCHER_C = REPO / "packaging" / "onefile" / "launcher.c"
PACK = REPO / "packaging" / "onefile" / "pack.py"
MARKER = ".appliance-complete"

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("launcher") / "launcher"
    subprocess.run(
        ["gcc", "-O2", "-static", "-Wno-format-truncation", "-o", str(out), str(LAUNCHER_C)],
        check=True,
    )
    return out


@pytest.fixture
def app(launcher: Path, tmp_path: Path) -> Path:
    """A one file whose 'onedir' is a script printing its arguments and a data file."""
    onedir = tmp_path / "onedir"
    (onedir / "_internal" / "sub").mkdir(parents=True)
    script = onedir / "appliance"
    script.write_text('#!/bin/sh\necho "args=$*"\ncat "$(dirname "$0")/_internal/sub/data.txt"\n')
    script.chmod(0o755)
    (onedir / "_internal" / "sub" / "data.txt").write_text("original\n")
    (onedir / "_internal" / "link").symlink_to("sub/data.txt")
    out = tmp_path / "appliance"
    subprocess.run(
        [sys.executable, str(PACK), str(launcher), str(onedir), str(out)],
        check=True,
        capture_output=True,
    )
    return out


def launch(app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": str(app.parent / "cache")}
    return subprocess.run([str(app), *args], env=env, capture_output=True, text=True, timeout=30)


def cache_dir(app: Path) -> Path:
    (folder,) = (app.parent / "cache" / "appliance").glob("[0-9a-f]*")
    return folder


def test_first_launch_unpacks_later_launches_start_from_the_cache(app: Path) -> None:
    assert launch(app, "a", "b c").stdout == "args=a b c\noriginal\n"
    folder = cache_dir(app)
    assert len(folder.name) == 64  # the build's sha256
    assert (folder.parent.stat().st_mode & 0o777) == 0o700
    sentinel = folder / "sentinel"  # not in the build: gone if the folder is unpacked again
    sentinel.touch()
    assert launch(app, "again").stdout == "args=again\noriginal\n"
    assert sentinel.exists()


@pytest.mark.parametrize(
    "damage",
    [
        "same-size edit",
        "deleted file",
        "no marker",
        "marker without end",
        "other build's marker",
        "empty folder",
    ],
)
def test_a_tampered_or_half_written_cache_is_refused_and_rebuilt(app: Path, damage: str) -> None:
    assert launch(app).returncode == 0
    folder = cache_dir(app)
    data = folder / "_internal" / "sub" / "data.txt"
    marker = folder / MARKER
    if damage == "same-size edit":
        mtime = data.stat().st_mtime_ns
        data.write_text("tampere\n")
        os.utime(data, ns=(mtime, mtime + 10**9))  # as an edit a second later (clock ticks)
    elif damage == "deleted file":
        data.unlink()
    elif damage == "no marker":  # as if the unpacking stopped before its last write
        marker.unlink()
    elif damage == "marker without end":
        marker.write_text("".join(marker.read_text().splitlines(True)[:-1]))
    elif damage == "other build's marker":
        marker.write_text(marker.read_text().replace(folder.name, "0" * 64))
    else:
        shutil.rmtree(folder)
        folder.mkdir()
    if damage != "empty folder":
        (folder / "sentinel").touch()
    proc = launch(app, "x")
    assert (proc.returncode, proc.stdout) == (0, "args=x\noriginal\n"), proc.stderr
    assert not (folder / "sentinel").exists()  # the folder was unpacked again
    assert data.read_text() == "original\n"
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # nothing left aside


def test_an_abandoned_unpacking_folder_is_removed(app: Path) -> None:
    assert launch(app).returncode == 0
    root = cache_dir(app).parent
    dead = _dead_pid()
    leftover = root / f".unpacking-{dead}-abcdef"
    (leftover / "_internal").mkdir(parents=True)
    shutil.rmtree(cache_dir(app))  # the next launch unpacks, and clears up after dead ones
    assert launch(app).returncode == 0
    assert not leftover.exists()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_cache_folder_others_can_write_is_refused(app: Path) -> None:
    assert launch(app).returncode == 0
    root = cache_dir(app).parent
    root.chmod(0o777)
    proc = launch(app)
    assert proc.returncode == 127
    assert "not a private folder" in proc.stderr and "Hint:" in proc.stderr
