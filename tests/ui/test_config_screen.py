"""The configuration screen generated from a bundle's declaration, in Chromium against a real
`appliance serve`: fill, a refused value shown next to its field, the diff before saving
(password masked, the components that use the items), save, and the labels in Chinese."""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.local import kill_everything_under, poll
from tests.support.processes import REPO, ServerProcess, run_cli
from tests.ui.conftest import shot
from tests.ui.laptop import DEMO_KEY, assert_fits, laptop  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
PASSWORD = "Zq8-ui-Pw-123"
TERMINAL = {"succeeded", "failed", "cancelled", "interrupted"}
SET_ZH = "已设置\uff08输入以替换\uff09"  # "set (type to replace it)", fullwidth brackets


@pytest.fixture(scope="module")
def conf_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("conf")
    key = folder / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    out = folder / "conf-platform-1.0.0.bundle"
    src = REPO / "tests" / "fixtures" / "bundles" / "conf-platform" / "1.0.0"
    done = run_cli(folder / "data", "bundle", "build", str(src), "--key", str(key), "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out


def test_fill_refuse_review_save_and_chinese(
    laptop,  # noqa: F811
    serve: ServerProcess,
    conf_bundle: Path,
) -> None:
    page = laptop
    api = serve.api
    assert api.post("/api/bundles", raw=conf_bundle.read_bytes()).status == 201
    site = api.post("/api/sites", {"name": "plant", "hosts": []}).json()
    base = page.url.split("#")[0]

    # the plan preview refuses the run and leads to the screen that fills the values
    page.goto(f"{base}#/runs/new?site=plant&bundle=conf-platform&version=1.0.0")
    page.click("#preview-plan")
    expect(page.locator(".error-box")).to_contain_text("admin_password is required")
    page.click("#fill-config")
    page.wait_for_selector("#cfg-web_port")

    page.goto(f"{base}#/sites/{site['id']}")
    page.click("[data-config-bundle='conf-platform']")
    page.wait_for_selector("#cfg-web_port")
    expect(page.locator("[data-item='web_port'] .field-label")).to_contain_text("Web port")
    expect(page.locator("[data-error-for='admin_password']")).to_have_text("is required")
    assert page.input_value("#cfg-web_port") == "18080"
    assert page.input_value("#config-version") == "1.0.0"

    page.fill("#cfg-web_port", "80")
    page.fill("#cfg-admin_password", PASSWORD)
    page.select_option("#cfg-log_level", "debug")
    page.click("#config-review")
    diff = page.wait_for_selector("#config-diff")
    assert PASSWORD not in diff.inner_text() and "••••••••" in diff.inner_text()
    assert "80" in page.inner_text("[data-change='web_port']")
    expect(page.locator("#config-affected")).to_contain_text("web, worker")
    page.click("#config-save")
    expect(page.locator("[data-error-for='web_port']")).to_have_text("must be at least 1024")
    page.wait_for_selector("#config-status .error-box")
    assert api.get("/api/sites/plant/config/conf-platform").json()["items"][1]["set"] is False
    shot(page, "config-refused")

    page.fill("#cfg-web_port", "2000")
    page.click("#config-review")
    page.click("#config-save")
    expect(page.locator("#config-after")).to_contain_text("Configuration saved.")
    expect(page.locator("[data-error-for='admin_password']")).to_have_text("")
    assert page.input_value("#cfg-admin_password") == ""  # write-only: never shown back
    assert PASSWORD not in page.content()
    stored = api.get("/api/sites/plant/config/conf-platform").json()
    values = {i["name"]: i.get("value") for i in stored["items"]}
    assert values["web_port"] == 2000 and values["log_level"] == "debug"
    assert stored["valid"] and stored["items"][1]["set"] is True
    assert_fits(page, "config screen")

    page.click(".lang-switch")
    expect(page.locator("[data-item='web_port'] .field-label")).to_contain_text("网页端口")
    expect(page.locator("[data-item='admin_password'] .field-help")).to_contain_text("至少 8")
    expect(page.locator("#cfg-admin_password")).to_have_attribute("placeholder", SET_ZH)
    shot(page, "config-zh")


def test_reconfigure_from_the_screen_reruns_the_changed_component(
    laptop,  # noqa: F811
    serve: ServerProcess,
    conf_bundle: Path,
    tmp_path: Path,
) -> None:
    page = laptop
    api = serve.api
    root = tmp_path / "root"
    assert api.post("/api/bundles", raw=conf_bundle.read_bytes()).status == 201
    site = api.post(
        "/api/sites",
        {
            "name": "lab",
            "vars": {"install_root": str(root)},
            "hosts": [
                {"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}
            ],
        },
    ).json()
    url = "/api/sites/lab/config/conf-platform"
    assert api.request("PUT", url, {"values": {"admin_password": PASSWORD}}).status == 200
    run = {"site": "lab", "bundle": "conf-platform", "version": "1.0.0"}
    first = api.post("/api/runs", run).json()
    poll(lambda: api.get(f"/api/runs/{first['id']}").json()["state"] == "succeeded", 120, "install")

    page.goto(page.url.split("#")[0] + f"#/sites/{site['id']}/config/conf-platform")
    page.select_option("#cfg-log_level", "warning")
    page.click("#config-review")
    expect(page.locator("#config-affected")).to_contain_text("worker")
    page.click("#config-save")
    button = page.locator("#config-reconfigure")
    expect(button).to_contain_text("worker")
    button.click()
    page.wait_for_url(re.compile(r"#/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    done = poll(
        lambda: (r := api.get(f"/api/runs/{run_id}").json())["state"] in TERMINAL and r, 120, "run"
    )
    assert done["state"] == "succeeded" and done["action"] == "reconfigure"
    assert [s["name"] for s in done["steps"]] == ["preflight", "worker"]
    assert "log_level=warning" in (root / "worker.conf").read_text()
    assert len((root / "web.runs").read_text().splitlines()) == 1
    kill_everything_under(root)
