"""A declared password on real SSH hosts: the vault password's prompt answered next to the SSH
and become passwords' prompts (all three typed by ansible-runner), the value reaching every
host, and nothing of it on the laptop's disk."""

from __future__ import annotations

import hashlib
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.runs.manager import RunManager
from appliance.jobs.sites import config
from appliance.jobs.sites import service as remote_sites
from appliance.store import sites
from tests.remote.conftest import clean_roots, site_spec, trust_lab
from tests.runs.test_config_runs import files_holding
from tests.support.sshhosts import SshLab

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
DEMO_KEY = REPO / "bundles" / "DEMO-ONLY-signing.key"
PASSWORD = "Zq8-remote-config-Pw"


@pytest.fixture
def manager(remote_ctx: Context) -> Iterator[RunManager]:
    runs = RunManager(remote_ctx).start()
    remote_ctx.services["runs"] = runs
    yield runs


def test_config_password_next_to_ssh_and_become_passwords(
    remote_ctx: Context, lab: SshLab, manager: RunManager, tmp_path: Path
) -> None:
    ctx = remote_ctx
    key = tmp_path / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    src = REPO / "tests" / "fixtures" / "bundles" / "conf-platform" / "1.0.0"
    bundle_jobs.import_file(ctx, build_bundle(src, key, tmp_path))
    clean_roots(lab)
    site = sites.create_site(ctx.store, sites.parse_site(site_spec(lab, "remote-conf")))
    trust_lab(ctx.paths.root, site["id"], lab)
    remote_sites.set_site_credentials(
        ctx,
        site["id"],
        {"password": lab.password, "become_password": lab.password},
        key_source="file",
    )
    config.update(ctx, "remote-conf", "conf-platform", {"admin_password": PASSWORD})

    run = manager.start_run("remote-conf", "conf-platform", "1.0.0")
    done = manager.wait(run["id"], 600)
    assert done["state"] == "succeeded", (done["error"], ctx.paths.run_log(run["id"]).read_text())
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest()
    for host in lab.hosts:
        assert f"admin_sha256={digest}" in (host.root / "web.conf").read_text(), host.name
    assert files_holding(ctx.paths.root, PASSWORD.encode()) == []
    assert files_holding(ctx.paths.root, lab.password.encode()) == []
