"""The status board in Chromium against a real `appliance serve`: the Sites list shows each
site's overall state; the board shows component x host with state, version and detail; the app
killed and refreshed shows stopped and degraded; a restart (after its confirmation) runs and the
site is healthy again; a failed operation raises the attention banner linking the run, and
acknowledging it with a reason clears it."""

from __future__ import annotations

import os
import shutil
import signal
import stat
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.client import Api
from tests.support.local import free_port, poll
from tests.support.processes import REPO, ServerProcess, run_cli
from tests.ui.conftest import shot
from tests.ui.test_flows import kill_app

pytestmark = pytest.mark.slow

DEMO_KEY = REPO / "bundles" / "DEMO-ONLY-signing.key"
TIMEOUT_MS = 240_000


def run_to_end(api: Api, path: str, body: dict) -> dict:
    reply = api.post(path, body)
    assert reply.status == 201, reply.json()
    run_id = reply.json()["id"]
    return poll(
        lambda: (
            (run := api.get(f"/api/runs/{run_id}").json())["state"] not in ("queued", "running")
            and run
        ),
        300,
        f"run {run_id}",
        every=0.5,
    )


def test_status_board(page, serve: ServerProcess, tmp_path: Path) -> None:
    key = tmp_path / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    archive = tmp_path / "demo-1.1.0.bundle"
    src = REPO / "bundles" / "demo-platform" / "1.1.0"
    done = run_cli(
        tmp_path / "cli", "bundle", "build", str(src), "--key", str(key), "-o", str(archive)
    )
    assert done.returncode == 0, done.stderr
    api = Api(serve.url, serve.info["token"])
    assert api.request("POST", "/api/bundles", raw=archive.read_bytes()).status in (200, 201)
    root = tmp_path / "root"
    site = {
        "name": "board",
        "vars": {"install_root": str(root), "app_port": free_port()},
        "hosts": [
            {"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}
        ],
    }
    site_id = api.post("/api/sites", site).json()["id"]
    try:
        _board(page, api, site_id, root)
    finally:
        kill_app(root)


def _board(page, api: Api, site_id: int, root: Path) -> None:
    body = {"site": "board", "bundle": "demo-platform", "version": "1.1.0"}
    assert run_to_end(api, "/api/runs", body)["state"] == "succeeded"
    poll(
        lambda: api.get("/api/sites/board/status").json()["overall"] == "healthy",
        180,
        "the status refreshed after the install",
        every=0.5,
    )

    # the Sites list: the overall badge links to the board
    page.goto(page.url.split("#")[0] + "#/sites")
    cell = page.locator('#sites-table tr[data-site="board"] .site-health')
    expect(cell.locator("[data-health=healthy]")).to_be_visible()
    cell.locator("a").click()
    expect(page.locator("#overall [data-health=healthy]")).to_be_visible()
    app_row = page.locator('#status-board tr[data-component="app"][data-host="local"]')
    expect(app_row.locator(".host-state [data-health=running]")).to_be_visible()
    expect(app_row).to_contain_text("1.1.0")
    db_row = page.locator('#status-board tr[data-component="db"]')
    expect(db_row).to_contain_text("schema 2")
    shot(page, "status-board-healthy")

    # the app killed: refresh shows it stopped, the site degraded
    os.kill(int((root / "run" / "app.pid").read_text()), signal.SIGKILL)
    page.click("#refresh-status")
    expect(page.locator("#overall [data-health=degraded]")).to_be_visible(timeout=TIMEOUT_MS)
    expect(app_row.locator(".host-state [data-health=stopped]")).to_be_visible()
    page.click("#show-status-log")
    expect(page.locator("#status-log")).to_contain_text("status of app")

    # restart after the confirmation: a run; the site healthy again
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('#status-board button[data-op="restart"][data-component="app"]')
    page.wait_for_url("**/#/runs/*")
    page.wait_for_selector(".run-head h2 .state-succeeded", timeout=TIMEOUT_MS)
    poll(
        lambda: api.get("/api/sites/board/status").json()["overall"] == "healthy",
        180,
        "the status refreshed after the restart",
        every=0.5,
    )
    page.goto(page.url.split("#")[0] + f"#/sites/{site_id}/status")
    expect(page.locator("#overall [data-health=healthy]")).to_be_visible()
    expect(page.locator("#attention")).to_have_count(0)

    # a failed operation (the installed app's link removed): the banner links the run
    (root / "app" / "current").unlink()
    failed = run_to_end(
        api, "/api/sites/board/operations", {"component": "app", "operation": "start"}
    )
    assert failed["state"] == "failed"
    page.click("#refresh-status")
    banner = page.locator("#attention")
    expect(banner).to_be_visible(timeout=TIMEOUT_MS)
    expect(banner.locator("#attention-run")).to_have_attribute("href", f"#/runs/{failed['id']}")
    shot(page, "status-board-attention")
    banner.locator('[name="ack-reason"]').fill("link restored by hand")
    banner.locator("#ack-attention").click()
    expect(page.locator("#attention")).to_have_count(0)
    acks = api.get("/api/sites/board/attention").json()["acknowledged"]
    assert acks[0]["reason"] == "link restored by hand"
