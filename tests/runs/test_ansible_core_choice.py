"""The bundle's ``requires_ansible`` chooses the carried ansible-core a run imports, on a site
on this machine (no probe): ``"<2.17"`` runs every step through ansible-core 2.16 (its own
ansible-playbook child, the tree from scripts/setup.sh first on its PYTHONPATH; the modules run
by the appliance's python face), ``">=2.20"`` fits none carried and is refused before anything
is recorded. Real: the run manager, ansible-runner, both cores, the old-targets test bundle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.errors import Unprocessable
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.runs.manager import RunManager
from appliance.states import RunState
from appliance.store import runs, sites
from tests.runs.conftest import DEMO_KEY, REPO, site_spec

pytestmark = pytest.mark.slow

FIXTURE = REPO / "tests" / "fixtures" / "bundles" / "old-targets" / "1.0.0"


def bundle_requiring(tmp_path: Path, spec: str, version: str) -> Path:
    """The old-targets bundle as ``version``, with ``requires_ansible: spec``."""
    src = tmp_path / f"src-{version}"
    shutil.copytree(FIXTURE, src)
    text = (src / "bundle.yml").read_text()
    text = text.replace('requires_ansible: ">=2.16"', f'requires_ansible: "{spec}"')
    (src / "bundle.yml").write_text(text.replace("version: 1.0.0", f"version: {version}"))
    key = tmp_path / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(0o600)
    return build_bundle(src, key, tmp_path)


def test_requires_ansible_chooses_the_core_of_a_run(
    ctx: Context, manager: RunManager, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    site = sites.create_site(ctx.store, sites.parse_site(site_spec("lab", root, 0)))
    bundle_jobs.import_file(ctx, bundle_requiring(tmp_path, "<2.17", "1.0.1"))
    bundle_jobs.import_file(ctx, bundle_requiring(tmp_path, ">=2.20", "1.0.2"))

    with pytest.raises(Unprocessable, match=r"needs ansible-core >=2\.20") as refused:
        manager.start_run("lab", "old-targets", "1.0.2", "install")
    assert "2.19." in str(refused.value) and "2.16." in str(refused.value)  # what is carried
    assert runs.list_runs(site=site["id"]) == []

    run = manager.start_run("lab", "old-targets", "1.0.1", "install")
    done = manager.wait(run["id"], timeout=300)
    log = ctx.paths.run_log(run["id"]).read_text()
    assert done["state"] == RunState.SUCCEEDED, log[-3000:]
    assert "appliance: ansible-core 2.16.19 manages Python" in log
    assert (ctx.paths.run_dir(run["id"]) / "ansible-core").read_text() == "2.16.19\n"
    assert (root / "base" / "ansible-seen").read_text() == "2.16.19\n"  # ansible_version
