"""The UI end to end in Chromium against a real `appliance serve`: sites, bundle import, a real
install watched live (with a reload mid-run), a failed run's error and hint, a cancelled run,
and the run report opened with every outside request refused."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.local import free_port
from tests.support.processes import REPO, ServerProcess, run_cli
from tests.ui.conftest import shot

pytestmark = pytest.mark.slow

DEMO_KEY = REPO / "bundles" / "DEMO-ONLY-signing.key"
FIXTURES = REPO / "tests" / "fixtures" / "bundles"
RUN_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo bundle and the test fixtures, built with the CLI and the demo key."""
    folder = tmp_path_factory.mktemp("bundles")
    key = folder / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    sources = {
        "demo-1.0.0": REPO / "bundles" / "demo-platform" / "1.0.0",
        "broken-1.2.0": FIXTURES / "broken-platform" / "1.2.0",
        "slow-1.0.0": FIXTURES / "slow-platform" / "1.0.0",
    }
    built = {}
    carried = REPO / "build" / "bundles" / "demo-platform-1.0.0.bundle"
    if carried.exists():  # the server imports it at start: use that very file
        built["demo-1.0.0"] = carried
        del sources["demo-1.0.0"]
    for name, src in sources.items():
        out = folder / f"{name}.bundle"
        done = run_cli(
            folder / "data", "bundle", "build", str(src), "--key", str(key), "-o", str(out)
        )
        assert done.returncode == 0, done.stderr
        built[name] = out
    return built


def kill_app(root: Path) -> None:
    """Stop the demo app daemon the install left running (its pid file)."""
    try:
        pid = int((root / "run" / "app.pid").read_text())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture
def install_root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "root"
    yield root
    kill_app(root)


def create_site_in_ui(page, name: str, root: Path, port: int) -> None:
    page.click("nav a[data-nav=sites]")
    page.click("#new-site")
    page.fill("#site-name", name)
    page.fill("#site-vars", f"install_root = {root}\napp_port = {port}")
    page.fill('[name="host-name"]', "local")
    page.fill('[name="host-address"]', "localhost")
    page.fill('[name="host-vars"]', "ansible_connection = local")
    page.click("#save-site")
    page.wait_for_selector(".notice-ok")


def import_in_ui(page, bundle: Path) -> str:
    page.click("nav a[data-nav=bundles]")
    page.wait_for_selector("#dropzone")
    page.set_input_files("#bundle-file", str(bundle))
    result = page.wait_for_selector(".import-result, #import-result .error-box")
    return result.inner_text()


