"""A host whose Python is older than the carried ansible-core manages (3.8): the check says so
with the way out, and a run on its site is refused before it starts.

What is real: the SSH hosts (sshd in network namespaces, tests/support/sshhosts.py), the login,
Ansible's ``raw`` probe through ansible-runner, the interpreter named by the host's
``ansible_python_interpreter``, the run manager and the demo bundle. What stands in: no Python
older than 3.8 could be installed here (Debian 12's archive carries only 3.11), so the host's
``ansible_python_interpreter`` names a small script that answers the version question with
"3.6.8" (RHEL 8's platform Python) and hands anything else to the real /usr/bin/python3.
"""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.errors import Unprocessable
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.ansible.secrets import runner_secrets
from appliance.jobs.runs.manager import RunManager
from appliance.jobs.sites import check as site_check
from appliance.jobs.sites import service as remote_sites
from appliance.store import runs, sites
from appliance.store.credentials import SiteSecrets
from tests.remote.conftest import clean_roots, site_spec, trust_lab
from tests.support.sshhosts import SshLab

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
OLD_PYTHON = """#!/bin/sh
# Stands in for a Python 3.6: only its answer to the version question is made up.
case "$*" in *version_info*) echo 3.6.8; exit 0 ;; esac
exec /usr/bin/python3 "$@"
"""


@pytest.fixture
def old_python(lab: SshLab) -> Iterator[str]:
    folder = lab.base / "old-python"  # the lab's base is readable by the login user
    folder.mkdir(mode=0o755, exist_ok=True)
    script = folder / "python3.6"
    script.write_text(OLD_PYTHON)
    script.chmod(0o755)
    yield str(script)
    shutil.rmtree(folder, ignore_errors=True)


def old_site(lab: SshLab, name: str, old_python: str) -> dict:
    """The lab's site; its second host's interpreter is the 3.6 stand-in."""
    spec = site_spec(lab, name)
    spec["hosts"][1]["vars"]["ansible_python_interpreter"] = old_python
    return spec


def test_the_check_reports_each_hosts_python_and_what_it_cannot_manage(
    remote_ctx: Context, lab: SshLab, old_python: str
) -> None:
    spec = sites.parse_site(old_site(lab, "old-check", old_python))
    secrets = runner_secrets(SiteSecrets(ssh_key=lab.key_text, become_password=lab.password))
    got = {
        r["host"]: r
        for r in site_check.check_hosts(
            remote_ctx.paths.root, spec["hosts"], spec["vars"], secrets, lab.known_hosts
        )
    }
    for name in ("h1", "h3"):  # the real /usr/bin/python3 of this machine (Debian 12: 3.11)
        assert got[name]["python"] == "/usr/bin/python3", (got[name]["error"], got[name])
        assert got[name]["python_version"].startswith("3.11."), got[name]
        assert got[name]["manageable"] and got[name]["modules"], got[name]
    old = got["h2"]
    assert old["reachable"] and old["python"] == old_python, old
    assert old["python_version"] == "3.6.8" and old["manageable"] is False, old
    assert not old["modules"]  # no ping: its modules would not run
    assert "older than 3.8" in old["error"] and "ansible-core" in old["error"], old
    assert "ansible_python_interpreter" in old["error"], old  # the way out
    assert not site_check.summary_ok(list(got.values()))


