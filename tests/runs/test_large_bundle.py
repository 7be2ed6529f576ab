"""A bundle the size real collections make (community.general alone carries about 4,000 files;
a product vendors several): 8,000 files, a manifest over 1 MiB, built, imported and run."""

from __future__ import annotations

import shutil
import stat
import time
from pathlib import Path

import pytest

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.runs.manager import RunManager
from tests.runs.conftest import DEMO_KEY, LocalSite

FILES = 8000
MODULE = """\
from ansible.module_utils.basic import AnsibleModule

AnsibleModule(argument_spec={}).exit_json(changed=False, msg="module %d")
"""


@pytest.mark.slow
def test_eight_thousand_files_build_import_and_run(
    ctx: Context, manager: RunManager, local_site: LocalSite, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    modules = src / "collections/ansible_collections/acme/big/plugins/modules"
    modules.mkdir(parents=True)
    (src / "collections/ansible_collections/acme/big/galaxy.yml").write_text(
        "namespace: acme\nname: big\nversion: 1.0.0\n"
    )
    for i in range(FILES):
        (modules / f"generated_module_number_{i:05d}.py").write_text(MODULE % i)
    (src / "playbooks").mkdir()
    (src / "playbooks/site.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - acme.big.generated_module_number_07999: {}\n"
    )
    (src / "bundle.yml").write_text(
        'format: 1\nname: big\nversion: "1.0.0"\n'
        "components:\n  - {name: big, version: '1', playbook: playbooks/site.yml}\n"
    )
    key = tmp_path / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)

    started = time.monotonic()
    archive = build_bundle(src, key, tmp_path)
    built = time.monotonic()
    bundle_jobs.import_file(ctx, archive)
    imported = time.monotonic()
    manifest = ctx.paths.bundles / "big" / "1.0.0" / "bundle.yml"
    assert manifest.stat().st_size > 1024 * 1024  # over the old manifest limit

    run = manager.wait(manager.start_run("lab", "big", "1.0.0")["id"], timeout=600)
    ran = time.monotonic()
    log = ctx.paths.run_log(run["id"]).read_text()
    assert run["state"] == "succeeded", (run["error"], log[-2000:])
    assert run["hosts"]["local"]["ok"] == 1  # the generated module ran
    print(
        f"\n{FILES} files: build {built - started:.1f}s, import {imported - built:.1f}s, "
        f"run (view + playbook) {ran - imported:.1f}s"
    )
