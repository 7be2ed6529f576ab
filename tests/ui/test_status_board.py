"""The status board in Chromium against a real `appliance serve`: the Sites list shows each
site's overall state; the board shows component x host with state, version and detail; the app
killed and refreshed shows stopped and degraded; a restart (after its confirmation) runs and the
site is healthy again; a failed operation raises the attention banner linking the run, and
acknowledging it with a reason clears it; on a component of two hosts, the host picked beside
the buttons is the only one an operation touches."""

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
from tests.ui.laptop import assert_fits
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


def import_demo(serve: ServerProcess, tmp_path: Path) -> Api:
    """demo-platform 1.1.0 built and imported into the server; its API."""
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
    return api


def test_status_board(page, serve: ServerProcess, tmp_path: Path) -> None:
    api = import_demo(serve, tmp_path)
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


def app_pid(root: Path) -> int:
    return int((root / "run" / "app.pid").read_text())


def test_an_operation_on_the_one_host_picked(page, serve: ServerProcess, tmp_path: Path) -> None:
    """A component on two hosts (two local ones, each with its own root and port): the host
    picked beside the buttons is the only one the restart touches."""
    api = import_demo(serve, tmp_path)
    roots = {"east": tmp_path / "east", "west": tmp_path / "west"}
    ports = [free_port(), free_port()]
    while ports[1] == ports[0]:
        ports[1] = free_port()
    hosts = [
        {
            "name": name,
            "address": "localhost",
            "vars": {"ansible_connection": "local", "install_root": str(root), "app_port": port},
        }
        for (name, root), port in zip(roots.items(), ports, strict=True)
    ]
    site_id = api.post("/api/sites", {"name": "pair", "vars": {}, "hosts": hosts}).json()["id"]
    try:
        body = {"site": "pair", "bundle": "demo-platform", "version": "1.1.0"}
        assert run_to_end(api, "/api/runs", body)["state"] == "succeeded"

        def healthy() -> bool:
            return api.get("/api/sites/pair/status").json()["overall"] == "healthy"

        poll(healthy, 180, "the status refreshed after the install", every=0.5)
        east = app_pid(roots["east"])
        os.kill(app_pid(roots["west"]), signal.SIGKILL)

        page.goto(page.url.split("#")[0] + f"#/sites/{site_id}/status")
        page.click("#refresh-status")
        west_row = page.locator('#status-board tr[data-component="app"][data-host="west"]')
        expect(west_row.locator("[data-health=stopped]")).to_be_visible(timeout=TIMEOUT_MS)
        picker = page.locator('#status-board select.op-hosts[data-component="app"]')
        expect(picker.locator("option")).to_have_count(3)  # all hosts, east, west
        shot(page, "status-board-two-hosts")
        assert_fits(page, "the board of a component on two hosts")  # a laptop's width
        picker.select_option("west")
        asked: list[str] = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
        page.click('#status-board button[data-op="restart"][data-component="app"]')
        page.wait_for_url("**/#/runs/*")
        page.wait_for_selector(".run-head h2 .state-succeeded", timeout=TIMEOUT_MS)
        run = api.get(f"/api/runs/{page.url.rsplit('/', 1)[1]}").json()
        assert run["action"] == "operate" and run["plan"][0]["limit"] == ["west"], run["plan"]
        assert "west" in asked[0] and "east" not in asked[0], asked
        poll(healthy, 180, "the status refreshed after the restart", every=0.5)
        assert app_pid(roots["east"]) == east  # east was not restarted
    finally:
        for root in roots.values():
            kill_app(root)