def test_a_run_on_a_site_it_cannot_manage_is_refused_before_it_starts(
    remote_ctx: Context, lab: SshLab, old_python: str, tmp_path: Path
) -> None:
    ctx = remote_ctx
    key = tmp_path / "demo.key"
    shutil.copyfile(REPO / "bundles" / "DEMO-ONLY-signing.key", key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    archive = build_bundle(REPO / "bundles" / "demo-platform" / "1.0.0", key, tmp_path)
    bundle_jobs.import_file(ctx, archive)
    site = sites.create_site(ctx.store, sites.parse_site(old_site(lab, "old-run", old_python)))
    trust_lab(ctx.paths.root, site["id"], lab)
    remote_sites.set_site_credentials(
        ctx,
        site["id"],
        {"ssh_key": lab.key_text, "become_password": lab.password},
        key_source="file",
    )
    clean_roots(lab)
    manager = RunManager(ctx).start()
    try:
        with pytest.raises(Unprocessable) as refused:
            manager.start_run("old-run", "demo-platform", "1.0.0", "install")
    finally:
        manager.stop()
    error = refused.value
    assert "h2" in str(error) and "3.6.8" in str(error) and "older than 3.8" in str(error)
    assert "h1" not in str(error) and "h3" not in str(error)
    assert "ansible_python_interpreter" in error.hint
    assert runs.list_runs(site=site["id"]) == []  # no run recorded
    for host in lab.hosts:  # nothing ran on any host
        assert not any(host.root.iterdir()), host.name


def test_the_check_table_shows_versions_and_the_problem(
    data_dir: Path, lab: SshLab, old_python: str, tmp_path: Path
) -> None:
    import json

    from tests.support.cli import run_cli

    spec = old_site(lab, "old-cli", old_python)
    hosts = {
        h["name"]: {"ansible_host": h["address"], "ansible_user": h["user"]} for h in spec["hosts"]
    }
    hosts["h2"]["ansible_python_interpreter"] = old_python
    inv = tmp_path / "site.yml"
    inv.write_text(json.dumps({"all": {"vars": spec["vars"], "hosts": hosts}}))
    r = run_cli(data_dir, "site", "add", "old-cli", "--inventory", str(inv))
    assert r.returncode == 0, r.stderr
    r = run_cli(data_dir, "site", "credentials", "old-cli", "--ssh-key", str(lab.client_key))
    assert r.returncode == 0, r.stderr
    assert run_cli(data_dir, "site", "trust-keys", "old-cli", input="y\n").returncode == 0
    r = run_cli(data_dir, "site", "check", "old-cli")
    assert r.returncode == 1, (r.stdout, r.stderr)
    rows = {line.split()[0]: line for line in r.stdout.splitlines()[1:] if line[:1] == "h"}
    assert rows["h1"].split()[3].startswith("3.11."), r.stdout
    assert rows["h1"].split()[3].endswith(":/usr/bin/python3"), r.stdout
    assert rows["h2"].split()[3] == f"3.6.8:{old_python}", r.stdout
    assert "older than 3.8" in rows["h2"] and "ansible_python_interpreter" in rows["h2"]

    # The run from the command line: one line with the reason and the way out, exit 2.
    key = tmp_path / "demo.key"
    shutil.copyfile(REPO / "bundles" / "DEMO-ONLY-signing.key", key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    archive = build_bundle(REPO / "bundles" / "demo-platform" / "1.0.0", key, tmp_path)
    assert run_cli(data_dir, "bundle", "import", str(archive)).returncode == 0
    r = run_cli(data_dir, "run", "old-cli", "demo-platform@1.0.0")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "h2" in r.stderr and "3.6.8" in r.stderr and "ansible_python_interpreter" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli(data_dir, "runs", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) in ([], {"runs": []}), r.stdout


def test_a_site_it_can_manage_is_not_refused(remote_ctx: Context, lab: SshLab) -> None:
    """The same probe on the lab's site as every remote run now makes it (its cost printed)."""
    import time

    spec = sites.parse_site(site_spec(lab, "new-enough"))
    secrets = runner_secrets(SiteSecrets(ssh_key=lab.key_text))
    started = time.monotonic()
    versions = site_check.refuse_unmanageable(
        remote_ctx.paths.root, spec["hosts"], spec["vars"], lambda: secrets, lab.known_hosts
    )
    print(f"\npreflight probe of {len(spec['hosts'])} hosts: {time.monotonic() - started:.2f} s")
    assert set(versions) == {"h1", "h2", "h3"}
    assert all(v and v.startswith("3.11.") for v in versions.values()), versions
    assert not list((remote_ctx.paths.root / "tmp").glob("check-*"))


def test_sites_on_this_machine_are_not_probed(remote_ctx: Context) -> None:
    def no_secrets() -> None:
        raise AssertionError("a local site needs no credentials and no probe")

    hosts = [{"name": "laptop", "address": "localhost", "vars": {}}]
    nowhere = remote_ctx.paths.root / "no-known-hosts"
    assert (
        site_check.refuse_unmanageable(remote_ctx.paths.root, hosts, {}, no_secrets, nowhere) == {}
    )
