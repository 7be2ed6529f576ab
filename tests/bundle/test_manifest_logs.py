"""``logs:`` of a component in bundle.yml: optional, strictly checked, kept by build's dump."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.bundle import dump_manifest, parse_manifest
from tests.bundle.test_manifest import component_doc, parse, refused


def test_logs_are_optional_and_round_trip() -> None:
    plain = parse(component_doc())
    assert plain.components[1].logs == () and "logs" not in plain.to_json()["components"][1]
    globs = ["{{ install_root }}/logs/app.log", "/var/log/demo/*.log"]
    m = parse(component_doc(logs=globs))
    assert m.components[1].logs == tuple(globs) and m.components[0].logs == ()
    again = parse_manifest(dump_manifest(m))
    assert again == m and again.to_json()["components"][1]["logs"] == globs


@pytest.mark.parametrize(
    ("logs", "expected"),
    [
        ("/var/log/app.log", "components[1].logs must be a list of file globs"),
        ([5], "components[1].logs[0] must be a non-empty string"),
        ([""], "components[1].logs[0] must be a non-empty string"),
        (["logs/app.log"], "must be an absolute path or start with a variable"),
        (["/var/log/../../etc/shadow"], "must not contain .."),
        (["/a\nb"], "is not valid"),
        (["/x" * 300], "is not valid"),
        (["/a.log", "/a.log"], "components[1].logs[1] '/a.log' is listed twice"),
        ([f"/{i}.log" for i in range(21)], "has 21 entries (at most 20)"),
    ],
)
def test_bad_logs_are_refused_with_their_path(logs: Any, expected: str) -> None:
    assert expected in refused(component_doc(logs=logs))
