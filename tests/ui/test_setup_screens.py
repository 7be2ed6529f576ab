"""The setup the command line does, in the window at 1366x768: deleting sites and bundles
(refused with the reason while something refers to them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.bundle import generate_keypair
from tests.support.processes import ServerProcess
from tests.ui.conftest import shot
from tests.ui.laptop import assert_fits, build_demo, laptop  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo"))


def later() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()


def test_delete_site_and_bundle(laptop, serve: ServerProcess, demo: Path) -> None:  # noqa: F811
    page = laptop
    api = serve.api
    assert api.post("/api/bundles", raw=demo.read_bytes()).status == 201
    site = api.post("/api/sites", {"name": "plant", "hosts": []}).json()
    body = {"site": "plant", "bundle": "demo-platform", "version": "1.0.0", "action": "install"}
    schedule = api.post("/api/schedules", {**body, "at": later(), "window_minutes": 60}).json()
    page.on("dialog", lambda d: d.accept())
    base = page.url.split("#")[0]

    page.goto(f"{base}#/sites/{site['id']}")
    page.click("#delete-site")
    error = page.wait_for_selector("#delete-site-result .error-box")
    assert f"site plant has schedules ({schedule['id']})" in error.inner_text()
    assert "Delete its schedules first" in error.inner_text()
    assert_fits(page, "site with delete refused")
    shot(page, "laptop-delete-site-refused")

    page.goto(f"{base}#/bundles/demo-platform/1.0.0")
    page.click("#delete-bundle")
    error = page.wait_for_selector("#delete-bundle-result .error-box")
    assert f"schedules {schedule['id']} use it" in error.inner_text()
    assert_fits(page, "bundle with delete refused")

    assert api.delete(f"/api/schedules/{schedule['id']}").status == 200
    page.goto(f"{base}#/sites/{site['id']}")
    page.click("#delete-site")
    page.wait_for_url("**#/sites")
    page.wait_for_selector(".notice-info")  # no sites any more
    assert api.get("/api/sites/plant").status == 404

    page.goto(f"{base}#/bundles/demo-platform/1.0.0")
    page.click("#delete-bundle")
    page.wait_for_url("**#/bundles")
    page.wait_for_selector("#bundles-table, .notice-info")
    assert page.locator("[data-bundle='demo-platform@1.0.0']").count() == 0
    assert api.get("/api/bundles/demo-platform/1.0.0").status == 404


def test_vendor_keys(laptop, serve: ServerProcess, tmp_path: Path) -> None:  # noqa: F811
    from tests.test_keys import _acme_bundle

    page = laptop
    page.on("dialog", lambda d: d.accept())
    _, pub = generate_keypair(tmp_path / "acme")
    page.click("nav a[data-nav=bundles]")
    demo_row = page.wait_for_selector("#keys-table tr:has-text('demo-vendor')")
    assert "shipped with the appliance" in demo_row.inner_text()
    assert demo_row.query_selector("button") is None  # a shipped key cannot be removed

    # an unknown vendor's bundle is refused; its key trusted from the .pub file, then imported
    page.set_input_files("#bundle-file", str(_acme_bundle(tmp_path)))
    error = page.wait_for_selector("#import-result .error-box")
    assert "signature does not match any trusted key" in error.inner_text()
    assert "Trusted vendor keys" in error.inner_text()
    page.set_input_files("#key-file", str(pub))
    assert "Key acme.pub is trusted" in page.wait_for_selector("#keys-result .notice").inner_text()
    row = page.wait_for_selector("#keys-table tr:has-text('acme.pub')")
    kid = row.get_attribute("data-key")
    page.set_input_files("#bundle-file", str(_acme_bundle(tmp_path)))
    signed = page.wait_for_selector("#signed-by").inner_text()
    assert f"signed by acme.pub (key {kid}, fingerprint " in signed
    page.wait_for_selector("#keys-table tr:has-text('demo-platform 9.0.0')")
    assert_fits(page, "bundles with keys")
    shot(page, "laptop-keys")

    page.click(f"[data-remove='{kid}']")
    error = page.wait_for_selector("#keys-result .error-box").inner_text()
    assert f"key {kid} signed imported bundles: demo-platform 9.0.0" in error
    assert serve.api.delete("/api/bundles/demo-platform/9.0.0").status == 200
    page.reload()
    page.click(f"[data-remove='{kid}']")
    assert "no longer trusted" in page.wait_for_selector("#keys-result .notice").inner_text()
    assert page.locator(f"#keys-table tr[data-key='{kid}']").count() == 0
