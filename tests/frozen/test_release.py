"""A copy of the binary checked with standard tools: packaging/release.sh (which build_binary.sh
runs on dist/appliance) writes FILE.sha256, FILE.sig and allowed_signers; the commands of
docs/field-guide.md accept the file as built and refuse a tampered copy or a signature by another
key.

The stand-in tests run release.sh on a small random file (real sha256sum and ssh-keygen, the same
script the build runs); the slow test checks what `make binary` left in dist/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.frozen.support import BINARY, REPO, ensure_binary

RELEASE = REPO / "packaging" / "release.sh"
IDENTITY = "appliance-release"


def release(file: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(RELEASE), str(file)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def sha256_check(folder: Path, name: str = "appliance") -> subprocess.CompletedProcess[str]:
    """The field guide's first command, run in the folder of the copy."""
    return subprocess.run(
        ["sha256sum", "-c", f"{name}.sha256"], cwd=folder, capture_output=True, text=True
    )


def signature_check(
    folder: Path, name: str = "appliance", signers: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The field guide's second command: ssh-keygen -Y verify ... < appliance."""
    allowed = str(signers or folder / "allowed_signers")
    argv = ["ssh-keygen", "-Y", "verify", "-f", allowed, "-I", IDENTITY, "-n", "file"]
    with open(folder / name, "rb") as data:
        return subprocess.run(
            [*argv, "-s", f"{name}.sig"],
            cwd=folder,
            stdin=data,
            capture_output=True,
            text=True,
        )


def make_key(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test release key", "-f", str(path)],
        check=True,
    )
    return path


def flip_one_byte(path: Path, offset: int) -> None:
    """Tamper without changing the size: one byte in the middle changes."""
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


@pytest.fixture
def released(tmp_path: Path) -> Path:
    """A folder with a 64 KiB stand-in 'appliance' released with a fresh test key."""
    folder = tmp_path / "dist"
    folder.mkdir()
    (folder / "appliance").write_bytes(os.urandom(65536))
    proc = release(folder / "appliance", RELEASE_KEY=str(make_key(tmp_path / "release-key")))
    assert proc.returncode == 0, proc.stderr
    return folder


def test_the_documented_commands_pass_on_the_file_as_built(released: Path) -> None:
    assert sorted(p.name for p in released.iterdir()) == [
        "allowed_signers",
        "appliance",
        "appliance.sha256",
        "appliance.sig",
    ]
    line = (released / "appliance.sha256").read_text()
    assert line.endswith("  appliance\n")  # the bare name: checkable wherever the copy lands
    assert sha256_check(released).stdout.strip() == "appliance: OK"
    verified = signature_check(released)
    assert verified.returncode == 0, verified.stderr
    assert f'Good "file" signature for {IDENTITY}' in verified.stdout


def test_a_tampered_copy_fails_both_checks(released: Path, tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    shutil.copytree(released, usb)
    flip_one_byte(usb / "appliance", 40000)
    assert (usb / "appliance").stat().st_size == (released / "appliance").stat().st_size
    proc = sha256_check(usb)
    assert proc.returncode != 0 and "appliance: FAILED" in proc.stdout
    proc = signature_check(usb)
    assert proc.returncode != 0 and "Good" not in proc.stdout


def test_a_copy_signed_again_with_another_key_is_refused(released: Path, tmp_path: Path) -> None:
    """Someone who changes the file and re-signs it (with their own key, fresh .sha256 and
    allowed_signers) passes sha256sum, and fails against the release key's allowed_signers
    kept apart from the copy."""
    trusted = tmp_path / "trusted_signers"
    shutil.copy(released / "allowed_signers", trusted)
    usb = tmp_path / "usb"
    shutil.copytree(released, usb)
    flip_one_byte(usb / "appliance", 123)
    proc = release(usb / "appliance", RELEASE_KEY=str(make_key(tmp_path / "other-key")))
    assert proc.returncode == 0, proc.stderr
    assert sha256_check(usb).returncode == 0
    assert signature_check(usb).returncode == 0  # its own allowed_signers: proves nothing
    assert signature_check(usb, signers=trusted).returncode != 0


def test_without_a_release_key_a_dev_only_key_is_made_outside_the_repository(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config"
    (tmp_path / "appliance").write_bytes(b"stand-in\n")
    env = {"XDG_CONFIG_HOME": str(config), "RELEASE_KEY": ""}
    assert release(tmp_path / "appliance", **env).returncode == 0
    key = config / "appliance" / "DEV-ONLY-release-key"
    assert key.is_file() and key.stat().st_mode & 0o077 == 0
    assert "DEV-ONLY" in (tmp_path / "allowed_signers").read_text()
    assert signature_check(tmp_path).returncode == 0
    first = (tmp_path / "allowed_signers").read_text()
    assert release(tmp_path / "appliance", **env).returncode == 0  # the same key next time
    assert (tmp_path / "allowed_signers").read_text() == first


def test_a_missing_file_or_key_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = release(tmp_path / "nothing")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    (tmp_path / "appliance").write_bytes(b"x")
    proc = release(tmp_path / "appliance", RELEASE_KEY=str(tmp_path / "no-key"))
    assert proc.returncode == 2 and "no release key" in proc.stderr
    assert not (tmp_path / "appliance.sig").exists()


@pytest.mark.slow
def test_the_built_binary_checks_and_a_tampered_copy_does_not(tmp_path: Path) -> None:
    ensure_binary()
    dist = BINARY.parent
    for name in ("appliance.sha256", "appliance.sig", "allowed_signers"):
        assert (dist / name).stat().st_mtime >= BINARY.stat().st_mtime  # of this build
    assert sha256_check(dist).stdout.strip() == "appliance: OK"
    assert signature_check(dist).returncode == 0
    usb = tmp_path / "usb"
    usb.mkdir()
    for name in ("appliance", "appliance.sha256", "appliance.sig"):
        shutil.copy(dist / name, usb / name)
    flip_one_byte(usb / "appliance", BINARY.stat().st_size // 2)
    assert sha256_check(usb).returncode != 0
    assert signature_check(usb, signers=dist / "allowed_signers").returncode != 0


def test_the_field_guide_shows_the_commands_tested_here() -> None:
    guide = (REPO / "docs" / "field-guide.md").read_text()
    assert "\nsha256sum -c appliance.sha256\n" in guide
    verify = f"ssh-keygen -Y verify -f allowed_signers -I {IDENTITY} -n file -s appliance.sig"
    assert f"\n{verify} < appliance\n" in guide
