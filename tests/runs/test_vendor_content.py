"""Bundles laid out as vendors ship them: playbooks in playbooks/, roles in roles/, public
collections (ansible.posix, community.general from the ``ansible`` package on PyPI) in
collections/. Built, signed, imported and run on a local site."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from appliance.ansible_env import content_environment
from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.runs.manager import RunManager
from appliance.store.events import list_events
from tests.runs.conftest import DEMO_KEY, LocalSite
from tests.support.public_content import vendor_collection

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0Y0t4vB2bL9mJw7Hh3t0WkVqW3jvXn3S0cQ8mQ3b7Q vendor"
)

MANIFEST = """\
format: 1
name: vendor-content
version: "1.0.0"
components:
  - {name: keys, version: "1", playbook: playbooks/site.yml}
"""

SITE_PLAYBOOK = """\
- name: Vendor content
  hosts: all
  gather_facts: false
  roles:
    - settings
  tasks:
    - name: Authorize the vendor key (ansible.posix)
      ansible.posix.authorized_key:
        user: "{{ lookup('pipe', 'id -un') }}"
        key: "PUBLIC_KEY"
        path: "{{ install_root }}/authorized_keys"
        manage_dir: false
""".replace("PUBLIC_KEY", PUBLIC_KEY)

ROLE_TASKS = """\
- name: Write the settings (community.general)
  community.general.ini_file:
    path: "{{ install_root }}/app.ini"
    section: app
    option: port
    value: "{{ app_port }}"
    create: true
    mode: "0644"
"""


def vendor_project(root: Path) -> Path:
    files = {
        "bundle.yml": MANIFEST,
        "playbooks/site.yml": SITE_PLAYBOOK,
        "roles/settings/tasks/main.yml": ROLE_TASKS,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    vendor_collection(root, "ansible", "posix")
    vendor_collection(root, "community", "general")
    return root


@pytest.fixture(scope="session")
def vendor_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vendor")
    key = folder / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return build_bundle(vendor_project(folder / "src"), key, folder)


def test_content_environment_reads_only_the_bundle(tmp_path: Path) -> None:
    project = tmp_path / "bundle"
    project.mkdir()
    empty = tmp_path / "ansible" / "empty.cfg"
    env = content_environment(project, empty)
    assert env["ANSIBLE_CONFIG"] == str(empty) and empty.read_text() == ""
    assert env["ANSIBLE_ROLES_PATH"] == str(project / "roles")
    assert env["ANSIBLE_COLLECTIONS_PATH"] == str(project / "collections")
    assert env["ANSIBLE_COLLECTIONS_SCAN_SYS_PATH"] == "False"
    # the vendor's own ansible.cfg is used, and its paths kept after the appliance's
    (project / "ansible.cfg").write_text(
        "[defaults]\nroles_path = vendor/roles:/opt/shared/roles\n"
        "collections_path = vendor/collections\nforks = 3\n"
    )
    env = content_environment(project, empty)
    assert env["ANSIBLE_CONFIG"] == str(project / "ansible.cfg")
    assert env["ANSIBLE_ROLES_PATH"].split(":") == [
        str(project / "roles"),
        str(project / "vendor/roles"),
        "/opt/shared/roles",
    ]
    assert env["ANSIBLE_COLLECTIONS_PATH"].split(":") == [
        str(project / "collections"),
        str(project / "vendor/collections"),
    ]


@pytest.mark.slow
def test_public_collections_and_roles_from_the_bundle_run(
    ctx: Context, manager: RunManager, local_site: LocalSite, vendor_bundle: Path
) -> None:
    bundle_jobs.import_file(ctx, vendor_bundle)
    imported = Path(ctx.paths.bundles, "vendor-content", "1.0.0")
    assert (imported / "collections/ansible_collections/community/general/MANIFEST.json").is_file()
    assert len(files_under(imported)) > 800  # a real collection: hundreds of files

    run = manager.start_run("lab", "vendor-content", "1.0.0")
    run = manager.wait(run["id"], timeout=300)
    log = ctx.paths.run_log(run["id"]).read_text()
    assert run["state"] == "succeeded", (run["error"], log[-3000:])

    # the collections' modules really ran (on the files they were pointed at)
    assert (local_site.root / "authorized_keys").read_text().strip() == PUBLIC_KEY
    ini = (local_site.root / "app.ini").read_text()
    assert "[app]" in ini and f"port = {local_site.port}" in ini
    changed = {
        e["task"]
        for e in list_events(run["id"], limit=100_000)
        if e["event"] == "runner_on_ok" and e["changed"]
    }
    assert changed == {
        "Authorize the vendor key (ansible.posix)",
        "Write the settings (community.general)",
    }


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]
