"""`site check` against real SSH hosts: key, password, become password, a host that is down."""

from __future__ import annotations

import pytest

from appliance.context import Context
from appliance.jobs.ansible.secrets import runner_secrets
from appliance.jobs.sites import check as site_check
from appliance.store import sites
from appliance.store.credentials import SiteSecrets
from tests.remote.conftest import site_spec
from tests.support.sshhosts import SshLab

pytestmark = pytest.mark.slow


def run_check(ctx: Context, lab: SshLab, secrets: SiteSecrets) -> dict[str, dict]:
    spec = sites.parse_site(site_spec(lab))
    results = site_check.check_hosts(
        ctx.paths.root, spec["hosts"], spec["vars"], runner_secrets(secrets), lab.known_hosts
    )
    return {r["host"]: r for r in results}


def test_key_and_become_password(remote_ctx: Context, lab: SshLab) -> None:
    lab.hosts[2].stop()
    got = run_check(
        remote_ctx, lab, SiteSecrets(ssh_key=lab.key_text, become_password=lab.password)
    )
    for name in ("h1", "h2"):
        assert got[name]["reachable"] and got[name]["modules"], got[name]["error"]
        assert got[name]["python"] == "/usr/bin/python3"
        assert got[name]["sudo"] == "ok", got[name]
    assert not got["h3"]["reachable"] and got["h3"]["error"], got["h3"]
    assert not site_check.summary_ok(list(got.values()))
    assert not list((remote_ctx.paths.root / "tmp").glob("check-*"))


def test_password_login_without_become_password(remote_ctx: Context, lab: SshLab) -> None:
    got = run_check(remote_ctx, lab, SiteSecrets(password=lab.password))
    for result in got.values():
        assert result["reachable"] and result["modules"], result
        assert result["sudo"] == "needs password", result
    assert site_check.summary_ok(list(got.values()))


def test_wrong_password_is_unreachable(remote_ctx: Context, lab: SshLab) -> None:
    got = run_check(remote_ctx, lab, SiteSecrets(password="not-the-password"))
    assert all(not r["reachable"] for r in got.values()), [r["error"] for r in got.values()]
    assert "not-the-password" not in str(got)


def test_cli_check_table_and_exit_status(data_dir, lab: SshLab, tmp_path) -> None:
    import json

    from tests.support.cli import run_cli

    spec = site_spec(lab, "cli-check")
    r = run_cli(data_dir, "site", "add", "seed", "--host", "x=10.0.0.1")  # creates the data dir
    assert r.returncode == 0, r.stderr
    inv = tmp_path / "site.yml"
    inv.write_text(
        json.dumps(
            {
                "all": {
                    "vars": spec["vars"],
                    "hosts": {
                        h["name"]: {"ansible_host": h["address"], "ansible_user": h["user"]}
                        for h in spec["hosts"]
                    },
                }
            }
        )
    )
    r = run_cli(data_dir, "site", "add", "cli-check", "--inventory", str(inv))
    assert r.returncode == 0, r.stderr
    r = run_cli(
        data_dir,
        "site",
        "credentials",
        "cli-check",
        "--ssh-key",
        str(lab.client_key),
        "--become-password-stdin",
        input=lab.password + "\n",
    )
    assert r.returncode == 0, r.stderr
    r = run_cli(data_dir, "site", "trust-keys", "cli-check", "--yes")
    assert r.returncode == 0, r.stderr
    assert "trusted the host keys of h1, h2, h3" in r.stdout
    lab.hosts[0].stop()
    r = run_cli(data_dir, "site", "check", "cli-check")
    assert r.returncode == 1, (r.stdout, r.stderr)
    rows = {line.split()[0]: line for line in r.stdout.splitlines()[1:] if line[:1] == "h"}
    assert " NO " in rows["h1"]
    assert "/usr/bin/python3" in rows["h2"] and rows["h2"].split()[5] == "ok", r.stdout
    assert "NOT ready" in r.stdout
    assert "(trusted)" in rows["h2"] and "not read" in rows["h1"], r.stdout


def test_http_check(api, lab: SshLab) -> None:
    reply = api.post("/api/sites", site_spec(lab, "http-check"))
    assert reply.status == 201, reply.body
    body = {"ssh_key": lab.key_text}
    assert api.request("PUT", "/api/sites/http-check/credentials", body).status == 200
    api.timeout = 300  # the check takes seconds, more on a busy machine
    reply = api.post("/api/sites/http-check/host-keys", {})
    assert reply.status == 200, reply.body
    reply = api.post("/api/sites/http-check/check")
    assert reply.status == 200, reply.body
    result = reply.json()
    assert result["ok"] and result["credentials"] == ["ssh_key"]
    assert [h["sudo"] for h in result["hosts"]] == ["needs password"] * 3
    assert b"PRIVATE KEY" not in reply.body
