"""`site check` against real SSH hosts: key, password, become password, a host that is down."""

from __future__ import annotations

import pytest

from appliance.context import Context
from appliance.jobs import site_check
from appliance.jobs.runner_secrets import runner_secrets
from appliance.store import sites
from appliance.store.credentials import SiteSecrets
from tests.remote.conftest import site_spec
from tests.support.sshhosts import SshLab

pytestmark = pytest.mark.slow


def run_check(ctx: Context, lab: SshLab, secrets: SiteSecrets) -> dict[str, dict]:
    spec = sites.parse_site(site_spec(lab))
    results = site_check.check_hosts(
        ctx.paths.root, spec["hosts"], spec["vars"], runner_secrets(secrets)
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
