"""PUT /api/sites/<id>: replace a site's name, vars and hosts, with create's validation."""

from __future__ import annotations

from tests.support.client import Api

SITE = {
    "name": "acme",
    "vars": {"install_root": "/opt/acme"},
    "hosts": [{"name": "db1", "address": "10.0.0.5"}, {"name": "app1", "address": "10.0.0.6"}],
}


def test_put_replaces_vars_and_hosts(api: Api) -> None:
    site = api.post("/api/sites", SITE).json()
    spec = {
        "name": "acme-prod",
        "vars": {"app_port": 8080},
        "hosts": [
            {
                "name": "app1",
                "address": "10.0.0.9",
                "port": 2222,
                "user": "deploy",
                "groups": ["app"],
                "vars": {"ansible_connection": "local"},
            }
        ],
    }
    reply = api.request("PUT", f"/api/sites/{site['id']}", spec)
    assert reply.status == 200, reply.body
    updated = reply.json()
    assert updated["id"] == site["id"]
    assert updated["name"] == "acme-prod"
    assert updated["vars"] == {"app_port": 8080}
    assert updated["hosts"] == spec["hosts"]
    assert api.get("/api/sites/acme-prod").json() == updated
    assert api.get("/api/sites/acme").status == 404
    # by name works too, and an unchanged name is not a clash with itself
    again = api.request("PUT", "/api/sites/acme-prod", {**spec, "hosts": []})
    assert again.status == 200 and again.json()["hosts"] == []


def test_put_name_clash_is_409_and_changes_nothing(api: Api) -> None:
    first = api.post("/api/sites", SITE).json()
    api.post("/api/sites", {"name": "other"})
    reply = api.request("PUT", f"/api/sites/{first['id']}", {**SITE, "name": "other"})
    assert reply.status == 409
    assert set(reply.json()) == {"error", "hint", "code", "params"}
    assert api.get(f"/api/sites/{first['id']}").json() == first


def test_put_validates_like_create_and_404s(api: Api) -> None:
    first = api.post("/api/sites", SITE).json()
    bad = {"name": "acme", "hosts": [{"name": "h", "address": "a"}, {"name": "h", "address": "b"}]}
    reply = api.request("PUT", f"/api/sites/{first['id']}", bad)
    assert reply.status == 400 and "twice" in reply.json()["error"]
    reply = api.request("PUT", f"/api/sites/{first['id']}", {"name": "acme", "colour": 1})
    assert reply.status == 400 and "unknown field" in reply.json()["error"]
    assert api.get(f"/api/sites/{first['id']}").json() == first
    assert api.request("PUT", "/api/sites/999", SITE).status == 404
    assert api.request("PUT", f"/api/sites/{first['id']}", SITE, token=False).status == 401
