"""Day-two declarations in bundle.yml: a component's status playbook and operations."""

from __future__ import annotations

import pytest
import yaml

from appliance.bundle import dump_manifest, parse_manifest
from appliance.errors import BundleError

H = "sha256:" + "ab" * 32


def doc(**app: object) -> dict:
    files = {p: H for p in ("p/db.yml", "p/app.yml", "p/st.yml", "p/start.yml", "p/stop.yml")}
    return {
        "format": 1,
        "name": "demo",
        "version": "1.0.0",
        "components": [
            {"name": "db", "version": "2", "playbook": "p/db.yml"},
            {"name": "app", "version": "1.0.0", "playbook": "p/app.yml", **app},
        ],
        "files": files,
    }


def refused(d: dict) -> str:
    with pytest.raises(BundleError) as info:
        parse_manifest(yaml.safe_dump(d).encode())
    assert info.value.hint
    return info.value.message


def test_status_and_operations_parse_and_dump_back() -> None:
    d = doc(status="p/st.yml", operations={"stop": "p/stop.yml", "start": "p/start.yml"})
    m = parse_manifest(yaml.safe_dump(d).encode())
    app = m.components[1]
    assert app.status == "p/st.yml"
    assert dict(app.operations) == {"start": "p/start.yml", "stop": "p/stop.yml"}
    assert m.components[0].status is None and dict(m.components[0].operations) == {}
    assert m.playbooks()[-3:] == ["p/st.yml", "p/start.yml", "p/stop.yml"]
    assert parse_manifest(dump_manifest(m)) == m
    # a component without day-two keys dumps as before (signed bytes of old bundles unchanged)
    assert "status" not in dump_manifest(m).decode().split("- name: app")[0]


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ({"status": 3}, "components[1].status must be a string"),
        ({"status": "/abs.yml"}, "components[1].status"),
        ({"status": "p/missing.yml"}, "p/missing.yml is not in files"),
        ({"operations": ["p/start.yml"]}, "components[1].operations must be a mapping"),
        ({"operations": {"reload": "p/start.yml"}}, "unknown operation 'reload'"),
        ({"operations": {"start": None}}, "components[1].operations.start must be a string"),
        ({"operations": {"stop": "../x.yml"}}, "components[1].operations.stop"),
        ({"operations": {"stop": "p/nope.yml"}}, "p/nope.yml is not in files"),
        ({"health": "playbooks/h.yml"}, "unknown key 'health'"),
    ],
)
def test_bad_declarations_are_refused(app: dict, message: str) -> None:
    assert message in refused(doc(**app))
