"""Backups on the SSH test hosts: install 1.0.0, a backup run, the upgrade to 1.1.0 (its own
backup), then rollback to the first backup (not the latest) brings 1.0.0 back on every host;
the list names each host's backup in its install_root with a size; deleting the upgrade's
backup removes it on every host (through sudo, as the site's inventory asks)."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.runs.backup_remove import delete_backup
from appliance.jobs.runs.backups import list_backups
from appliance.jobs.runs.manager import RunManager
from appliance.store import sites
from tests.remote.conftest import clean_roots, lab_site
from tests.remote.test_remote_runs import health
from tests.support.sshhosts import SshLab

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEMO_KEY = REPO / "bundles" / "DEMO-ONLY-signing.key"


@pytest.fixture
def manager(remote_ctx: Context) -> Iterator[RunManager]:
    runs = RunManager(remote_ctx).start()
    remote_ctx.services["runs"] = runs
    yield runs


def run_ok(ctx: Context, manager: RunManager, *args, **kw) -> dict:
    run = manager.wait(manager.start_run("bk", "demo-platform", *args, **kw)["id"], 900)
    assert run["state"] == "succeeded", ctx.paths.run_log(run["id"]).read_text()[-3000:]
    return run


def test_rollback_to_a_chosen_backup_and_delete_one(
    remote_ctx: Context, lab: SshLab, manager: RunManager, tmp_path: Path
) -> None:
    ctx = remote_ctx
    key = tmp_path / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    for version in ("1.0.0", "1.1.0"):
        archive = build_bundle(REPO / "bundles" / "demo-platform" / version, key, tmp_path)
        bundle_jobs.import_file(ctx, archive)
    clean_roots(lab)
    lab_site(ctx, lab, "bk")
    names = sorted(h.name for h in lab.hosts)

    run_ok(ctx, manager, "1.0.0", "install")
    first = run_ok(ctx, manager, "1.0.0", "backup")
    upgrade = run_ok(ctx, manager, "1.1.0")
    assert all(health(h)["version"] == "1.1.0" for h in lab.hosts)

    listed = list_backups("bk")
    assert [b["run"] for b in listed] == [upgrade["id"], first["id"]]
    for backup in listed:
        assert [h["host"] for h in backup["hosts"]] == names
        for host in lab.hosts:
            (info,) = [x for x in backup["hosts"] if x["host"] == host.name]
            assert info["path"] == str(host.root / "backups" / f"run-{backup['run']}")
            assert info["size_bytes"] > 0 and set(info["components"]) == {"db", "config", "app"}
            assert Path(info["path"], "app_version").read_text().strip() == "1.0.0"

    back = run_ok(ctx, manager, "1.1.0", "rollback", backup=first["id"])
    assert back["backup_run"] == first["id"]
    assert all(health(h)["version"] == "1.0.0" for h in lab.hosts)
    installed = sites.get_site("bk")["installed"]
    assert {c: v["version"] for c, v in installed.items()} == {
        "db": "1",
        "config": "1.0.0",
        "app": "1.0.0",
    }

    done = delete_backup(ctx, "bk", upgrade["id"])
    assert [r["host"] for r in done["removed"]] == names and done["not_reported"] == []
    for host in lab.hosts:
        assert not (host.root / "backups" / f"run-{upgrade['id']}").exists()
        assert (host.root / "backups" / f"run-{first['id']}" / "app_version").is_file()
    assert [b["run"] for b in list_backups("bk")] == [first["id"]]
