"""The day-two routes under hostile ids and bodies: a 4xx JSON answer with a hint, never a 5xx
(the same checks as tests/hostile/test_http_inputs.py, for these routes)."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import assert_refused_well, client  # noqa: F401 - fixture
from tests.hostile.test_http_inputs import HOSTILE_IDS
from tests.support.wsgi import WsgiClient

ROUTES = [
    ("GET", "/api/sites/{}/status", None),
    ("POST", "/api/sites/{}/status", None),
    ("GET", "/api/sites/{}/status/log", None),
    ("GET", "/api/sites/{}/attention", None),
    ("POST", "/api/sites/{}/attention/ack", {"reason": "x"}),
    ("POST", "/api/sites/{}/operations", {"component": "app", "operation": "stop"}),
]


@pytest.mark.parametrize("kind", HOSTILE_IDS)
@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=lambda v: str(v)[:30])
def test_hostile_ids(client: WsgiClient, method: str, path: str, body, kind: str) -> None:  # noqa: F811
    reply = client.request(method, path.format(HOSTILE_IDS[kind]), body)
    assert_refused_well(reply, f"{method} {path} {kind}")
    assert reply.status >= 400


BODIES = [
    [],
    "stop",
    None,
    {"component": 1, "operation": "stop"},
    {"component": "app", "operation": ["stop"]},
    {"component": "app", "operation": "stop", "hosts": "h1"},
    {"component": "app", "operation": "stop", "hosts": [1]},
    {"component": "a" * 5000, "operation": "stop"},
    {"component": "app", "operation": "\ud800"},
]


@pytest.mark.parametrize("body", BODIES, ids=lambda v: repr(v)[:30])
def test_hostile_operation_bodies(client: WsgiClient, body) -> None:  # noqa: F811
    client.request("POST", "/api/sites", {"name": "lab", "hosts": []})
    reply = client.request("POST", "/api/sites/lab/operations", body)
    assert_refused_well(reply, repr(body)[:60])
    assert 400 <= reply.status < 500
    ack = client.request("POST", "/api/sites/lab/attention/ack", body)
    assert_refused_well(ack, repr(body)[:60])
