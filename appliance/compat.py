"""Frozen-ness handled in one place: how to re-launch this program, where bundled data lives."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import MutableMapping
from pathlib import Path


def is_frozen() -> bool:
    """True inside a PyInstaller build."""
    return bool(getattr(sys, "frozen", False))


def restore_library_path(environ: MutableMapping[str, str], frozen: bool | None = None) -> None:
    """Give child processes the user's own LD_LIBRARY_PATH back.

    PyInstaller's bootloader points LD_LIBRARY_PATH at its folder (the one file's cache
    folder) so Python finds its libraries; every child would inherit that, and system programs
    (/bin/sh for each Ansible module, ssh, the browser) would load our bundled
    libreadline/libcrypto instead of the system's. The loader reads the variable only when a
    process starts, so this process keeps its libraries; a child that is this binary again sets
    its own, as a new instance: PYINSTALLER_RESET_ENVIRONMENT, else its bootloader would take
    the inherited _PYI_* variables for its own set-up and skip the library path, and a bundled
    library the system lacks (libsqlite3 on a bare Debian 11: tests/frozen/test_bullseye.py)
    would not load in the python face Ansible runs.
    """
    if not (is_frozen() if frozen is None else frozen):
        return
    original = environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original:
        environ["LD_LIBRARY_PATH"] = original
    else:
        environ.pop("LD_LIBRARY_PATH", None)
    environ["PYINSTALLER_RESET_ENVIRONMENT"] = "1"


def self_command() -> list[str]:
    """The argv prefix that runs this appliance again (its faces take their words after it)."""
    if is_frozen():
        return [sys.executable]
    return [sys.executable, "-m", "appliance"]


def resource_root() -> Path:
    """Folder holding the package's data files (static UI, keys, carried bundles)."""
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parent.parent


def static_dir() -> Path:
    return Path(__file__).resolve().parent / "ui" / "static"


def shipped_keys_dir() -> Path:
    """Vendor public keys shipped with the appliance (packaging/keys in a checkout)."""
    return resource_root() / "packaging" / "keys"


def carried_bundles_dir() -> Path:
    """Signed bundles carried inside the appliance, imported at start: built from bundles/ at
    build time into the binary, or by `make bundles` into build/bundles in a checkout."""
    if is_frozen():
        return resource_root() / "carried-bundles"
    return resource_root() / "build" / "bundles"


def set_main_path_entry(entry: str) -> None:
    """Make ``entry`` sys.path[0], as Python does for the code it runs (script folder, or '' for
    -c and stdin). Unfrozen, the interpreter already put its own entry there for us (the cwd
    under ``-m appliance``, the bin folder for the console script) unless -P/-I; frozen,
    PyInstaller's entries come first and must stay, so the entry is added in front of them."""
    if is_frozen() or sys.flags.safe_path:
        sys.path.insert(0, entry)
    else:
        sys.path[0] = entry


# Launcher name -> the words after self_command() that select the face it stands for.
_LAUNCHERS: dict[str, tuple[str, ...]] = {
    "ansible-playbook": ("playbook",),
    # ssh password auth runs `ansible` as SSH_ASKPASS (found next to argv[0] or on PATH)
    "ansible": ("ansible",),
    "python3": (),
}


def _launcher_files() -> dict[str, str]:
    """Launcher name -> symlink target (frozen) or script text (unfrozen)."""
    if is_frozen():
        return {name: self_command()[0] for name in _LAUNCHERS}
    return {
        name: "#!/bin/sh\nexec " + shlex.join([*self_command(), *words]) + ' "$@"\n'
        for name, words in _LAUNCHERS.items()
    }


def launcher_dir(folder: Path) -> Path:
    """A folder of executables (ansible-playbook, ansible, python3) that run this appliance's
    faces; returns the folder to put first on PATH (a subfolder of ``folder``).

    Frozen they are symlinks to the binary (its faces pick themselves by name); unfrozen they
    are /bin/sh scripts running ``python -m appliance``. The subfolder is named after its
    content and never changed once made: it is built under a temporary name and renamed into
    place, so concurrent callers and running playbooks never see it half-written, and a moved
    interpreter or binary simply gets a new subfolder.
    """
    files = _launcher_files()
    digest = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()[:16]
    target = Path(folder) / f"launchers-{digest}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".launchers-", dir=target.parent))
    try:
        for name, content in files.items():
            path = tmp / name
            if is_frozen():
                path.symlink_to(content)
            else:
                path.write_text(content, encoding="utf-8")
                path.chmod(0o755)
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process renamed an identical folder into place first: use that one.
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# names the carried ansible-core tree a child's playbook/ad-hoc face imports (faces.use_core_tree)
CORE_TREE_VAR = "APPLIANCE_ANSIBLE_TREE"


def carried_cores_dir() -> Path:
    """Older ansible-cores carried beside the one the appliance imports, one installed tree per
    series (appliance/jobs/ansible/cores.py): scripts/setup.sh puts them in build/ansible-cores
    in a checkout; the frozen build carries them as ansible-cores/ (build.spec)."""
    if is_frozen():
        return resource_root() / "ansible-cores"
    return resource_root() / "build" / "ansible-cores"
