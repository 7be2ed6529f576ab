"""The check table of a run in Chromium (issue 14): warnings at the top, every check with its
host, status and message, in English and Chinese; hostile text from a playbook shows as text.

The run and its checks are written straight into the store (no Ansible: tests/runs/test_checks.py
runs real playbooks); the page is the real `appliance serve`."""

from __future__ import annotations

from playwright.sync_api import expect

from appliance.context import Context
from appliance.store.checks import replace_step_checks
from appliance.store.models import RunStep
from tests.support.processes import ServerProcess
from tests.ui.conftest import shot
from tests.ui.helpers import make_run

IMG = "<img src=x onerror=\"window.__pwned='img'\">"


def _run_with_checks(ctx: Context) -> int:
    run_id = make_run(ctx, state="succeeded", failed_step=None, error=None, hint=None)
    step = ctx.store.write(lambda: RunStep.get((RunStep.run == run_id) & (RunStep.idx == 1)).id)
    rows = [
        {"host": "db1", "name": "disk space", "status": "pass", "message": "5120 MB free"},
        {"host": "db1", "name": "port", "status": "pass", "message": ""},
        {"host": "app1", "name": "disk space", "status": "warn", "message": f"only 800 MB {IMG}"},
        {"host": "app1", "name": "license", "status": "fail", "message": "expired"},
    ]
    ctx.store.write(replace_step_checks, run_id, step, rows)
    return run_id


def test_check_table_with_warnings_in_both_languages(
    ctx: Context, serve: ServerProcess, page
) -> None:
    run_id = _run_with_checks(ctx)
    page.goto(page.url.split("#")[0] + f"#/runs/{run_id}")
    warnings = page.locator("#check-warnings")
    expect(warnings).to_contain_text("1 check(s) warned")
    expect(warnings).to_contain_text(f"app1: disk space: only 800 MB {IMG}")
    table = page.locator("#checks-table")
    expect(table.locator("tbody tr")).to_have_count(4)
    warn_row = table.locator("tr.check-warn")
    expect(warn_row).to_contain_text("app1")
    expect(warn_row.locator(".badge")).to_have_text("warn")
    expect(table.locator("tr.check-fail .badge")).to_have_text("fail")
    expect(table.locator("tr.check-fail")).to_contain_text("license")
    expect(page.locator("#checks-summary")).to_have_text("2 passed, 1 warning(s), 1 failed")
    # above the steps: seen first
    order = page.evaluate(
        "() => [...document.querySelectorAll('#check-warnings, #steps-table')].map(e => e.id)"
    )
    assert order == ["check-warnings", "steps-table"]
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.evaluate("() => window.__pwned === undefined")
    shot(page, "checks-run-en")

    page.locator(".lang-switch").click()
    expect(page.locator("#checks-summary")).to_have_text("2 项通过，1 项警告，1 项失败")  # noqa: RUF001
    expect(page.locator("#checks-table tr.check-warn .badge")).to_have_text("警告")
    expect(page.locator("#check-warnings")).to_contain_text("1 项检查有警告")
    shot(page, "checks-run-zh")


def test_a_run_without_checks_shows_no_check_table(
    ctx: Context, serve: ServerProcess, page
) -> None:
    run_id = make_run(ctx, state="succeeded", failed_step=None, error=None, hint=None)
    page.goto(page.url.split("#")[0] + f"#/runs/{run_id}")
    expect(page.locator("#steps-table")).to_be_visible()
    assert page.locator("#checks-table").count() == 0
    assert page.locator("#check-warnings").count() == 0
