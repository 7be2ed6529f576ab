"""A data folder with a remote site's credentials, backed up, then restored on a "new laptop"
without the original key file: the restored credentials reach the real SSH test hosts."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.jobs.ansible.hostkeys import known_hosts_file, read
from appliance.jobs.datafolder import backup, restore
from appliance.jobs.sites.service import check_site, set_site_credentials
from appliance.jobs.sites.trust import trust_keys
from appliance.settings import load_settings
from appliance.store import sites
from tests.remote.conftest import site_spec
from tests.support.sshhosts import SshLab

pytestmark = pytest.mark.slow

PASSPHRASE = "a backup passphrase"


def test_restored_credentials_reach_the_hosts(remote_data_dir: Path, lab: SshLab) -> None:
    from appliance.context import open_context

    ctx = open_context(load_settings(cli={"data_dir": str(remote_data_dir)}, env={}))
    try:
        site = sites.create_site(ctx.store, sites.parse_site(site_spec(lab)))
        accepted = trust_keys(ctx, "remote")  # over the network, as the engineer would
        assert {h["status"] for h in accepted["hosts"]} == {"unknown"}
        set_site_credentials(
            ctx,
            "remote",
            {"ssh_key": lab.key_text, "become_password": lab.password},
            key_source="file",
        )
        archive = lab.laptop / f"{remote_data_dir.name}.backup"
        backup(ctx, archive, PASSPHRASE)
    finally:
        ctx.close()
    (remote_data_dir / "credentials.key").unlink()  # the old laptop's key is gone

    new = lab.laptop / f"{remote_data_dir.name}-new"
    restore(archive, new, PASSPHRASE)
    # the accepted host keys came back with the folder, private
    known_hosts = known_hosts_file(new, site["id"])
    assert known_hosts.stat().st_mode & 0o777 == 0o600
    assert read(known_hosts) == read(lab.known_hosts)
    again = open_context(load_settings(cli={"data_dir": str(new)}, env={}))
    try:
        result = check_site(again, "remote")
    finally:
        again.close()
    for host in result["hosts"]:
        assert host["reachable"] and host["modules"], host
        assert host["sudo"] == "ok", host  # the become password came back too
    assert result["ok"] and result["credentials"] == ["ssh_key", "become_password"]
