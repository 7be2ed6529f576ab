"""GET/PUT /api/sites/<site>/config/<bundle> on the real server: the declared items, values
validated field by field (nothing stored on error), passwords write-only, runs, plan previews and
schedules refused before anything runs while a required value is missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from appliance.context import Context
from appliance.jobs.runs.manager import RunManager
from appliance.store import siteconfig
from tests.runs.conftest import site_spec
from tests.support.client import Api

URL = "/api/sites/lab/config/conf-platform"
PASSWORD = "Zq8-api-Pw-123"


@pytest.fixture
def lab(ctx: Context, manager: RunManager, api: Api, import_bundle, tmp_path) -> dict:
    import_bundle("conf-platform@1.0.0")
    import_bundle("slow-platform@1.0.0")  # declares no config
    reply = api.post("/api/sites", site_spec("lab", tmp_path / "root", 1))
    assert reply.status == 201
    return reply.json()


def put(api: Api, values: object, url: str = URL) -> tuple[int, dict]:
    reply = api.request("PUT", url, {"values": values})
    return reply.status, reply.json()


def test_shape_of_the_items(api: Api, lab: dict) -> None:
    body = api.get(URL).json()
    assert (body["site"], body["bundle"], body["version"]) == ("lab", "conf-platform", "1.0.0")
    assert body["valid"] is False and body["errors"] == {"admin_password": "is required"}
    port, password, level = body["items"]
    assert port["name"] == "web_port" and port["type"] == "int"
    assert (port["default"], port["value"], port["set"], port["min"]) == (18080, 18080, False, 1024)
    assert port["title"] == {"en": "Web port", "zh": "网页端口"}
    assert port["components"] == ["web"] and level["components"] == ["worker"]
    assert password["required"] is True and "value" not in password
    assert level["options"] == ["debug", "info", "warning"]


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"web_port": "8080"}, "web_port", "whole number"),
        ({"web_port": 99}, "web_port", "at least 1024"),
        ({"web_port": 1.5}, "web_port", "whole number"),
        ({"web_port": True}, "web_port", "whole number"),
        ({"log_level": "trace"}, "log_level", "one of"),
        ({"admin_password": "short"}, "admin_password", "at least 8"),
        ({"admin_password": "x" * 1025}, "admin_password", "too long"),
        ({"admin_password": 12345678}, "admin_password", "must be a string"),
        ({"colour": "red"}, "colour", "not declared"),
    ],
)
def test_bad_values_named_and_nothing_stored(
    api: Api, lab: dict, values: dict, field: str, message: str
) -> None:
    # a good value next to the bad one is not stored either
    status, body = put(api, {"log_level": "debug", **values})
    assert status == 400, body
    assert message in body["fields"][field] and body["hint"]
    assert siteconfig.stored(lab["id"], "conf-platform") == ({}, set())


@pytest.mark.parametrize("raw", ["NaN", "-Infinity", "1e999", str(2**64), '"\\ud800"'])
def test_a_value_json_cannot_hold_is_a_field_error(api: Api, lab: dict, raw: str) -> None:
    body = b'{"values": {"log_level": "debug", "web_port": ' + raw.encode() + b"}}"
    reply = api.request("PUT", URL, raw=body, headers={"Content-Type": "application/json"})
    answer = reply.json()
    assert reply.status == 400, answer
    assert list(answer["fields"]) == ["web_port"] and answer["fields"]["web_port"], answer
    assert "web_port" in answer["error"] and answer["hint"]
    assert siteconfig.stored(lab["id"], "conf-platform") == ({}, set())


def test_bad_bodies_refused(api: Api, lab: dict) -> None:
    for raw in (b'{"values": {"web_port": NaN}}', b'{"values": {"log_level": "\xff"}}'):
        reply = api.request("PUT", URL, raw=raw, headers={"Content-Type": "application/json"})
        assert reply.status == 400 and reply.json()["error"]
    assert api.request("PUT", URL, {"web_port": 2000}).status == 400  # not under "values"
    assert api.request("PUT", URL, {"values": [1]}).status == 400
    status, body = put(api, {"x": 1}, "/api/sites/lab/config/slow-platform")
    assert status == 400 and "declares no configuration" in body["error"]
    assert put(api, {}, "/api/sites/lab/config/nothing")[0] == 404
    assert put(api, {}, "/api/sites/nowhere/config/conf-platform")[0] == 404
    assert put(api, {}, URL + "?version=9.9")[0] == 404
    assert siteconfig.stored(lab["id"], "conf-platform") == ({}, set())


def test_values_stored_password_write_only(ctx: Context, api: Api, lab: dict) -> None:
    status, body = put(api, {"admin_password": PASSWORD, "web_port": 2000})
    assert status == 200, body
    assert body["valid"] is True and body["changed"] == ["admin_password", "web_port"]
    shown = api.get(URL)
    assert PASSWORD not in shown.body.decode()
    items = {i["name"]: i for i in shown.json()["items"]}
    assert items["web_port"]["value"] == 2000 and items["admin_password"]["set"] is True
    assert PASSWORD.encode() not in ctx.paths.db.read_bytes()
    plain, secret = siteconfig.stored(lab["id"], "conf-platform")
    assert plain == {"web_port": 2000} and secret == {"admin_password"}
    assert put(api, {"web_port": 2000, "log_level": "debug"})[1]["changed"] == ["log_level"]
    # null resets to the default
    status, body = put(api, {"web_port": None})
    assert status == 200 and {i["name"]: i for i in body["items"]}["web_port"]["value"] == 18080


def test_runs_previews_and_schedules_refused_while_a_value_is_missing(api: Api, lab: dict) -> None:
    run = {"site": "lab", "bundle": "conf-platform", "version": "1.0.0"}
    for body in (run, {**run, "dry_run": True}):
        reply = api.post("/api/runs", body)
        assert reply.status == 400
        assert reply.json()["fields"] == {"admin_password": "is required"}
        assert "appliance config set lab conf-platform@1.0.0" in reply.json()["hint"]
    at = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0).isoformat()
    reply = api.post("/api/schedules", {**run, "action": "install", "at": at, "window_minutes": 60})
    assert reply.status == 400, reply.json()
    assert reply.json()["fields"] == {"admin_password": "is required"}
    assert api.get("/api/runs").json() == [] or api.get("/api/runs").json()["runs"] == []
    put(api, {"admin_password": PASSWORD})
    assert api.post("/api/runs", {**run, "dry_run": True}).status == 200


def test_deleting_the_site_deletes_its_values(api: Api, lab: dict) -> None:
    assert put(api, {"admin_password": PASSWORD, "web_port": 2000})[0] == 200
    assert api.delete("/api/sites/lab").status == 200
    assert siteconfig.stored(lab["id"], "conf-platform") == ({}, set())
