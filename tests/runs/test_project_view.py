"""Runs never modify the imported bundle: each run works on its own view of the project, and the
inventory folder Ansible sees is the site's own, kept between runs."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.errors import BundleError
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.runs import project
from appliance.jobs.runs.manager import RunManager
from appliance.store import sites
from tests.runs.conftest import DEMO_KEY, LocalSite, site_spec
from tests.support.local import free_port, kill_everything_under, write_tree
from tests.support.processes import run_cli

MANIFEST = """\
format: 1
name: scribble
version: "1.0.0"
components:
  - {name: scribble, version: "1", playbook: playbooks/site.yml}
stages:
  preflight: playbooks/preflight.yml
"""

# Writes next to its playbook (as real roles do with relative paths and delegate_to) and
# records whether an earlier run's file was there.
SITE = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Look for what an earlier run left next to the playbook
      ansible.builtin.stat:
        path: "{{ playbook_dir }}/written.txt"
      register: before
    - name: The large file is there (shared with the import, not copied)
      ansible.builtin.stat:
        path: "{{ playbook_dir }}/../files/big.bin"
      register: big
      failed_when: big.stat.size != 2097152
    - name: Say what was seen
      ansible.builtin.copy:
        dest: "{{ install_root }}/seen.txt"
        content: "{{ before.stat.exists }}"
    - name: Write next to the playbook
      ansible.builtin.copy:
        dest: "{{ playbook_dir }}/written.txt"
        content: "{{ install_root }}"
      delegate_to: localhost
    - name: Make a folder in the project (like ssh_keys/ of a real role)
      ansible.builtin.file:
        path: "{{ playbook_dir }}/../ssh_keys"
        state: directory
        mode: "0700"
"""

# Generated state kept on the control node, as large real projects do.
PREFLIGHT = """\
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.file:
        path: "{{ install_root }}"
        state: directory
    - name: A generated password, kept under inventory_dir
      ansible.builtin.copy:
        dest: "{{ install_root }}/password-{{ backup_id }}.txt"
        content: "{{ lookup('password', inventory_dir ~ '/credentials/db length=24') }}"
"""


@pytest.fixture(scope="session")
def scribble_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scribble")
    src = folder / "src"
    write_tree(
        src,
        {
            "bundle.yml": MANIFEST,
            "playbooks/site.yml": SITE,
            "playbooks/preflight.yml": PREFLIGHT,
        },
    )
    (src / "files").mkdir()
    (src / "files/big.bin").write_bytes(os.urandom(2 * 1024 * 1024))  # above SMALL_FILE
    key = folder / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return build_bundle(src, key, folder)


def assert_as_signed(folder: Path) -> None:
    """Every file the manifest lists, with its hash, and nothing else."""
    manifest = yaml.safe_load((folder / "bundle.yml").read_text())
    own = {"bundle.yml", "bundle.sig", ".bundle-meta.json"}
    found = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}
    assert found - own == set(manifest["files"]), found - own ^ set(manifest["files"])
    dirs = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_dir()}
    assert "ssh_keys" not in dirs, dirs
    for rel, digest in manifest["files"].items():
        actual = hashlib.sha256((folder / rel).read_bytes()).hexdigest()
        assert "sha256:" + actual == digest, rel


