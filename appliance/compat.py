"""Frozen-ness handled in one place: how to re-launch this program, where bundled data lives."""

from __future__ import annotations

import sys
from pathlib import Path


def is_frozen() -> bool:
    """True inside a PyInstaller build."""
    return bool(getattr(sys, "frozen", False))


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
    """Signed bundles carried inside the binary (built from bundles/ at build time)."""
    return resource_root() / "carried-bundles"
