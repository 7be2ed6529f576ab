"""Inventory import/export and credentials through the HTTP API and the command line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from appliance.jobs.sites import inventory_io
from tests.support.cli import run_cli
from tests.support.client import Api

INI = "[db]\ndb1 ansible_host=10.0.0.11 ansible_port=2222\n[web]\nweb1 ansible_user=deploy\n"
PASSWORD = "http-Pa55word-never-echoed"


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("key") / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def test_http_import_export_and_credentials(api: Api, key_file: Path) -> None:
    reply = api.post("/api/sites/import", {"name": "imp", "format": "ini", "text": INI})
    assert reply.status == 201, reply.body
    site = reply.json()
    assert [(h["name"], h["address"], h["port"]) for h in site["hosts"]] == [
        ("db1", "10.0.0.11", 2222),
        ("web1", "web1", 22),
    ]
    exported = api.get(f"/api/sites/{site['id']}/inventory")
    assert exported.status == 200 and exported.headers["content-type"].startswith("text/plain")
    assert "db1 ansible_host=10.0.0.11 ansible_port=2222" in exported.body.decode()

    body = {"ssh_key": key_file.read_text(), "become_password": PASSWORD}
    reply = api.request("PUT", "/api/sites/imp/credentials", body)
    assert reply.status == 200, reply.body
    assert reply.json()["credentials"] == ["ssh_key", "become_password"]
    assert PASSWORD.encode() not in reply.body and b"PRIVATE" not in reply.body
    status = api.get("/api/sites/imp/credentials").json()
    assert status["credentials"] == ["ssh_key", "become_password"]
    reply = api.request("PUT", "/api/sites/imp/credentials", {"clear": ["become_password"]})
    assert reply.json()["credentials"] == ["ssh_key"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "bad", "format": "ini", "text": "[a]\nh1\nh1\n"}, "listed twice"),
        ({"name": "bad", "format": "ini", "text": "[a:children]\nb\n"}, "not defined"),
        ({"name": "bad", "format": "ini", "text": "[a]\nh1 ansible_port=0\n"}, "invalid port"),
        ({"name": "bad", "format": "yaml", "text": "all: {hosts: {h1: [x]}}"}, "mapping"),
        ({"name": "bad", "format": "xml", "text": "<a/>"}, "unknown inventory format"),
        ({"name": "b a d", "format": "ini", "text": "h1\n"}, "not a valid name"),
        # no format: the content decides (a group header: INI), then INI's own refusal
        ({"name": "bad", "text": "[a:children]\nb\n"}, "not defined"),
    ],
)
def test_http_bad_imports_store_nothing(api: Api, body: dict, message: str) -> None:
    reply = api.post("/api/sites/import", body)
    assert reply.status == 400, reply.body
    assert message in reply.json()["error"] and reply.json()["hint"]
    assert api.get("/api/sites").json() == []


def test_http_bad_credentials(api: Api) -> None:
    api.post("/api/sites/import", {"name": "s", "format": "ini", "text": "h1\n"})
    reply = api.request("PUT", "/api/sites/s/credentials", {"ssh_key": "ssh-ed25519 AAAA"})
    assert reply.status == 400 and "private key" in reply.json()["error"]
    assert b"AAAA" not in reply.body
    reply = api.request("PUT", "/api/sites/nope/credentials", {"password": "x"})
    assert reply.status == 404
    assert api.get("/api/sites/s/credentials").json()["credentials"] == []


def test_cli_inventory_credentials_export(data_dir: Path, tmp_path: Path, key_file: Path) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text(INI)
    r = run_cli(data_dir, "site", "add", "cli", "--inventory", str(inv))
    assert r.returncode == 0, r.stderr
    r = run_cli(
        data_dir,
        "site",
        "credentials",
        "cli",
        "--ssh-key",
        str(key_file),
        "--password-stdin",
        "--become-password-stdin",
        input=f"{PASSWORD}\nsudo-{PASSWORD}\n",
    )
    assert r.returncode == 0, r.stderr
    assert "ssh_key, password, become_password" in r.stdout and PASSWORD not in r.stdout
    r = run_cli(data_dir, "site", "export", "cli")
    assert r.returncode == 0 and "[db]\ndb1" in r.stdout
    db = b"".join(p.read_bytes() for p in data_dir.glob("appliance.db*"))
    assert PASSWORD.encode() not in db
    assert (data_dir / "credentials.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[a]\nh1\nh1\n", "listed twice"),
        ("[a:children]\nmissing\n", "'missing' in [a:children] is not defined"),
        ("[a]\nh1:99999\n", "invalid port"),
        ("[a\n", "bad section header"),
    ],
)
def test_cli_bad_inventory(data_dir: Path, tmp_path: Path, text: str, message: str) -> None:
    inv = tmp_path / "bad.ini"
    inv.write_text(text)
    r = run_cli(data_dir, "site", "add", "x", "--inventory", str(inv))
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "hint:" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert run_cli(data_dir, "site", "list", "--json").stdout.strip() == "[]"


def test_cli_refuses_missing_stdin(data_dir: Path) -> None:
    run_cli(data_dir, "site", "add", "s", "--host", "h1=10.0.0.1")
    r = run_cli(data_dir, "site", "credentials", "s", "--password-stdin", input="")
    assert r.returncode == 2 and "stdin" in r.stderr


def test_http_import_format_from_the_content(api: Api) -> None:
    """Without a format (or with "auto"), the content says INI or YAML."""
    texts = {
        "bare": ("db1\napp1 ansible_port=2222\n", "ini"),
        "hostport": ("# comment\ndb1:2222\n", "ini"),
        "groups": ("[db]\ndb1\n", "ini"),
        "yml": ("---\nall:\n  hosts:\n    db1: {ansible_port: 2222}\n", "yaml"),
        "yml2": ("all:\n  children:\n    db: {hosts: {db1: {}}}\n", "yaml"),
    }
    for name, (text, fmt) in texts.items():
        assert inventory_io.guess_format("", text) == fmt, name
        body = {"name": name, "text": text}
        if name == "yml2":
            body["format"] = "auto"
        reply = api.post("/api/sites/import", body)
        assert reply.status == 201, (name, reply.body)
        hosts = {h["name"]: h for h in reply.json()["hosts"]}
        assert "db1" in hosts, (name, hosts)
    assert {h["name"]: h["port"] for h in api.get("/api/sites/hostport").json()["hosts"]} == {
        "db1": 2222
    }
