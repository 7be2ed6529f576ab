"""Sites over real HTTP: create, read, and every kind of bad input answered with a JSON 4xx."""

from __future__ import annotations

import threading

import pytest

from appliance.context import Context
from tests.support.client import Api

SITE = {
    "name": "acme-prod",
    "vars": {"install_root": "/opt/acme"},
    "hosts": [
        {
            "name": "db1",
            "address": "10.0.0.5",
            "port": 2222,
            "user": "deploy",
            "groups": ["db"],
            "vars": {"role": "primary"},
        },
        {"name": "app1", "address": "app1.acme.lan"},
    ],
}


def test_create_and_read_site(api: Api) -> None:
    reply = api.post("/api/sites", SITE)
    assert reply.status == 201
    site = reply.json()
    assert site["name"] == "acme-prod"
    assert site["hosts"][0] == SITE["hosts"][0]
    assert site["hosts"][1] == {
        "name": "app1",
        "address": "app1.acme.lan",
        "port": 22,
        "user": None,
        "groups": [],
        "vars": {},
    }
    by_id = api.get(f"/api/sites/{site['id']}").json()
    by_name = api.get("/api/sites/acme-prod").json()
    assert by_id == by_name == site
    assert [s["name"] for s in api.get("/api/sites").json()] == ["acme-prod"]
    assert api.get("/api/sites/nope").status == 404


@pytest.mark.parametrize(
    ("raw", "status", "words"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"name": 5}', 400, "must be a string"),
        (b'{"name": "ok", "hosts": {"a": 1}}', 400, "must be a list"),
        (
            b'{"name": "ok", "hosts": [{"name": "h", "address": "a", "port": "22"}]}',
            400,
            "must be an integer",
        ),
        (
            b'{"name": "ok", "hosts": [{"name": "h", "address": "a", "port": 70000}]}',
            400,
            "1..65535",
        ),
        (
            b'{"name": "ok", "hosts": [{"name": "h", "address": "a", "port": true}]}',
            400,
            "must be an integer",
        ),
        (b'{"name": "ok", "colour": "blue"}', 400, "unknown field"),
        (
            b'{"name": "ok", "hosts": [{"name": "h", "address": "a", "extra": 1}]}',
            400,
            "unknown field",
        ),
        (b'{"hosts": []}', 400, "required"),
        (b'{"name": "../etc"}', 400, "not a valid name"),
        (
            b'{"name": "ok", "hosts": '
            b'[{"name": "h", "address": "a"}, {"name": "h", "address": "b"}]}',
            400,
            "twice",
        ),
    ],
)
def test_bad_bodies_are_4xx_and_store_nothing(
    api: Api, raw: bytes, status: int, words: str
) -> None:
    reply = api.post("/api/sites", raw=raw, headers={"Content-Type": "application/json"})
    assert reply.status == status, reply.body
    assert set(reply.json()) == {"error", "hint", "code", "params"}
    assert words in reply.json()["error"]
    assert api.get("/api/sites").json() == []


def test_oversized_body_is_413(api: Api) -> None:
    big = b'{"name": "big", "vars": {"x": "' + b"a" * (1024 * 1024 + 10) + b'"}}'
    reply = api.post("/api/sites", raw=big, headers={"Content-Type": "application/json"})
    assert reply.status == 413
    assert "hint" in reply.json()
    assert api.get("/api/sites").json() == []


def test_duplicate_name_is_409(api: Api) -> None:
    assert api.post("/api/sites", {"name": "twice"}).status == 201
    reply = api.post("/api/sites", {"name": "twice", "hosts": [{"name": "h", "address": "a"}]})
    assert reply.status == 409
    assert "exists" in reply.json()["error"]
    sites = api.get("/api/sites").json()
    assert len(sites) == 1 and sites[0]["hosts"] == []


@pytest.mark.slow
def test_16_threads_create_500_sites_each(api: Api, ctx: Context) -> None:
    threads, per_thread = 16, 500
    errors: list[str] = []

    def worker(n: int) -> None:
        for i in range(per_thread):
            body = {"name": f"t{n}-s{i}", "hosts": [{"name": "h", "address": "127.0.0.1"}]}
            reply = api.post("/api/sites", body)
            if reply.status != 201:
                errors.append(f"{reply.status} {reply.body[:200]!r}")

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    names = {s["name"] for s in api.get("/api/sites?limit=100000").json()}
    assert names == {f"t{n}-s{i}" for n in range(threads) for i in range(per_thread)}
    assert ctx.store.integrity_check() == "ok"
