from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from appliance.bundle import Component, Manifest, dump_manifest, parse_manifest
from appliance.errors import BundleError

H = "sha256:" + "ab" * 32


def doc(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "format": 1,
        "name": "demo-platform",
        "version": "1.1.0",
        "description": "Demo",
        "upgrade_from": ["1.0.*"],
        "expected_minutes": 10,
        "components": [
            {"name": "db", "version": "2", "playbook": "playbooks/db.yml"},
            {"name": "app", "version": "1.1.0", "playbook": "playbooks/app.yml"},
        ],
        "stages": {"preflight": "playbooks/pre.yml", "rollback": "playbooks/rb.yml"},
        "files": {
            "playbooks/db.yml": H,
            "playbooks/app.yml": H,
            "playbooks/pre.yml": H,
            "playbooks/rb.yml": H,
            "roles/db/tasks/main.yml": H,
        },
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def parse(d: dict[str, Any]) -> Manifest:
    return parse_manifest(yaml.safe_dump(d).encode())


def refused(d: dict[str, Any] | bytes) -> str:
    data = d if isinstance(d, bytes) else yaml.safe_dump(d).encode()
    with pytest.raises(BundleError) as info:
        parse_manifest(data)
    assert info.value.hint
    return info.value.message


def test_valid_manifest_parses() -> None:
    m = parse(doc())
    assert m.name == "demo-platform" and m.version == "1.1.0"
    assert m.components[0] == Component("db", "2", "playbooks/db.yml")
    assert m.upgrade_from == ("1.0.*",)
    assert m.expected_minutes == 10
    assert m.files["playbooks/db.yml"] == "ab" * 32
    assert m.playbooks() == [
        "playbooks/db.yml",
        "playbooks/app.yml",
        "playbooks/pre.yml",
        "playbooks/rb.yml",
    ]


def test_yaml_numbers_become_version_strings() -> None:
    text = b"""
format: 1
name: demo
version: 2
upgrade_from: [1, 1.5]
components:
  - {name: db, version: 3, playbook: p.yml}
files: {p.yml: "sha256:%s"}
""" % (b"0" * 64)
    m = parse_manifest(text)
    assert (m.version, m.components[0].version, m.upgrade_from) == ("2", "3", ("1", "1.5"))


def test_optional_fields_default() -> None:
    m = parse(doc(description=None, upgrade_from=None, expected_minutes=None, stages=None))
    assert (m.description, m.upgrade_from, m.expected_minutes, dict(m.stages)) == (
        "",
        (),
        None,
        {},
    )


def test_dump_round_trips_and_json_is_serialisable() -> None:
    m = parse(doc())
    assert parse_manifest(dump_manifest(m)) == m
    data = m.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["files"]["playbooks/db.yml"] == H
    assert parse(data) == m


def test_dump_keeps_versions_that_look_like_numbers() -> None:
    m = parse(
        doc(
            version="1.10",
            components=[{"name": "db", "version": "2.0", "playbook": "playbooks/db.yml"}],
        )
    )
    again = parse_manifest(dump_manifest(m))
    assert (again.version, again.components[0].version) == ("1.10", "2.0")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": None}, "bundle.yml is missing name"),
        ({"format": None}, "bundle.yml is missing format"),
        ({"version": None}, "bundle.yml is missing version"),
        ({"components": None}, "bundle.yml is missing components"),
        ({"files": None}, "bundle.yml is missing files"),
        ({"format": 2}, "bundle format 2 is not supported"),
        ({"format": "1"}, "format must be an integer"),
        ({"format": True}, "format must be an integer"),
        ({"name": "Demo"}, "name 'Demo' is not valid"),
        ({"name": "-x"}, "name '-x' is not valid"),
        ({"name": 5}, "name must be a string"),
        ({"version": ".."}, "version '..' is not valid"),
        ({"version": "1/2"}, "version '1/2' is not valid"),
        ({"version": True}, "version must be a string, not a boolean"),
        ({"version": [1]}, "version must be a string, not a list"),
        ({"description": 3}, "description must be a string"),
        ({"upgrade_from": "1.0.*"}, "upgrade_from must be a list"),
        ({"upgrade_from": [{"a": 1}]}, "upgrade_from[0] must be a string"),
        ({"expected_minutes": 0}, "expected_minutes must be a positive integer"),
        ({"expected_minutes": "10"}, "expected_minutes must be a positive integer"),
        ({"expected_minutes": True}, "expected_minutes must be a positive integer"),
        ({"components": []}, "components must be a non-empty list"),
        ({"components": {"db": 1}}, "components must be a non-empty list"),
        ({"components": ["db"]}, "components[0] must be a mapping"),
        ({"extra": 1}, "bundle.yml has unknown key 'extra'"),
        ({"stages": {"deploy": "playbooks/db.yml"}}, "stages has unknown stage 'deploy'"),
        ({"stages": ["preflight"]}, "stages must be a mapping"),
        ({"stages": {"backup": 7}}, "stages.backup must be a string"),
        ({"stages": {"backup": "playbooks/none.yml"}}, "stages.backup playbooks/none.yml is not"),
        ({"files": ["a"]}, "files must be a mapping"),
        ({"files": {"playbooks/db.yml": "md5:00"}}, "must be sha256: followed by 64 hex"),
        ({"files": {"playbooks/db.yml": 5}}, "must be a string sha256:<hex>"),
    ],
)
def test_bad_fields_are_refused_with_their_path(changes: dict[str, Any], expected: str) -> None:
    assert expected in refused(doc(**changes))


