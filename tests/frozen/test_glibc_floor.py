"""The glibc floor of the one file, measured over every ELF file it carries (the folder its
first launch unpacks): the core (server, CLI, Ansible, the python face: the executable,
libpython, every extension module outside PyQt6 and the libraries they load) asks at most
glibc 2.31 of the system and nothing else of it but glibc's own libraries and libgcc_s; the
window's Qt libraries are listed apart, with their own floor (``desktop.QT_GLIBC_FLOOR``), and
the C++ runtime they need is the system's (spec_support.SYSTEM_LIBS), never a bundled copy.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from appliance.window_env import QT_GLIBC_FLOOR
from tests.frozen import elf
from tests.frozen.support import ensure_binary

pytestmark = pytest.mark.slow

CORE_FLOOR = (2, 31)
# What the core may ask of the system besides glibc: libgcc_s (unwinding, Rust's cryptography
# extension; part of every glibc system) and libcrypt (libxcrypt on newer systems, same soname).
CORE_SYSTEM_EXTRA = {"libgcc_s.so.1", "libcrypt.so.1"}


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The onedir folder inside the one file, as its first launch unpacks it."""
    binary, _seconds = ensure_binary()
    cache = tmp_path_factory.mktemp("cache")
    proc = subprocess.run(
        [str(binary), "--version"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(cache), "XDG_CACHE_HOME": str(cache)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (folder,) = [p for p in (cache / "appliance").iterdir() if not p.name.startswith(".")]
    return folder


def table(found: dict[str, tuple[int, ...]]) -> str:
    by_floor: dict[tuple[int, ...], list[str]] = {}
    for rel, floor in found.items():
        by_floor.setdefault(floor, []).append(rel)
    lines = []
    for floor in sorted(by_floor):
        names = sorted(os.path.basename(r) for r in by_floor[floor])
        lines.append(f"  {elf.dotted(floor):>5}: {len(names)} files ({', '.join(names[:6])}...)")
    return "\n".join(lines)


def test_the_launcher_is_static() -> None:
    binary, _seconds = ensure_binary()
    assert elf.needed(binary) == [] and elf.glibc_floor(binary) == ()


def test_core_needs_glibc_231_and_the_window_is_apart(unpacked: Path) -> None:
    core, window, system = elf.split_core(unpacked)
    print(f"\ncore: {len(core)} ELF files, floor {elf.dotted(max(core.values()))}")
    print(table(core))
    print(
        f"window (Qt, loaded only when the window opens): {len(window)} ELF files, floor "
        f"{elf.dotted(max(window.values()))}"
    )
    print(table(window))
    assert any(r.endswith("/appliance") or r == "appliance" for r in core)
    assert any("libpython" in r for r in core)
    assert any("_rust" in r for r in core)  # cryptography: Ansible's vault, the bundles' keys
    too_new = {r: elf.dotted(f) for r, f in core.items() if f > CORE_FLOOR}
    assert not too_new, f"core files need more than glibc {elf.dotted(CORE_FLOOR)}: {too_new}"
    assert system <= elf.GLIBC_FILES | CORE_SYSTEM_EXTRA, system
    assert any("libQt6Core" in r for r in window)
    assert not any("PyQt6" in Path(r).parts for r in core)
    too_new = {r: elf.dotted(f) for r, f in window.items() if f > QT_GLIBC_FLOOR}
    assert not too_new, f"window files need more than {elf.dotted(QT_GLIBC_FLOOR)}: {too_new}"


def test_no_bundled_cxx_runtime(unpacked: Path) -> None:
    """Qt's libraries need a libstdc++ newer than the build root's, and a newer system's
    graphics drivers need their own: the window uses the system's."""
    names = {p.name for p in unpacked.rglob("*")}
    assert not names & {"libstdc++.so.6", "libgcc_s.so.1", "libgbm.so.1"}
