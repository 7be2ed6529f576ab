"""A passphrase-protected credentials key unlocked over the loopback API: refused (423) until
unlocked, a wrong passphrase refused, the key then held in memory only; secrets never sent back."""

from __future__ import annotations

from appliance.context import Context
from appliance.jobs.sites import service
from appliance.store import credential_key
from tests.support.client import Api

PASSPHRASE = "correct horse battery staple"
SECRET = "s3cret-Pa55"


def test_unlock_set_replace_clear_and_lock(api: Api, ctx: Context) -> None:
    credential_key.create_key(ctx.paths.root, "passphrase", PASSPHRASE)
    site = api.post("/api/sites", {"name": "plant", "hosts": []}).json()
    path = f"/api/sites/{site['id']}/credentials"
    assert api.get("/api/credentials/key").json() == {
        "exists": True,
        "source": "passphrase",
        "locked": True,
    }
    locked = api.request("PUT", path, {"password": SECRET})
    assert locked.status == 423
    assert "Unlock the credentials in the window" in locked.json()["hint"]

    wrong = api.post("/api/credentials/unlock", {"passphrase": "nope"})
    assert wrong.status == 423 and wrong.json()["error"] == "wrong credentials passphrase"
    assert api.post("/api/credentials/unlock", {}).status == 400
    opened = api.post("/api/credentials/unlock", {"passphrase": PASSPHRASE})
    assert opened.status == 200 and opened.json()["locked"] is False

    put = api.request("PUT", path, {"password": SECRET, "become_password": "other"})
    assert put.status == 200 and put.json()["credentials"] == ["password", "become_password"]
    assert SECRET.encode() not in put.body
    assert service.site_secrets(ctx, site["id"]).redact(f"x {SECRET} y") == "x ******** y"
    replaced = api.request("PUT", path, {"password": "new-one", "clear": ["become_password"]})
    assert replaced.json()["credentials"] == ["password"]
    got = api.get(path)
    assert got.json()["credentials"] == ["password"] and b"new-one" not in got.body

    assert api.post("/api/credentials/lock").json()["locked"] is True
    assert api.request("PUT", path, {"password": SECRET}).status == 423
    # clearing needs no key, locked or not
    assert api.request("PUT", path, {"clear": ["password"]}).json()["credentials"] == []
    log = (ctx.paths.logs / "appliance.log").read_text() if ctx.paths.logs.exists() else ""
    assert PASSPHRASE not in log and SECRET not in log
    assert PASSPHRASE not in "".join(
        p.read_text(errors="replace") for p in ctx.paths.root.glob("*.json")
    )