def start_run_in_ui(page, site: str, bundle: str, action: str) -> int:
    page.goto(page.url.split("#")[0] + f"#/runs/new?site={site}")
    page.wait_for_selector("#preview-plan")
    page.select_option("#run-site", site)
    page.select_option("#run-bundle", bundle)
    page.select_option("#run-action", action)
    page.click("#preview-plan")
    page.wait_for_selector("#plan-table")
    page.click("#start-run")
    page.wait_for_url(re.compile(r"#/runs/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def run_state(page) -> str:
    badge = page.locator(".run-head h2 .badge")
    cls = badge.get_attribute("class") or ""
    match = re.search(r"state-(\w+)", cls)
    return match.group(1) if match else ""


def wait_state(page, states: set[str], timeout_ms: int = RUN_TIMEOUT_MS) -> str:
    classes = ", ".join(f".run-head h2 .state-{s}" for s in states)
    page.wait_for_selector(classes, timeout=timeout_ms)
    return run_state(page)


def log_lines(page) -> int:
    text = page.inner_text("#log-status")
    return int(text.split(" ")[0].replace(",", ""))


def test_install_live_log_reload_failed_run_and_report(
    page,
    serve: ServerProcess,
    bundles: dict[str, Path],
    install_root: Path,
    tmp_path: Path,
    browser,
) -> None:
    create_site_in_ui(page, "lab", install_root, free_port())
    shot(page, "ui-site-created")
    text = import_in_ui(page, bundles["demo-1.0.0"])
    assert "demo-platform 1.0.0" in text and "Signature valid" in text, text
    assert "Imported:" in text or "Already imported" in text
    shot(page, "ui-bundle-imported")

    run_id = start_run_in_ui(page, "lab", "demo-platform@1.0.0", "install")
    # the log streams in while the run is still running
    page.wait_for_function(
        "() => document.querySelectorAll('.log-row[data-line]').length > 3"
        " && document.querySelector('.run-head .state-running')",
        timeout=120_000,
    )
    # the status is written by a timer after the rows: wait for it (retrying expect)
    expect(page.locator("#log-status")).to_contain_text("live")
    shot(page, "ui-run-live")

    # reload mid-run: the whole log comes back from byte 0, then continues live
    before = log_lines(page)
    page.reload()
    page.wait_for_selector(".log-row[data-line]")
    page.wait_for_function(
        f"() => parseInt((document.querySelector('#log-status')?.textContent || '0')"
        f".replace(/,/g, '')) >= {before}"
    )
    state = wait_state(page, {"succeeded", "failed"})
    assert state == "succeeded", page.inner_text("#run-error")
    page.wait_for_function(
        "() => (document.querySelector('#log-status')?.textContent || '').includes('complete')"
    )
    page.evaluate(
        "() => { const v = document.querySelector('.logview');"
        " v.scrollTop = 0; v.dispatchEvent(new Event('scroll')); }"
    )
    first = page.wait_for_selector('.log-row[data-line="1"]')
    assert f"run {run_id}:" in first.inner_text()
    assert page.locator('#host-grid tr[data-host="local"] td.cell-failed').count() == 0
    # the grid is drawn by a timer after the events arrive: retrying assertions
    expect(page.locator('#host-grid tr[data-host="local"] td.cell-changed')).not_to_have_count(0)
    expect(page.locator("#steps-table tr.step-succeeded")).to_have_count(5)
    shot(page, "ui-run-succeeded")

    # the report: downloaded from the run screen, opened with every outside request refused
    with page.expect_download() as info:
        page.click("#report-link")
    report = tmp_path / "report.html"
    info.value.save_as(report)
    context = browser.new_context()
    outside: list[str] = []

    def guard(route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "about:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", guard)
    viewer = context.new_page()
    viewer.goto(report.as_uri())
    hosts = viewer.locator("table.hosts")
    assert "local" in hosts.inner_text()
    assert "ok" in hosts.inner_text() and "changed" in hosts.inner_text()
    assert "SUCCEEDED" in viewer.inner_text("body")
    shot(viewer, "ui-report")
    context.close()
    assert not outside, outside

    # a failed run (the broken 1.2.0 app refuses to start): its error and hint are shown
    serve.api.post(
        "/api/bundles",
        raw=bundles["broken-1.2.0"].read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    start_run_in_ui(page, "lab", "demo-platform@1.2.0", "upgrade")
    assert wait_state(page, {"succeeded", "failed"}) == "failed"
    error = page.locator("#run-error .error-box")
    assert "refuses to start" in error.inner_text() or "missing" in error.inner_text()
    assert page.locator("#run-error .error-hint").inner_text().strip()
    assert page.locator("#resume-run").is_visible()
    page.wait_for_selector('#host-grid tr[data-host="local"] td.cell-failed')
    # the run's state can arrive before the last log bytes: jump once the log is complete
    expect(page.locator("#log-status")).to_contain_text("complete")
    page.click("#first-error")
    assert "first error at line" in page.inner_text("#log-status")
    # the view draws the jumped-to rows on the next animation frame: a retrying assertion
    expect(page.locator(".log-row.log-hit.log-err")).to_have_count(1)
    shot(page, "ui-run-failed")

    # recovery offers what can work: the failed upgrade backed up, so it rolls back; once the
    # rollback ran, the upgrade no longer offers to resume (the site moved on)
    failed_url = page.url
    expect(page.locator("#rollback-run")).to_be_visible()
    page.once("dialog", lambda d: d.accept())
    page.click("#rollback-run")
    page.wait_for_url(lambda url: url != failed_url)
    assert wait_state(page, {"succeeded", "failed"}) == "succeeded"
    expect(page.locator("#rollback-run")).to_have_count(0)  # a rollback rolls nothing back
    rollback_id = page.url.rsplit("/", 1)[1]
    upgrade_id = failed_url.rsplit("/", 1)[1]
    back = page.locator("#related-runs a.rollback-of")  # the rollback links what it undid...
    expect(back).to_have_attribute("href", f"#/runs/{upgrade_id}")
    page.goto(failed_url)
    page.wait_for_selector(".run-head h2 .state-failed")
    expect(page.locator("#report-link")).to_be_visible()  # the buttons are drawn
    expect(page.locator("#resume-run")).to_have_count(0)
    forth = page.locator("#related-runs a.rolled-back-by")  # ...and the undone run its rollback
    expect(forth).to_have_text(f"rolled back by #{rollback_id}")
    expect(forth).to_have_attribute("href", f"#/runs/{rollback_id}")
    # history: how each run came about; the rollback links the run whose backup it restored
    page.goto(failed_url.split("#")[0] + "#/history")
    undone = page.locator("#history-table td.trigger a.rollback-of")
    expect(undone).to_have_text(f"rollback of #{upgrade_id}")
    expect(undone).to_have_attribute("href", f"#/runs/{upgrade_id}")
    expect(page.locator(f'#history-table tr[data-run="{upgrade_id}"] td.trigger')).to_have_text(
        f"manual · rolled back by #{rollback_id}"
    )


def test_cancel_a_slow_run(
    page, serve: ServerProcess, bundles: dict[str, Path], install_root: Path
) -> None:
    text = import_in_ui(page, bundles["slow-1.0.0"])
    assert "Imported:" in text and "slow-platform 1.0.0" in text, text
    serve.api.post(
        "/api/sites",
        {
            "name": "slow",
            "vars": {"install_root": str(install_root), "slow_seconds": 600},
            "hosts": [
                {"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}
            ],
        },
    )
    start_run_in_ui(page, "slow", "slow-platform@1.0.0", "install")
    page.wait_for_selector("#steps-table tr.step-running", timeout=120_000)
    page.once("dialog", lambda d: d.accept())
    started = time.monotonic()
    page.click("#cancel-run")
    assert wait_state(page, {"cancelled", "failed", "succeeded"}, 60_000) == "cancelled"
    assert time.monotonic() - started < 60
    assert not page.locator("#cancel-run").count()
    shot(page, "ui-run-cancelled")
    assert not (install_root / "sleeper.done").exists()
