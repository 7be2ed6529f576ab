"""The backups screen in Chromium against a real `appliance serve`: "Back up now" runs the backup
stage; after an upgrade the list shows both backups (newest first, hosts, size); "Roll back to
this" on the older one (after its confirmation) starts a rollback that brings its version back;
delete (after its confirmation) removes a backup from the list and from the host."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.runs.conftest import LocalSite
from tests.support.client import Api
from tests.support.local import free_port, poll
from tests.support.processes import REPO, ServerProcess, run_cli
from tests.ui.conftest import shot
from tests.ui.test_flows import kill_app
from tests.ui.test_status_board import run_to_end

pytestmark = pytest.mark.slow

DEMO_KEY = REPO / "bundles" / "DEMO-ONLY-signing.key"
TIMEOUT_MS = 240_000


def finished(api: Api, run_id: int) -> dict:
    return poll(
        lambda: (
            (run := api.get(f"/api/runs/{run_id}").json())["state"] not in ("queued", "running")
            and run
        ),
        300,
        f"run {run_id}",
        every=0.5,
    )


def test_backups_screen(page, serve: ServerProcess, tmp_path: Path) -> None:
    key = tmp_path / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    api = Api(serve.url, serve.info["token"])
    for version in ("1.0.0", "1.1.0"):
        archive = tmp_path / f"demo-{version}.bundle"
        src = REPO / "bundles" / "demo-platform" / version
        done = run_cli(
            tmp_path / "cli", "bundle", "build", str(src), "--key", str(key), "-o", str(archive)
        )
        assert done.returncode == 0, done.stderr
        assert api.request("POST", "/api/bundles", raw=archive.read_bytes()).status in (200, 201)
    root, port = tmp_path / "root", free_port()
    site = {
        "name": "vault",
        "vars": {"install_root": str(root), "app_port": port},
        "hosts": [
            {"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}
        ],
    }
    site_id = api.post("/api/sites", site).json()["id"]
    try:
        _screen(page, api, site_id, LocalSite("vault", root, port))
    finally:
        kill_app(root)


def _screen(page, api: Api, site_id: int, app) -> None:
    body = {"site": "vault", "bundle": "demo-platform", "version": "1.0.0"}
    assert run_to_end(api, "/api/runs", body)["state"] == "succeeded"

    page.goto(page.url.split("#")[0] + "#/sites")
    page.locator(f'a[href="#/sites/{site_id}/backups"]').click()
    expect(page.locator("#backups-empty")).to_be_visible()
    page.locator("[data-backup-now=demo-platform]").click()
    page.wait_for_url("**#/runs/*")
    first = int(page.url.rsplit("/", 1)[1])
    assert finished(api, first)["state"] == "succeeded"

    body["version"] = "1.1.0"
    upgrade = run_to_end(api, "/api/runs", body)
    assert upgrade["state"] == "succeeded" and app.health()["version"] == "1.1.0"

    page.goto(page.url.split("#")[0] + f"#/sites/{site_id}/backups")
    rows = page.locator("#backups-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-backup", str(upgrade["id"]))
    older = page.locator(f'tr[data-backup="{first}"]')
    expect(older).to_contain_text("app 1.0.0")
    expect(older).to_contain_text("local")
    expect(older.locator(".backup-size")).to_contain_text("KiB")
    shot(page, "backups-list")

    # delete the upgrade's backup (confirmed): gone from the list and the host
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f'[data-delete-backup="{upgrade["id"]}"]').click()
    expect(rows).to_have_count(1, timeout=TIMEOUT_MS)
    assert [b["run"] for b in api.get("/api/sites/vault/backups").json()] == [first]

    # roll back to the older backup (confirmed): its version is back
    messages: list[str] = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    older.locator(f'[data-rollback="{first}"]').click()
    page.wait_for_url("**#/runs/*")
    back = int(page.url.rsplit("/", 1)[1])
    assert "#" + str(first) in messages[0]
    done = finished(api, back)
    assert done["state"] == "succeeded" and done["backup_run"] == first
    assert app.health()["version"] == "1.0.0"