@pytest.mark.slow
def test_runs_write_into_their_own_view_and_keep_state_per_site(
    ctx: Context, manager: RunManager, local_site: LocalSite, scribble_bundle: Path, tmp_path
) -> None:
    bundle_jobs.import_file(ctx, scribble_bundle)
    imported = ctx.paths.bundles / "scribble" / "1.0.0"
    other_root = tmp_path / "other-root"
    sites.create_site(ctx.store, sites.parse_site(site_spec("other", other_root, free_port())))
    try:

        def run(site: str, action: str | None = None) -> dict:
            started = manager.start_run(site, "scribble", "1.0.0", action)
            done = manager.wait(started["id"], timeout=300)
            log = ctx.paths.run_log(done["id"]).read_text()
            assert done["state"] == "succeeded", (done["error"], log[-3000:])
            return done

        first = run("lab")
        assert (local_site.root / "seen.txt").read_text() == "False"
        assert_as_signed(imported)
        view = project.view_dir(ctx.paths.run_dir(first["id"]))
        assert (view / "playbooks" / "written.txt").read_text() == str(local_site.root)
        assert (view / "ssh_keys").is_dir()

        second = run("other")  # another site does not see what the first site's run wrote
        assert (other_root / "seen.txt").read_text() == "False"
        assert_as_signed(imported)

        # the password generated under inventory_dir is found again by the site's next run
        third = run("lab", "check")
        passwords = {
            run_id: (local_site.root / f"password-run-{run_id}.txt").read_text()
            for run_id in (first["id"], third["id"])
        }
        assert len(set(passwords.values())) == 1 and len(passwords[first["id"]]) == 24
        lab_id = sites.find_site("lab").id
        stored = ctx.paths.site_inventory(lab_id) / "credentials" / "db"
        assert stored.read_text().split()[0] == passwords[first["id"]]
        other_password = (other_root / f"password-run-{second['id']}.txt").read_text()
        assert other_password != passwords[first["id"]]  # each site its own
        assert_as_signed(imported)
    finally:
        kill_everything_under(other_root)


def test_view_copies_small_files_links_large_ones_and_sees_writes_into_links(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "files").mkdir(parents=True)
    (bundle / "small.yml").write_text("- hosts: all\n")
    (bundle / "files" / "big.bin").write_bytes(b"x" * 100)
    hashes = {
        rel: hashlib.sha256((bundle / rel).read_bytes()).hexdigest()
        for rel in ("small.yml", "files/big.bin")
    }
    for path in (bundle / "small.yml", bundle / "files" / "big.bin"):
        path.chmod(0o444)
    run_dir = tmp_path / "run"
    view = project.make_view(bundle, run_dir, small_file=50)
    assert (view / "small.yml").stat().st_ino != (bundle / "small.yml").stat().st_ino
    assert (view / "small.yml").stat().st_mode & 0o200  # a private copy the run may change
    assert (view / "files/big.bin").stat().st_ino == (bundle / "files/big.bin").stat().st_ino
    (view / "new.txt").write_text("only in the view")
    (view / "small.yml").write_text("changed in the view")
    assert not (bundle / "new.txt").exists()
    assert project.changed_links(bundle, run_dir, hashes) == []
    assert project.make_view(bundle, run_dir, small_file=50) == view  # once per run

    # a write into a linked file (same inode) reaches the import: it is found after the run
    (bundle / "files/big.bin").chmod(0o644)
    with open(view / "files/big.bin", "ab") as f:
        f.write(b"y")
    assert project.changed_links(bundle, run_dir, hashes) == ["files/big.bin"]
    project.remove_view(run_dir)
    assert not view.exists() and (bundle / "files/big.bin").exists()


def test_bundle_verify_checks_an_imported_bundle(
    ctx: Context, scribble_bundle: Path, data_dir: Path
) -> None:
    bundle_jobs.import_file(ctx, scribble_bundle)
    checked = bundle_jobs.verify_imported(ctx, "scribble", "1.0.0")
    assert (checked["name"], checked["version"]) == ("scribble", "1.0.0")
    cli = run_cli(data_dir, "bundle", "verify", "scribble@1.0.0")
    assert cli.returncode == 0 and "OK scribble 1.0.0" in cli.stdout, cli.stderr

    folder = ctx.paths.bundles / "scribble" / "1.0.0"
    folder.joinpath("playbooks").chmod(0o755)
    (folder / "playbooks" / "written.txt").write_text("left by a run")
    site = folder / "playbooks" / "site.yml"
    site.chmod(0o644)
    site.write_text(site.read_text() + "# changed\n")
    with pytest.raises(BundleError) as refused:
        bundle_jobs.verify_imported(ctx, "scribble", "1.0.0")
    assert "playbooks/site.yml changed; playbooks/written.txt was added" in str(refused.value)
    cli = run_cli(data_dir, "bundle", "verify", "scribble@1.0.0")
    assert cli.returncode != 0 and "playbooks/site.yml changed" in cli.stderr, cli.stderr
