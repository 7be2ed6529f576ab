"""The log search screen in Chromium: reached from the site, lines grouped by host as they
stream in, hostile text from a log shown as text, a refused expression shown with its hint, in
English and Chinese. The search is real (Ansible on the site's local host, through `appliance
serve`); the install is recorded in the store instead of run (tests/runs/test_logsearch.py
installs for real) and the log file is written here."""

from __future__ import annotations

import shutil
import stat
import tarfile
from pathlib import Path

from playwright.sync_api import expect

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.sites import service as remote_sites
from appliance.store import runs as rows
from appliance.store import sites
from tests.support.processes import REPO, ServerProcess
from tests.ui.conftest import shot

IMG = "<img src=x onerror=\"window.__pwned='img'\">"


def _site_with_a_log(ctx: Context, tmp_path: Path) -> Path:
    key = tmp_path / "demo.key"
    shutil.copyfile(REPO / "bundles" / "DEMO-ONLY-signing.key", key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    archive = build_bundle(REPO / "bundles" / "demo-platform" / "1.0.0", key, tmp_path)
    bundle_jobs.import_file(ctx, archive)
    root = tmp_path / "root"
    spec = {
        "name": "plant",
        "vars": {"install_root": str(root)},
        "hosts": [
            {"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}
        ],
    }
    site = sites.create_site(ctx.store, sites.parse_site(spec))
    record = {
        c: {"version": v, "bundle_name": "demo-platform", "bundle_version": "1.0.0"}
        for c, v in {"db": "1", "config": "1.0.0", "app": "1.0.0"}.items()
    }
    ctx.store.write(rows.record_installed, site["id"], None, record, ctx.store.now())
    log = root / "logs" / "app.log"
    log.parent.mkdir(parents=True)
    log.write_text(f"boot ok\nERROR disk full {IMG}\nrequest served\nERROR again\n")
    return log


def test_search_logs_from_the_site(
    ctx: Context, serve: ServerProcess, page, tmp_path: Path
) -> None:
    log = _site_with_a_log(ctx, tmp_path)
    page.goto(page.url.split("#")[0] + "#/sites/1")
    page.locator("#site-logs").click()
    expect(page.locator("h2")).to_have_text("Log search: plant")
    page.locator("#log-grep").fill("ERROR")
    page.locator("#log-search").click()
    expect(page.locator("#log-done")).to_have_text("Search finished.", timeout=120_000)
    host = page.locator('section.log-host[data-host="local"]')
    expect(host.locator("h3")).to_have_text("local")
    expect(host.locator(".log-line")).to_have_count(2)
    expect(host.locator(".log-line").first).to_have_text(f"{log}: ERROR disk full {IMG}")
    expect(host.locator(".log-host-status")).to_have_text("2 line(s) from 1 file(s)")
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.evaluate("() => window.__pwned === undefined")
    shot(page, "logsearch-en")

    # a runaway expression: refused with its hint, nothing shown as results
    page.locator("#log-grep").fill("(a+)+b")
    page.locator("#log-regex").check()
    page.locator("#log-search").click()
    expect(page.locator(".error-box")).to_contain_text("quantifier inside a repeated group")
    expect(page.locator(".error-hint")).to_contain_text("fixed string")
    expect(page.locator("section.log-host")).to_have_count(0)

    page.locator(".lang-switch").click()
    expect(page.locator("h2")).to_have_text("日志搜索：plant")  # noqa: RUF001
    page.locator("#log-search").click()
    expect(page.locator("#log-done")).to_have_text("搜索完成。", timeout=120_000)
    expect(page.locator(".log-host-status")).to_have_text("1 个文件中的 4 行")
    shot(page, "logsearch-zh")


def test_support_bundle_downloads_and_its_index_opens_offline(
    ctx: Context, serve: ServerProcess, page, tmp_path: Path
) -> None:
    log = _site_with_a_log(ctx, tmp_path)
    with log.open("a") as fh:
        fh.write("db connect password=LeakedPw1 user=app\nERROR Sup3rSecretPw rejected\n")
    sites.create_site(ctx.store, sites.parse_site({"name": "rivalco", "hosts": []}))
    remote_sites.set_site_credentials(ctx, 1, {"password": "Sup3rSecretPw"}, key_source="file")
    remote_sites.set_site_credentials(ctx, 2, {"password": "RivalPw77"}, key_source="file")
    page.goto(page.url.split("#")[0] + "#/sites/1")
    with page.expect_download(timeout=120_000) as info:
        page.locator("#site-support").click()
    archive = tmp_path / "support.tar.gz"
    info.value.save_as(archive)
    out = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
        texts = {m.name: tar.extractfile(m).read().decode() for m in tar if m.isfile()}
    everything = "".join(texts.values())
    for secret in ("Sup3rSecretPw", "RivalPw77", "LeakedPw1", "rivalco"):
        assert secret not in everything, secret
    app_log = texts[f"support-plant/hosts/local/logs/{str(log).strip('/')}"]
    assert "ERROR disk full" in app_log and "password=******** user=app" in app_log

    # offline: the page from the unpacked folder, every request outside it refused
    page.route("http://**/*", lambda route: route.abort())
    page.goto((out / "support-plant" / "index.html").as_uri())
    expect(page.locator("h1")).to_have_text("Support bundle: plant")
    findings = page.locator("table").first
    expect(findings.locator("tr.warn", has_text="log errors")).to_contain_text("local")
    expect(findings.locator("tr.pass", has_text="reachable")).to_contain_text("answered")
    expect(findings.locator("tr.warn", has_text="last run")).to_contain_text("no finished run")
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    shot(page, "support-index")
