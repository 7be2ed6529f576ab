"""The run screen while a slow step runs, against a server started for this test alone: each
host's current task in the host x step grid, the raw log downloaded, and the server going
away under the page ("connection lost", not "running"), then coming back with a new login
(the page offers to reconnect and says where the new login link is)."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.local import free_port, poll
from tests.support.processes import REPO, ServerProcess, run_cli
from tests.ui.conftest import logged_in, shot

pytestmark = pytest.mark.slow

SLOW = REPO / "tests" / "fixtures" / "bundles" / "slow-platform" / "1.0.0"
DEMO_KEY = REPO / "bundles" / "DEMO-ONLY-signing.key"
SLEEP_SECONDS = 25  # long enough to look at the running step; the orphaned sleep ends itself


@pytest.fixture(scope="module")
def slow_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("slow")
    key = folder / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    out = folder / "slow-platform-1.0.0.bundle"
    done = run_cli(folder / "data", "bundle", "build", str(SLOW), "--key", str(key), "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def own_server(data_dir: Path) -> Iterator[list[ServerProcess]]:
    """This test's servers (the second one takes the first one's port); all stopped at the end."""
    servers = [ServerProcess(data_dir, "--port", str(free_port()))]
    yield servers
    for server in servers:
        if server.proc.poll() is None:
            server.terminate()


@pytest.fixture
def run_page(browser, own_server: list[ServerProcess]) -> Iterator[object]:
    """Logged in to the first server (English); console errors fail the test."""
    yield from logged_in(browser, own_server[0], {"width": 1366, "height": 900})


def test_current_task_raw_log_and_connection_lost(
    run_page, own_server: list[ServerProcess], slow_bundle: Path, tmp_path: Path, data_dir: Path
) -> None:
    page = run_page
    first = own_server[0]
    api = first.api
    reply = api.post(
        "/api/bundles",
        raw=slow_bundle.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert reply.status in (200, 201), reply.json()
    site = {
        "name": "slow",
        "vars": {"slow_seconds": SLEEP_SECONDS},
        "hosts": [
            {"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}
        ],
    }
    assert api.post("/api/sites", site).status == 201
    run = api.post(
        "/api/runs",
        {"site": "slow", "bundle": "slow-platform", "version": "1.0.0", "action": "install"},
    ).json()
    page.goto(f"{first.url}#/runs/{run['id']}")

    # the sleeper step runs: its cell names the task the host is on
    cell = page.locator('#host-grid tr[data-host="local"] td.cell-running .current-task')
    expect(cell).to_contain_text(f"Sleep {SLEEP_SECONDS} seconds", timeout=120_000)
    shot(page, "ui-run-current-task")

    # the raw log: a download with a file name, colour codes removed (raw=1 keeps them)
    with page.expect_download() as info:
        page.click("#raw-log-link")
    download = info.value
    assert download.suggested_filename == f"run-{run['id']}-output.log"
    saved = tmp_path / "output.log"
    download.save_as(saved)
    text = saved.read_text()
    assert f"run {run['id']}:" in text and "Sleep" in text and "\x1b" not in text
    raw = api.get(f"/api/runs/{run['id']}/output.log?raw=1")
    assert raw.status == 200 and 'filename="run-' in raw.headers["content-disposition"]
    assert len(raw.body) >= len(text.encode())

    # the server goes away: the run is not "running" any more as far as the page can tell
    port = first.info["port"]
    first.kill()
    expect(page.locator(".run-head h2 .state-lost")).to_have_text("connection lost")
    expect(page.locator("#connection-banner")).to_have_attribute("data-state", "lost")
    expect(page.locator("#log-status")).to_contain_text("connection lost")
    assert page.locator(".run-head h2 .state-running").count() == 0
    shot(page, "ui-run-connection-lost")

    # a new server on the same port, with a new login: the page says so and how to get back
    second = ServerProcess(data_dir, "--port", str(port))
    own_server.append(second)
    banner = page.locator("#connection-banner")
    expect(banner).to_have_attribute("data-state", "restarted", timeout=30_000)
    expect(banner).to_contain_text("Appliance serving at")  # a browser tab: where the link is
    expect(page.locator("#reconnect")).to_be_visible()
    shot(page, "ui-run-server-restarted")

    # with the new login the run shows what became of it: the new server found it orphaned
    page.goto(f"{second.url}?token={second.info['token']}")
    page.wait_for_selector("#app-header nav")
    page.goto(f"{second.url}#/runs/{run['id']}")
    expect(page.locator(".run-head h2 .state-interrupted")).to_be_visible(timeout=30_000)
    expect(page.locator("#connection-banner[data-state=lost]")).to_have_count(0)
    hint = page.locator("#run-error .error-hint")
    expect(hint).to_contain_text("Resume from the failed step")  # the window names its button
    assert "appliance log" not in hint.inner_text()  # the CLI's wording stays in the CLI
    state = poll(lambda: second.api.get(f"/api/runs/{run['id']}").json()["state"], 10, "state")
    assert state == "interrupted"
