"""Hostile input over every JSON route, id, and query parameter (issue 19): never a 5xx, never
a traceback or "internal error", always a short {"error", "hint"}; afterwards the site list is
still valid for a browser's JSON.parse. In-process through the WSGI app."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.hostile.conftest import assert_refused_well, strict_json
from tests.support.wsgi import WsgiClient

pytestmark = pytest.mark.usefixtures("no_tracebacks")

SITE_BODY = {"name": "x1", "hosts": [{"name": "h", "address": "10.0.0.1"}]}
JSON_ROUTES = [
    ("POST", "/api/sites", SITE_BODY),
    ("PUT", "/api/sites/1", SITE_BODY),
    ("POST", "/api/sites/import", {"name": "x2", "format": "ini", "text": "[a]\nh1\n"}),
    ("PUT", "/api/sites/1/credentials", {"clear": ["password"]}),
    ("POST", "/api/runs", {"site": "lab", "bundle": "b", "version": "1", "dry_run": True}),
    (
        "POST",
        "/api/schedules",
        {"site": "lab", "bundle": "b", "version": "1", "at": "x", "window_minutes": 5},
    ),
    ("PATCH", "/api/schedules/1", {"enabled": True}),
    ("POST", "/api/schedules/acknowledge", {"ids": [1]}),
]
BIG = 2**63


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def _put_in(body: dict[str, Any], value_text: str) -> bytes:
    """The route's body with its first field's value replaced by raw JSON text."""
    first = next(iter(body))
    rest = json.dumps({k: v for k, v in body.items() if k != first})[1:]
    return f'{{"{first}": {value_text}{", " if rest != "}" else ""}{rest}'.encode()


BODY_CLASSES = {
    "nested 2000 deep": lambda body: _put_in(body, _deep(2000)),
    "nested 65 deep": lambda body: _put_in(body, _deep(65)),
    "whole body nested": lambda body: _deep(5000).encode(),
    "integer 2^63": lambda body: _put_in(body, str(BIG)),
    "integer -2^64": lambda body: _put_in(body, str(-(2**64))),
    "integer of 5000 digits": lambda body: _put_in(body, "9" * 5000),
    "NaN": lambda body: _put_in(body, "NaN"),
    "Infinity": lambda body: _put_in(body, "Infinity"),
    "-Infinity": lambda body: _put_in(body, "-Infinity"),
    "1e999": lambda body: _put_in(body, "1e999"),
    "lone surrogate": lambda body: _put_in(body, '"\\ud800"'),
    "lone low surrogate in a key": lambda body: b'{"\\udc00": 1}',
    "200,000 characters": lambda body: _put_in(body, json.dumps("z" * 200_000)),
    "long key": lambda body: json.dumps({"k" * 100_000: 1}).encode(),
    "invalid UTF-8": lambda body: b'{"name": "\xff\xfe"}',
    "not JSON": lambda body: b"{'name': 1}",
    "empty": lambda body: b"",
    "null": lambda body: b"null",
    "a list": lambda body: b"[1, 2]",
    "2 MiB": lambda body: b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}',
}


@pytest.mark.parametrize("kind", BODY_CLASSES)
@pytest.mark.parametrize(("method", "path", "body"), JSON_ROUTES, ids=lambda v: str(v)[:30])
def test_hostile_bodies(client: WsgiClient, method: str, path: str, body: dict, kind: str) -> None:
    reply = client.request(method, path, raw=BODY_CLASSES[kind](body))
    assert_refused_well(reply, f"{method} {path} {kind}")
    assert 400 <= reply.status < 500, (kind, reply.status, reply.body[:200])


def test_nan_is_refused_and_the_site_list_stays_parseable(client: WsgiClient) -> None:
    for value in ("NaN", "Infinity", "1e999", str(BIG), '"\\ud800"'):
        raw = b'{"name": "n1", "vars": {"x": ' + value.encode() + b'}, "hosts": []}'
        reply = client.request("POST", "/api/sites", raw=raw)
        assert reply.status == 400, (value, reply.body)
    listed = strict_json(client.get("/api/sites").body)
    assert [s["name"] for s in listed] == ["lab"]


ID_ROUTES = [
    ("GET", "/api/sites/{}"),
    ("PUT", "/api/sites/{}"),
    ("GET", "/api/sites/{}/inventory"),
    ("GET", "/api/sites/{}/credentials"),
    ("GET", "/api/runs/{}"),
    ("POST", "/api/runs/{}/cancel"),
    ("POST", "/api/runs/{}/resume"),
    ("GET", "/api/runs/{}/log?follow=0"),
    ("GET", "/api/runs/{}/events?follow=0"),
    ("GET", "/api/runs/{}/report"),
    ("GET", "/api/schedules/{}"),
    ("PATCH", "/api/schedules/{}"),
    ("DELETE", "/api/schedules/{}"),
    ("GET", "/api/bundles/{}/{}"),
]
HOSTILE_IDS = {
    "superscript two": "%C2%B2",
    "Arabic-Indic one": "%D9%A1",
    "fullwidth one": "%EF%BC%91",
    "2^63": str(BIG),
    "2^64": str(2**64),
    "5000 digits": "9" * 5000,
    "negative": "-1",
    "underscored": "1_0",
    "plus": "%2B1",
    "spaces": "%201%20",
    "NUL": "%00",
    "invalid UTF-8": "%FF%FE",
    "lone surrogate as UTF-8": "%ED%A0%80",
    "long name": "a" * 5000,
    "markup": "%3Cscript%3E",
}


@pytest.mark.parametrize("kind", HOSTILE_IDS)
@pytest.mark.parametrize(("method", "path"), ID_ROUTES)
def test_hostile_ids(client: WsgiClient, method: str, path: str, kind: str) -> None:
    ref = HOSTILE_IDS[kind]
    body = {"enabled": True} if method == "PATCH" else SITE_BODY if method == "PUT" else None
    reply = client.request(method, path.format(ref, ref), body)
    assert_refused_well(reply, f"{method} {path} {kind}")
    assert reply.status >= 400, (kind, reply.status, reply.body[:200])


def test_only_ascii_digits_are_ids(client: WsgiClient) -> None:
    assert client.get("/api/sites/1").status == 200
    for ref in ("%D9%A1", "%C2%B2", "%EF%BC%91", "01%00"):
        assert client.get(f"/api/sites/{ref}").status == 404, ref


QUERIES = [
    "/api/sites?limit={}",
    "/api/sites?offset={}",
    "/api/bundles?limit={}",
    "/api/bundles?offset={}",
    "/api/runs?limit={}",
    "/api/runs?offset={}",
    "/api/runs?site={}",
    "/api/runs?state={}",
    "/api/runs/1/log?offset={}&follow=0",
    "/api/runs/1/events?after={}&follow=0",
    "/api/runs/1/log?follow={}",
]
HOSTILE_QUERY = {
    "2^63": str(BIG),
    "-2^64": str(-(2**64)),
    "5000 digits": "9" * 5000,
    "negative": "-1",
    "superscript two": "%C2%B2",
    "Arabic-Indic one": "%D9%A1",
    "float": "1.5",
    "NaN": "NaN",
    "invalid UTF-8": "%FF",
    "NUL": "%00",
    "huge text": "q" * 100_000,
}


@pytest.mark.parametrize("kind", HOSTILE_QUERY)
@pytest.mark.parametrize("query", QUERIES)
def test_hostile_query_parameters(client: WsgiClient, query: str, kind: str) -> None:
    reply = client.get(query.format(HOSTILE_QUERY[kind]))
    assert_refused_well(reply, f"{query} {kind}")


def test_the_app_still_answers_afterwards(client: WsgiClient) -> None:
    for kind in BODY_CLASSES:
        client.request("POST", "/api/sites", raw=BODY_CLASSES[kind](SITE_BODY))
    assert client.get("/api/health").status == 200
    listed = client.get("/api/sites")
    assert listed.status == 200
    assert [s["name"] for s in strict_json(listed.body)] == ["lab"]


def test_a_secret_sent_as_a_credential_kind_is_not_echoed(client: WsgiClient) -> None:
    secret = "hunter2-Sup3rSecret"
    for body in ({secret: "x"}, {"clear": [secret]}):
        reply = client.request("PUT", "/api/sites/1/credentials", body)
        assert reply.status == 400, reply.body
        assert "unknown credential kind" in reply.json()["error"]
        assert secret not in reply.body.decode()
