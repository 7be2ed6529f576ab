"""Vendor content on the SSH test hosts: the public collections (ansible.posix,
community.general from the ``ansible`` package on PyPI) and a role from the bundle's roles/, run
over SSH with become; with Ansible's default remote temp, nothing is created on a host under
the laptop's paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.runs.manager import RunManager
from tests.remote.conftest import clean_roots, lab_site, site_spec
from tests.runs.test_vendor_content import PUBLIC_KEY, vendor_bundle  # noqa: F401 (a fixture)
from tests.support.sshhosts import SshLab


@pytest.fixture
def manager(remote_ctx: Context) -> Iterator[RunManager]:
    runs = RunManager(remote_ctx).start()
    remote_ctx.services["runs"] = runs
    yield runs


@pytest.mark.slow
def test_public_collections_run_over_ssh_without_laptop_paths(
    remote_ctx: Context,
    lab: SshLab,
    manager: RunManager,
    vendor_bundle: Path,  # noqa: F811
) -> None:
    ctx = remote_ctx
    bundle_jobs.import_file(ctx, vendor_bundle)
    clean_roots(lab)
    spec = site_spec(lab, "vendor")
    spec["vars"].pop("ansible_remote_tmp")  # Ansible's default remote temp, as a site has it
    lab_site(ctx, lab, spec)
    before = {h.name: sorted(h.view.rglob("*")) for h in lab.hosts}

    run = manager.wait(manager.start_run("vendor", "vendor-content", "1.0.0")["id"], 600)
    log = ctx.paths.run_log(run["id"]).read_text()
    assert run["state"] == "succeeded", (run["error"], log[-3000:])
    for host in lab.hosts:
        assert (host.root / "authorized_keys").read_text().strip() == PUBLIC_KEY, host.name
        ini = (host.root / "app.ini").read_text()
        assert "[app]" in ini and f"port = {host.app_port}" in ini, host.name
        assert run["hosts"][host.name]["changed"] == 2, run["hosts"]
        # nothing under the laptop's paths on the host (remote temp included)
        assert sorted(host.view.rglob("*")) == before[host.name], host.name
