"""The app in-process with one site, and a watch on the log for tracebacks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from appliance.backend.app import create_app
from appliance.context import Context
from appliance.jobs.runs.manager import RunManager
from tests.support.client import Reply
from tests.support.wsgi import WsgiClient

SITE = {
    "name": "lab",
    "vars": {"root": "/opt/lab"},
    "hosts": [{"name": "h1", "address": "127.0.0.1", "groups": ["web"], "vars": {"a": 1}}],
}


@pytest.fixture
def client(ctx: Context) -> WsgiClient:
    ctx.services["runs"] = RunManager(ctx).start()  # ctx.close() stops it
    app = WsgiClient(create_app(ctx, "t" * 32))
    assert app.post("/api/sites", SITE).status == 201
    return app


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test if anything logged an exception (a traceback in the log is a bug)."""
    caplog.set_level(logging.INFO)
    yield
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not logged, [r.getMessage() for r in logged]


def strict_json(body: bytes) -> object:
    """Parse as a browser's JSON.parse would: NaN or Infinity in the text is an error."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(body, parse_constant=refuse)


def assert_refused_well(reply: Reply, where: str) -> None:
    """A 4xx with {"error", "hint"}, nothing that says bug, no traceback."""
    assert reply.status < 500, (where, reply.status, reply.body[:300])
    text = reply.body.decode("utf-8", "replace")
    assert "internal error" not in text and "Traceback" not in text, (where, text[:300])
    if reply.status >= 400:
        answer = strict_json(reply.body)
        assert set(answer) == {"error", "hint", "code", "params"} and answer["hint"], (
            where,
            answer,
        )
        assert len(reply.body) < 4096, (where, "the answer echoes too much", len(reply.body))
