"""Support bundle parts that need no host: the analyzers on collected data, the redaction of
secret-looking values, and refusals (unknown site, no such folder) before anything runs."""

from __future__ import annotations

from pathlib import Path

from appliance.jobs.support.analyzers import host_findings, site_findings, status_findings
from appliance.jobs.support.redact import Scrubber, masked
from appliance.store import credential_key
from tests.support.cli import run_cli
from tests.support.client import Api

G = 1 << 30


def test_host_findings() -> None:
    facts = {"disks": {"/": {"total": 100 * G, "free": 5 * G}, "/data": {"total": G, "free": G}}}
    found = host_findings("h1", {"facts": facts}, ["ok", "Traceback (most recent call last):"])
    status = {f["name"]: f["status"] for f in found}
    assert status == {
        "reachable": "pass",
        "disk /": "fail",
        "disk /data": "pass",
        "log errors": "warn",
    }
    down = host_findings("h2", {"unreachable": True, "error": "no route"}, [])
    assert [(f["name"], f["status"], f["message"]) for f in down] == [
        ("reachable", "fail", "no route")
    ]


def test_site_findings() -> None:
    site = {
        "name": "plant",
        "installed": {
            "db": {"bundle": "demo", "bundle_version": "1.0.0"},
            "app": {"bundle": "demo", "bundle_version": "1.1.0"},
        },
    }
    runs = [
        {
            "id": 2,
            "action": "upgrade",
            "version": "1.1.0",
            "state": "failed",
            "finished_at": "t",
            "error": "app: boom",
        },
    ]
    status = {f["name"]: (f["status"], f["message"]) for f in site_findings(site, runs)}
    assert status["last run"] == ("fail", "run 2 (upgrade 1.1.0) failed: app: boom")
    assert status["version drift"] == ("warn", "components from demo 1.0.0, demo 1.1.0")


def test_status_findings() -> None:
    assert status_findings("plant", None)[0]["status"] == "warn"
    status = {
        "checked_at": "t",
        "components": [
            {
                "component": "app",
                "installed_version": "1.1.0",
                "hosts": [
                    {"host": "h1", "state": "running", "version": "1.1.0", "detail": ""},
                    {"host": "h2", "state": "stopped", "version": "1.0.0", "detail": "no pid"},
                ],
            }
        ],
    }
    found = [(f["scope"], f["name"], f["status"]) for f in status_findings("plant", status)]
    assert found == [
        ("h1", "app status", "pass"),
        ("h2", "app status", "fail"),
        ("h2", "version drift", "warn"),
    ]


def test_redaction() -> None:
    scrub = Scrubber(["KnownValue1"])
    text = (
        "a KnownValue1 b\npassword=abc1 token: xyz\n"
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nend"
    )
    assert scrub(text) == "a ******** b\npassword=******** token: ********\n********\nend"
    assert masked({"db_password": "x", "port": 1, "app": {"api_token": "y"}}) == {
        "db_password": "********",
        "port": 1,
        "app": {"api_token": "********"},
    }


def test_refusals(api: Api, data_dir: Path, tmp_path: Path) -> None:
    reply = api.get("/api/sites/nowhere/support-bundle")
    assert reply.status == 404 and "site list" in reply.json()["hint"]
    api.post("/api/sites", {"name": "plant", "hosts": []})
    result = run_cli(data_dir, "support-bundle", "plant", "-o", str(tmp_path / "no" / "x.tgz"))
    assert result.returncode == 2 and "existing folder" in result.stderr
    assert not list(tmp_path.glob("**/*.tgz"))


def test_a_locked_key_answers_423(api: Api, data_dir: Path) -> None:
    credential_key.create_key(data_dir, "passphrase", "correct horse")
    api.post("/api/sites", {"name": "plant", "hosts": []})
    assert api.post("/api/credentials/unlock", {"passphrase": "correct horse"}).status == 200
    assert api.request("PUT", "/api/sites/plant/credentials", {"password": "pw12"}).status == 200
    assert api.post("/api/credentials/lock").json()["locked"] is True
    reply = api.get("/api/sites/plant/support-bundle")
    assert reply.status == 423 and "Unlock" in reply.json()["hint"]
