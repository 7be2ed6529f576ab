"""Vendor content through the one binary on a laptop without Python: `bundle build` (with
Ansible's syntax check through the binary's playbook face) of a project carrying the public
collections ansible.posix and community.general and a role, import, and a run on localhost."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from tests.frozen.test_binary import binary, env, laptop, ok, run  # noqa: F401 (fixtures)
from tests.runs.conftest import DEMO_KEY
from tests.runs.test_vendor_content import PUBLIC_KEY, vendor_project
from tests.support.local import free_port, kill_everything_under

pytestmark = pytest.mark.slow


def test_public_collections_build_and_run_from_the_binary(
    env: dict[str, str],  # noqa: F811
    laptop: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    src = vendor_project(tmp_path / "src")
    key = tmp_path / "vendor.key"
    shutil.copyfile(DEMO_KEY, key)  # its public half ships inside the binary
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    out = tmp_path / "out"
    out.mkdir()

    # a playbook naming a role the project lacks is refused by the binary's syntax check
    broken = tmp_path / "broken"
    shutil.copytree(src, broken)
    (broken / "playbooks/site.yml").write_text("- hosts: all\n  roles: [missing_role]\n")
    refused = run(env, "bundle", "build", str(broken), "--key", str(key), "-o", str(out))
    assert refused.returncode != 0 and "missing_role" in refused.stderr, refused.stderr
    assert list(out.iterdir()) == []

    built = ok(run(env, "bundle", "build", str(src), "--key", str(key), "-o", str(out)))
    ok(run(env, "bundle", "import", built.strip()))
    root = laptop / "vendor-root"
    try:
        ok(
            run(
                env,
                "site",
                "add",
                "vendorlab",
                "--host",
                "local=localhost",
                "--var",
                f"install_root={root}",
                "--var",
                f"app_port={free_port()}",
            )
        )
        root.mkdir(parents=True, exist_ok=True)
        result = ok(run(env, "run", "vendorlab", "vendor-content@1.0.0", timeout=400))
        assert "failed=0" in result
        assert (root / "authorized_keys").read_text().strip() == PUBLIC_KEY
        assert "[app]" in (root / "app.ini").read_text()
    finally:
        kill_everything_under(root)
