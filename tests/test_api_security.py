"""The real server on loopback: health, token, Host and Origin checks, headers, login cookie."""

from __future__ import annotations

import json
import os
import stat

from appliance.backend.server import LocalServer
from tests.support.client import Api


def test_health_needs_no_token(api: Api) -> None:
    reply = api.get("/api/health", token=False)
    assert reply.status == 200
    assert reply.json()["status"] == "ok"
    assert reply.json()["version"]


def test_api_without_token_is_401_json(api: Api) -> None:
    reply = api.get("/api/sites", token=False)
    assert reply.status == 401
    assert set(reply.json()) == {"error", "hint", "code", "params"}
    assert (
        api.get("/api/sites", headers={"Authorization": "Bearer wrong"}, token=False).status == 401
    )


def test_foreign_host_refused_even_with_token(api: Api) -> None:
    for host in ("evil.example", "127.0.0.1", f"attacker.test:{api.port}"):
        reply = api.get("/api/sites", headers={"Host": host})
        assert reply.status == 403, host
        assert "hint" in reply.json()
    assert api.get("/api/sites", headers={"Host": f"localhost:{api.port}"}).status == 200


def test_foreign_origin_refused_for_state_changes(api: Api) -> None:
    body = {"name": "site-a"}
    reply = api.post("/api/sites", body, headers={"Origin": "http://evil.example"})
    assert reply.status == 403
    reply = api.post("/api/sites", body, headers={"Sec-Fetch-Site": "cross-site"})
    assert reply.status == 403
    assert api.get("/api/sites").json() == []  # nothing was created
    own = f"http://127.0.0.1:{api.port}"
    assert api.post("/api/sites", body, headers={"Origin": own}).status == 201


def test_login_url_sets_httponly_strict_cookie(server: LocalServer, api: Api) -> None:
    reply = api.get(f"/?token={server.token}", token=False)
    assert reply.status == 303
    assert reply.headers["location"] == "/"
    cookie = reply.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    value = cookie.split(";")[0]
    assert api.get("/api/sites", headers={"Cookie": value}, token=False).status == 200
    assert api.get("/?token=wrong", token=False).status == 401


def test_pages_carry_strict_csp(api: Api) -> None:
    reply = api.get("/", token=False)
    assert reply.status == 200
    csp = reply.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert api.get("/static/js/app.js", token=False).status == 200


def test_unknown_path_is_json_404(api: Api) -> None:
    reply = api.get("/api/no-such-thing")
    assert reply.status == 404
    assert set(reply.json()) == {"error", "hint", "code", "params"}
    assert api.request("DELETE", "/api/health").status == 405


def test_server_json_is_private_and_removed_on_stop(server: LocalServer) -> None:
    path = server.ctx.paths.server_json
    info = json.loads(path.read_text())
    assert info == {
        "url": server.url,
        "port": server.port,
        "token": server.token,
        "pid": os.getpid(),
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    server.stop()
    assert not path.exists()
