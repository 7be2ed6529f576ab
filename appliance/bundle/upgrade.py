"""May a site at one version take this bundle? Answered from the manifest's upgrade_from."""

from __future__ import annotations

from fnmatch import fnmatchcase

from appliance.bundle.manifest import Manifest


def upgrade_allowed(manifest: Manifest, installed_version: str | None) -> tuple[bool, str]:
    """``(allowed, reason)`` for moving a site from ``installed_version`` to this bundle.

    ``None`` means nothing is installed: a fresh install is always allowed. Patterns are
    matched case-sensitively (``fnmatchcase``), so the answer is the same on every OS.
    """
    target = f"{manifest.name} {manifest.version}"
    if installed_version is None:
        return True, f"install {target}"
    if installed_version == manifest.version:
        return False, f"already at {manifest.version}"
    for pattern in manifest.upgrade_from:
        if fnmatchcase(installed_version, pattern):
            return True, f"upgrade from {installed_version} to {target} (matches {pattern!r})"
    if not manifest.upgrade_from:
        return False, f"{target} cannot upgrade an existing installation (upgrade_from is empty)"
    patterns = ", ".join(repr(p) for p in manifest.upgrade_from)
    return False, f"{target} upgrades only from {patterns}, not from {installed_version}"


def refusal_code(manifest: Manifest, installed_version: str | None) -> tuple[str, dict] | None:
    """Why ``upgrade_allowed`` refuses, as a code and params the page words in its language
    (``reason.<code>``); None when it allows."""
    allowed, _ = upgrade_allowed(manifest, installed_version)
    if allowed:
        return None
    target = f"{manifest.name} {manifest.version}"
    if installed_version == manifest.version:
        return "reason.already_at", {"version": manifest.version}
    if not manifest.upgrade_from:
        return "reason.fresh_only", {"target": target}
    patterns = ", ".join(manifest.upgrade_from)
    return "reason.not_from", {"target": target, "from": patterns, "installed": installed_version}
