"""The setup the command line does, in the window at 1366x768: deleting sites and bundles
(refused with the reason while something refers to them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

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
    expect(page.locator("[data-bundle='demo-platform@1.0.0']")).to_have_count(0)
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
    # the table is drawn again after the notice: wait for it (retrying expect)
    expect(page.locator(f"#keys-table tr[data-key='{kid}']")).to_have_count(0)


PASSPHRASE = "correct horse battery staple"


def test_credentials_with_a_locked_key(laptop, serve: ServerProcess) -> None:  # noqa: F811
    from appliance.store import credential_key

    page = laptop
    credential_key.create_key(serve.data_dir, "passphrase", PASSPHRASE)
    site = serve.api.post("/api/sites", {"name": "plant", "hosts": []}).json()
    page.goto(page.url.split("#")[0] + f"#/sites/{site['id']}")
    page.wait_for_selector("#unlock-slot .notice")  # locked: the unlock form is offered
    assert "No credentials stored" in page.inner_text("#cred-status")

    page.fill("#cred-password", "s3cret-Pa55")
    page.click("#save-credentials")
    error = page.wait_for_selector("#cred-result .error-box").inner_text()
    assert "protected by a passphrase" in error
    page.fill("#unlock-passphrase", "wrong")
    page.click("#unlock")
    page.wait_for_selector("#cred-result .error-box:has-text('wrong credentials passphrase')")
    page.fill("#unlock-passphrase", PASSPHRASE)
    page.click("#unlock")
    page.wait_for_selector("#cred-result .notice-info")
    expect(page.locator("#unlock-slot .notice")).to_have_count(0)

    page.fill("#cred-password", "s3cret-Pa55")
    page.fill("#cred-become", "sudo-Pa55")
    page.click("#save-credentials")
    page.wait_for_selector("#cred-result .notice-ok")
    assert page.inner_text("#cred-status") == "Stored: SSH password, sudo (become) password"
    assert page.input_value("#cred-password") == "" and page.input_value("#cred-become") == ""
    assert_fits(page, "site credentials")
    shot(page, "laptop-credentials")
    page.reload()  # never shown back, not even after a reload
    page.wait_for_selector("[data-clear='password']")
    assert "s3cret" not in page.content() and page.input_value("#cred-password") == ""
    page.click("[data-clear='become_password']")
    expect(page.locator("#cred-status")).to_have_text("Stored: SSH password")
    assert serve.api.get(f"/api/sites/{site['id']}/credentials").json()["credentials"] == [
        "password"
    ]


def test_import_check_and_export(laptop, serve: ServerProcess) -> None:  # noqa: F811
    page = laptop
    page.click("#import-inventory summary")
    page.fill("#import-name", "lab")
    page.fill(
        "#import-text",
        "[app]\nlocal ansible_host=localhost ansible_connection=local\n"
        "dead ansible_host=127.0.0.1 ansible_port=1\n",
    )
    page.click("#import-site")
    page.wait_for_url("**#/sites/*?saved=1")
    page.click("#check-hosts")
    page.wait_for_selector("#check-table", timeout=120_000)
    assert "NOT ready" in page.inner_text("#check-verdict")
    local = page.inner_text("#check-table tr[data-host='local']")
    assert "\tYes\t" in local and "through ansible-core 2.19." in local, local
    dead = page.inner_text("#check-table tr[data-host='dead']")
    assert "\tNo\t" in dead and "127.0.0.1:1" in dead, dead
    assert_fits(page, "site with host check")
    shot(page, "laptop-host-check")

    page.click("#show-inventory")
    text = page.wait_for_selector("#inventory-text:not([hidden])")
    assert "local ansible_host=localhost" in text.input_value()
    assert "[app]" in text.input_value()

    # a malformed inventory: the place and a hint, nothing stored
    page.goto(page.url.split("#")[0] + "#/sites")
    page.click("#import-inventory summary")
    page.fill("#import-name", "broken")
    page.fill("#import-text", "[app\nx\n")
    page.click("#import-site")
    error = page.wait_for_selector("#import-site-result .error-box").inner_text()
    assert "What to do" in error
    assert serve.api.get("/api/sites/broken").status == 404
