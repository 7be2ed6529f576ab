"""Every screen in Chinese shows no untranslated UI string, and a server error in Chinese.

"Untranslated" is checked two ways on every visible text node and every title, placeholder
and aria-label of the page (the log view and a run's record of its error, Ansible's words, are
data and left out):
- it is not an English catalogue text (i18n.js, with {params} matching anything) whose Chinese
  text differs: a string the page forgot to pass through t();
- it holds no Latin word (3+ letters) that is neither data the server sent (site, host, bundle,
  component, key names... : every string of the API answers the screens read) nor one of the
  technical words kept as they are in Chinese (ALLOWED): a string never put in the catalogue.
Dates are written in the UI's language, not the browser's (the context is en-US): no AM/PM.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.local import poll
from tests.support.processes import ServerProcess
from tests.ui.conftest import shot
from tests.ui.laptop import build_demo

pytestmark = pytest.mark.slow

# kept as they are in the Chinese text (product and tool names, file kinds, commands)
ALLOWED = {
    "Appliance", "appliance", "Ansible", "SSH", "sudo", "become", "Python", "Playbook", "Cron",
    "cron", "sha", "INI", "YAML", "JSON", "ini", "pub", "bundle", "vault", "serve", "token",
    "English", "key", "value", "true", "false", "ansible_connection", "local", "log",
}  # fmt: skip

CHECK = (Path(__file__).parent / "untranslated.js").read_text()


def strings(value: Any) -> set[str]:
    """Every string in an API answer, and each of its words."""
    if isinstance(value, str):
        return {value, *re.findall(r"[A-Za-z_]+", value)}
    if isinstance(value, dict):
        return set().union(set(), *(strings(k) | strings(v) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(set(), *(strings(v) for v in value))
    return set()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo"))


def test_every_screen_in_chinese(page, serve: ServerProcess, demo: Path, tmp_path: Path) -> None:
    api = serve.api
    reply = api.post(
        "/api/bundles", raw=demo.read_bytes(), headers={"Content-Type": "application/octet-stream"}
    )
    assert reply.status in (200, 201), reply.json()
    site = {
        "name": "lab",
        "vars": {"install_root": str(tmp_path / "root")},
        "hosts": [
            {"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}
        ],
    }
    assert api.post("/api/sites", site).status == 201
    # a site whose only host refuses SSH: its check run fails at once (error, hint, actions)
    # (not "down": a site's name that is also a UI word would read as untranslated)
    down = {"name": "no-ssh", "hosts": [{"name": "gone", "address": "127.0.0.1", "port": 9}]}
    assert api.post("/api/sites", down).status == 201
    run = {"site": "lab", "bundle": "demo-platform", "version": "1.0.0", "action": "check"}
    run_id = api.post("/api/runs", run).json()["id"]
    failed_id = api.post("/api/runs", {**run, "site": "no-ssh"}).json()["id"]
    for rid in (run_id, failed_id):
        poll(lambda rid=rid: api.get(f"/api/runs/{rid}").json()["finished_at"], 240, "runs' end")
    assert api.get(f"/api/runs/{failed_id}").json()["state"] == "failed"

    data: set[str] = set()
    for path in (
        "/api/sites",
        "/api/sites/lab",
        "/api/bundles",
        "/api/bundles/demo-platform/1.0.0",
        "/api/keys",
        "/api/runs",
        f"/api/runs/{run_id}",
        f"/api/runs/{failed_id}",
        "/api/schedules",
        "/api/timezones",  # the tz database's zone names, offered by the pickers
        "/api/data",
    ):
        answer = api.get(path)
        if answer.status == 200:
            data |= strings(answer.json())
    data |= strings(api.post("/api/runs", {**run, "dry_run": True}).json())

    page.click(".lang-switch")
    expect(page.locator("nav a[data-nav=sites]")).to_have_text("站点")
    base = page.url.split("#")[0]
    screens = [
        "#/sites",
        "#/sites/new",
        "#/sites/lab",
        "#/bundles",
        "#/bundles/demo-platform/1.0.0",
        "#/runs/new?site=lab",
        "#/history",
        "#/schedules",
        "#/data",
        "#/sites/lab/status",
        "#/sites/lab/logs",
        f"#/runs/{run_id}",
        f"#/runs/{failed_id}",
    ]
    found: list[str] = []
    for screen in screens:
        page.goto(base + screen)
        page.wait_for_selector("#main h2")
        page.wait_for_load_state("networkidle")
        if screen.startswith("#/runs/new"):
            page.click("#preview-plan")
            page.wait_for_selector("#plan-table")
        found += [f"{screen} {x}" for x in page.evaluate(CHECK, [sorted(data), sorted(ALLOWED)])]
        shot(page, f"zh-{screen.strip('#/').replace('/', '-')}")
    assert not found, "\n".join(found)
    # the failed run: what happened in Chinese, the record as data, a hint about this window
    expect(page.locator("#run-error .error-message")).to_contain_text("失败")
    expect(page.locator("#run-error .error-detail-text")).not_to_be_empty()
    expect(page.locator("#run-error .error-hint")).to_contain_text("从失败步骤继续")

    # a server error in Chinese: its code's words, not the server's English
    page.goto(base + "#/sites/new")
    page.fill("#site-name", "lab")
    page.fill('[name="host-name"]', "local")
    page.fill('[name="host-address"]', "localhost")
    page.click("#save-site")
    box = page.locator(".error-box[data-code='site.exists']")
    expect(box.locator(".error-message")).to_have_text("名为 lab 的站点已存在。")
    expect(box.locator(".error-hint")).to_contain_text("请换一个名称")
    shot(page, "zh-server-error")