def component_doc(**changes: Any) -> dict[str, Any]:
    comps = [
        {"name": "db", "version": "2", "playbook": "playbooks/db.yml"},
        {"name": "app", "version": "1", "playbook": "playbooks/app.yml", **changes},
    ]
    return doc(components=[{k: v for k, v in c.items() if v is not None} for c in comps])


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"playbook": 5}, "components[1].playbook must be a string"),
        ({"playbook": None}, "components[1] is missing playbook"),
        ({"name": "db"}, "components[1].name db is used twice"),
        ({"version": None}, "components[1] is missing version"),
        ({"version": {"a": 1}}, "components[1].version must be a string, not a mapping"),
        ({"hosts": "all"}, "components[1] has unknown key 'hosts'"),
        ({"playbook": "playbooks/missing.yml"}, "components[1].playbook playbooks/missing.yml"),
        ({"playbook": "../x.yml"}, "leaves the bundle"),
        ({"playbook": "/etc/x.yml"}, "is absolute"),
    ],
)
def test_bad_components_are_refused_with_their_path(changes: dict[str, Any], expected: str) -> None:
    assert expected in refused(component_doc(**changes))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("../x", "leaves the bundle"),
        ("/etc/passwd", "is absolute"),
        ("a//b", "canonical"),
        ("./a", "canonical"),
        ("a\\b", "'\\'"),
        ("bundle.yml", "must not list bundle.yml"),
        (".bundle-meta.json", "must not list .bundle-meta.json"),
        ("playbooks/db.yml/inner", "both as a file and as a folder"),
        ("bundle.sig/x", "both as a file and as a folder"),
    ],
)
def test_bad_file_paths_are_refused(path: str, expected: str) -> None:
    d = doc()
    d["files"][path] = H
    assert expected in refused(d)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"a: [1, 2", "not valid YAML"),
        (b"- 1\n- 2\n", "must be a mapping, not a list"),
        (b"", "must be a mapping, not empty"),
        (b"!!python/object/apply:os.system ['true']", "not valid YAML"),
        (b"version: " + b"9" * 5000, "cannot be read"),
        (b"a: " + b"[" * 5000 + b"]" * 5000, "bundle.yml"),
    ],
)
def test_unreadable_yaml_is_refused(data: bytes, expected: str) -> None:
    assert expected in refused(data)


def test_source_manifest_ignores_stale_files() -> None:
    m = parse_manifest(yaml.safe_dump(doc(files={"old.yml": "junk"})).encode(), source=True)
    assert dict(m.files) == {}
