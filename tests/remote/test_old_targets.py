"""Hosts whose Python is older than ansible-core 2.19 manages (3.8): a host with Python 2.7 is
managed through the carried ansible-core 2.16 (a run succeeds end to end), and a host no
carried core manages (Python 2.6) is reported by the check, with the way out, and a run on its
site is refused before it starts.

What is real: the SSH hosts (sshd in network namespaces, tests/support/sshhosts.py), the login,
sudo, Ansible's ``raw`` probe and modules through ansible-runner, both ansible-cores (2.19 from
the venv; 2.16.19 installed from PyPI by scripts/setup.sh into build/ansible-cores/2.16, imported
by the run's own ansible-playbook child), the run manager, and host h2's Python 2.7: Debian 11's
own python2.7 2.7.18 from Debian's registry (scripts/old_python_root.sh: a bullseye root made
with debootstrap, cached outside the repository), started by the root's own loader with the
root's own libraries (glibc 2.31, libssl1.1, ...). The root is bound into h2's view of this
machine only (its sshd's mount namespace), and h2's ``ansible_python_interpreter`` names the
root's launcher ``bin-old/python2.7``; h2 otherwise shares this machine's files (its
/usr/bin/python3 exists but is not named, so Ansible does not use it: the file the run writes
says which Python ran the modules).
What stands in: no registry reachable here carries a Python older than 2.7 (Debian dropped 2.6
after wheezy), so for the refusal h2's interpreter is a small script that answers the version
question with "2.6.9" and hands anything else to the real /usr/bin/python3.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.errors import Unprocessable
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.ansible import cores
from appliance.jobs.ansible.secrets import runner_secrets
from appliance.jobs.daytwo import status
from appliance.jobs.runs.manager import RunManager
from appliance.jobs.sites import check as site_check
from appliance.jobs.sites import service as remote_sites
from appliance.states import RunState
from appliance.store import runs, sites
from appliance.store.credentials import SiteSecrets
from tests.remote.conftest import clean_roots, lab_site, site_spec
from tests.support.cli import run_cli
from tests.support.sshhosts import SshLab

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "bundles" / "old-targets" / "1.0.0"
TOO_OLD = """#!/bin/sh
# Stands in for a Python 2.6: only its answer to the version question is made up.
case "$*" in *version_info*) echo 2.6.9; exit 0 ;; esac
exec /usr/bin/python3 "$@"
"""


@pytest.fixture(scope="session")
def old_root() -> Path:
    """The cached Debian 11 root with python2.7 (made here when absent; scripts/test.sh makes
    it before pytest in CI)."""
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "old_python_root.sh"), "ensure"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.returncode == 0, out.stderr
    return Path(out.stdout.strip())


@pytest.fixture
def python27(lab: SshLab, old_root: Path) -> Iterator[str]:
    """h2 restarted with the Debian 11 root in its view; the interpreter's path there."""
    host = lab.hosts[1]
    mount_point = lab.base / "old-python-root"  # the lab's base is readable by the login user
    mount_point.mkdir(mode=0o755, exist_ok=True)
    host.stop()
    host.binds = [(old_root, mount_point)]
    host.start()
    try:
        yield str(mount_point / "bin-old" / "python2.7")
    finally:
        host.stop()
        host.binds = []
        host.start()


@pytest.fixture
def python26(lab: SshLab) -> Iterator[str]:
    folder = lab.base / "too-old-python"
    folder.mkdir(mode=0o755, exist_ok=True)
    script = folder / "python2.6"
    script.write_text(TOO_OLD)
    script.chmod(0o755)
    yield str(script)
    shutil.rmtree(folder, ignore_errors=True)


def old_site(lab: SshLab, name: str, interpreter: str, **site_vars: str) -> dict:
    """The lab's site; its second host's interpreter is ``interpreter``."""
    spec = site_spec(lab, name, **site_vars)
    spec["hosts"][1]["vars"]["ansible_python_interpreter"] = interpreter
    return spec


def check(ctx: Context, lab: SshLab, spec: dict) -> dict[str, dict]:
    spec = sites.parse_site(spec)
    secrets = runner_secrets(SiteSecrets(ssh_key=lab.key_text, become_password=lab.password))
    found = site_check.check_hosts(
        ctx.paths.root, spec["hosts"], spec["vars"], secrets, lab.known_hosts
    )
    return {r["host"]: r for r in found}


