from __future__ import annotations

import pytest
import yaml

from appliance.bundle import Manifest, parse_manifest, upgrade_allowed


def manifest(version: str, upgrade_from: list[str]) -> Manifest:
    doc = {
        "format": 1,
        "name": "demo",
        "version": version,
        "upgrade_from": upgrade_from,
        "components": [{"name": "db", "version": "2", "playbook": "db.yml"}],
        "files": {"db.yml": "sha256:" + "0" * 64},
    }
    return parse_manifest(yaml.safe_dump(doc).encode())


@pytest.mark.parametrize(
    ("installed", "allowed", "reason"),
    [
        (None, True, "install demo 1.1.0"),
        ("1.1.0", False, "already at 1.1.0"),
        ("1.0.3", True, "upgrade from 1.0.3 to demo 1.1.0"),
        ("1.0.10", True, "matches '1.0.*'"),
        ("0.9", True, "matches '0.9'"),
        ("1.0", False, "upgrades only from '1.0.*', '0.9', not from 1.0"),
        ("2.0.0", False, "not from 2.0.0"),
        ("1.0.X", True, "matches"),
    ],
)
def test_upgrade_allowed(installed: str | None, allowed: bool, reason: str) -> None:
    ok, why = upgrade_allowed(manifest("1.1.0", ["1.0.*", "0.9"]), installed)
    assert ok is allowed
    assert reason in why


def test_patterns_are_case_sensitive_and_empty_means_install_only() -> None:
    assert upgrade_allowed(manifest("2.0", ["1.0-RC*"]), "1.0-rc1")[0] is False
    ok, why = upgrade_allowed(manifest("2.0", []), "1.0")
    assert not ok and "upgrade_from is empty" in why
    assert upgrade_allowed(manifest("2.0", []), None) == (True, "install demo 2.0")