def demo_key(tmp_path: Path) -> Path:
    key = tmp_path / "demo.key"
    shutil.copyfile(REPO / "bundles" / "DEMO-ONLY-signing.key", key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return key


def test_both_cores_are_carried_in_a_checkout() -> None:
    carried = cores.carried()
    assert [c.series for c in carried] == ["2.19", "2.16"], carried
    assert carried[1].path is not None and (carried[1].path / "ansible").is_dir()


def test_the_check_manages_python_2_7_through_ansible_core_2_16(
    remote_ctx: Context, lab: SshLab, python27: str
) -> None:
    got = check(remote_ctx, lab, old_site(lab, "old-check", python27))
    for name in ("h1", "h3"):  # the real /usr/bin/python3 of this machine (Debian 12: 3.11)
        assert got[name]["python_version"].startswith("3.11."), got[name]
        assert got[name]["ansible_core"].startswith("2.19."), got[name]
        assert got[name]["modules"] and got[name]["sudo"] == "ok", got[name]
    old = got["h2"]
    assert old["python"] == python27 and old["python_version"] == "2.7.18", old
    assert old["manageable"] and old["ansible_core"].startswith("2.16."), old
    assert old["modules"], old  # ping ran on Python 2.7 through ansible-core 2.16
    assert old["sudo"] == "ok" and not old["error"], old  # `command: id -u` as root
    assert site_check.summary_ok(list(got.values()))


def test_the_check_reports_a_python_no_carried_core_manages(
    remote_ctx: Context, lab: SshLab, python26: str
) -> None:
    got = check(remote_ctx, lab, old_site(lab, "too-old-check", python26))
    assert got["h1"]["manageable"] and got["h1"]["modules"], got["h1"]
    old = got["h2"]
    assert old["reachable"] and old["python"] == python26, old
    assert old["python_version"] == "2.6.9" and old["manageable"] is False, old
    assert old["ansible_core"] is None and not old["modules"], old  # no ping: it would not run
    assert "too old for ansible-core 2.19" in old["error"] and "2.16" in old["error"], old
    assert "ansible_python_interpreter" in old["error"], old  # the way out
    assert not site_check.summary_ok(list(got.values()))


def test_a_run_on_python_2_7_succeeds_through_ansible_core_2_16(
    remote_ctx: Context, lab: SshLab, python27: str, tmp_path: Path
) -> None:
    ctx = remote_ctx
    bundle_jobs.import_file(ctx, build_bundle(FIXTURE, demo_key(tmp_path), tmp_path))
    site = lab_site(ctx, lab, old_site(lab, "old-run", python27))
    clean_roots(lab)
    manager = RunManager(ctx).start()
    try:
        # ansible-core 2.16 logs in with a password only through sshpass (not installed here)
        with pytest.raises(Unprocessable, match="sshpass") as refused:
            manager.start_run("old-run", "old-targets", "1.0.0", "install")
        assert "--ssh-key" in refused.value.hint
        assert runs.list_runs(site=site["id"]) == []
        # with the key alone (and the become password) it runs
        remote_sites.set_site_credentials(ctx, site["id"], {}, clear=["password"])
        run = manager.start_run("old-run", "old-targets", "1.0.0", "install")
        manager.wait(run["id"], timeout=600)
    finally:
        manager.stop()
    done = runs.get_run(run["id"])
    log = ctx.paths.run_log(run["id"]).read_text()
    assert done["state"] == RunState.SUCCEEDED, (done, log[-3000:])
    assert "appliance: ansible-core 2.16.19 manages Python 2.7 and 3.6 or newer: this run" in log
    seen = {h.name: (h.root / "base" / "python-seen").read_text().split() for h in lab.hosts}
    # Debian 11's python2.7 ran h2's modules (its sys.executable: the root's own binary)
    assert seen["h2"] == ["2.7.18", str(Path(python27).parents[1] / "usr/bin/python2.7")], seen
    assert seen["h1"][0].startswith("3.11.") and seen["h3"][0].startswith("3.11."), seen
    assert {(h.root / "base" / "ansible-seen").read_text() for h in lab.hosts} == {"2.16.19\n"}
    ini = (lab.hosts[1].root / "base" / "settings.ini").read_text()
    assert ini == "installed_by = root\n", ini

    # Day two: the status playbook runs through the core the site's run used
    board = status.refresh(ctx, "old-run")
    hosts = {h["host"]: h for h in board["components"][0]["hosts"]}
    assert hosts["h2"]["state"] == "running", board
    assert hosts["h2"]["detail"].startswith("2.7.18 "), board


def test_a_site_pinned_to_2_19_with_python_2_7_is_refused(
    remote_ctx: Context, lab: SshLab, python27: str
) -> None:
    spec = sites.parse_site(old_site(lab, "pinned", python27, appliance_ansible_core="2.19"))
    secrets = runner_secrets(SiteSecrets(ssh_key=lab.key_text))
    with pytest.raises(Unprocessable) as refused:
        site_check.refuse_unmanageable(
            remote_ctx.paths.root, spec["hosts"], spec["vars"], lambda: secrets, lab.known_hosts
        )
    assert "h2: Python 2.7.18" in str(refused.value) and "2.16" not in str(refused.value)


def test_a_run_on_a_site_no_carried_core_manages_is_refused_before_it_starts(
    remote_ctx: Context, lab: SshLab, python26: str, tmp_path: Path
) -> None:
    ctx = remote_ctx
    archive = build_bundle(
        REPO / "bundles" / "demo-platform" / "1.0.0", demo_key(tmp_path), tmp_path
    )
    bundle_jobs.import_file(ctx, archive)
    site = lab_site(ctx, lab, old_site(lab, "old-refused", python26))
    clean_roots(lab)
    manager = RunManager(ctx).start()
    try:
        with pytest.raises(Unprocessable) as refused:
            manager.start_run("old-refused", "demo-platform", "1.0.0", "install")
    finally:
        manager.stop()
    error = refused.value
    assert "h2" in str(error) and "2.6.9" in str(error) and "too old" in str(error)
    assert "h1" not in str(error) and "h3" not in str(error)
    assert "ansible_python_interpreter" in error.hint and "2.7 and 3.6" in error.hint
    assert runs.list_runs(site=site["id"]) == []  # no run recorded
    for host in lab.hosts:  # nothing ran on any host
        assert not any(host.root.iterdir()), host.name


def test_the_check_table_shows_versions_and_the_problem(
    data_dir: Path, lab: SshLab, python26: str, tmp_path: Path
) -> None:
    spec = old_site(lab, "old-cli", python26)
    hosts = {
        h["name"]: {"ansible_host": h["address"], "ansible_user": h["user"]} for h in spec["hosts"]
    }
    hosts["h2"]["ansible_python_interpreter"] = python26
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
    assert rows["h2"].split()[3] == f"2.6.9:{python26}", r.stdout
    assert "too old" in rows["h2"] and "ansible_python_interpreter" in rows["h2"]

    # The run from the command line: one line with the reason and the way out, exit 2.
    archive = build_bundle(
        REPO / "bundles" / "demo-platform" / "1.0.0", demo_key(tmp_path), tmp_path
    )
    assert run_cli(data_dir, "bundle", "import", str(archive)).returncode == 0
    r = run_cli(data_dir, "run", "old-cli", "demo-platform@1.0.0")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "h2" in r.stderr and "2.6.9" in r.stderr and "ansible_python_interpreter" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli(data_dir, "runs", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) in ([], {"runs": []}), r.stdout


def test_a_site_it_can_manage_is_not_refused(remote_ctx: Context, lab: SshLab) -> None:
    """The same probe on the lab's site as every remote run now makes it (its cost printed)."""
    import time

    spec = sites.parse_site(site_spec(lab, "new-enough"))
    secrets = runner_secrets(SiteSecrets(ssh_key=lab.key_text))
    started = time.monotonic()
    core, versions = site_check.refuse_unmanageable(
        remote_ctx.paths.root, spec["hosts"], spec["vars"], lambda: secrets, lab.known_hosts
    )
    print(f"\npreflight probe of {len(spec['hosts'])} hosts: {time.monotonic() - started:.2f} s")
    assert core.path is None and core.series == "2.19", core  # the newest that manages them
    assert set(versions) == {"h1", "h2", "h3"}
    assert all(v and v.startswith("3.11.") for v in versions.values()), versions
    assert not list((remote_ctx.paths.root / "tmp").glob("check-*"))


def test_sites_on_this_machine_are_not_probed(remote_ctx: Context, monkeypatch) -> None:
    # Its credentials are read (a key would need ssh-agent on this machine too), never sent.
    def no_probe(*args: object) -> None:
        raise AssertionError("a local site needs no probe")

    monkeypatch.setattr(site_check, "_adhoc", no_probe)
    hosts = [{"name": "laptop", "address": "localhost", "vars": {}}]
    nowhere = remote_ctx.paths.root / "no-known-hosts"
    core, versions = site_check.refuse_unmanageable(
        remote_ctx.paths.root,
        hosts,
        {},
        lambda: runner_secrets(SiteSecrets(password="pw", become_password="pw")),
        nowhere,
    )
    assert versions == {} and core.path is None
