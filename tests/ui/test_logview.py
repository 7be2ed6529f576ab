"""The run view holds a million-line log: only the visible rows are in the DOM, the tail is
shown, search and jump-to-error reach any line."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from appliance.context import Context
from tests.support.processes import ServerProcess
from tests.ui.bigrun import make_big_run
from tests.ui.conftest import shot

pytestmark = pytest.mark.slow
N = 1_000_000


VISIBLE = """(line) => {
    const row = document.querySelector(`.log-row[data-line="${line}"]`);
    if (!row || row.hidden) return false;
    const r = row.getBoundingClientRect();
    const v = document.querySelector(".logview").getBoundingClientRect();
    return r.top >= v.top - 1 && r.bottom <= v.bottom + 1;
}"""


def visible(page, line: int) -> bool:
    """Line ``line`` is rendered inside the log viewport (waits for the next frames)."""
    page.wait_for_function(VISIBLE, arg=line, timeout=10_000)
    return True


def test_million_line_log(ctx: Context, serve: ServerProcess, page) -> None:
    run_id = make_big_run(ctx, N)
    page.goto(serve.url + f"#/runs/{run_id}")
    page.wait_for_function(
        "() => (document.querySelector('#log-status')?.textContent || '').includes('complete')",
        timeout=120_000,
    )
    page.wait_for_selector(f'.log-row[data-line="{N}"]', timeout=30_000)
    assert page.locator(".log-row").count() < 2000
    assert visible(page, N)
    assert page.inner_text(f'.log-row[data-line="{N}"]').endswith(f"line {N}")
    # colours are spans, not escape codes
    assert page.locator(f'.log-row[data-line="{N}"] .a-f2').count() == 1
    assert "\x1b" not in page.inner_text(".logview")
    shot(page, "ui-million-lines-tail")

    page.fill("#log-search", "item 500010")
    page.click("#search-next")
    assert visible(page, 500_010)
    assert page.locator(".log-row").count() < 2000
    assert page.get_attribute("#follow", "aria-pressed") == "false"

    page.click("#first-error")
    assert visible(page, 250_000)
    assert "first error at line 250,000" in page.inner_text("#log-status").replace(
        "250000", "250,000"
    )
    shot(page, "ui-million-lines-error")

    page.click("#follow")
    page.wait_for_function(f"() => document.querySelector('.log-row[data-line=\"{N}\"]')")
    assert visible(page, N)


def test_history_filters_by_site_and_state(ctx: Context, serve: ServerProcess, page) -> None:
    from tests.ui.helpers import make_run

    failed = make_run(ctx, site="one", state="failed")
    ok = make_run(ctx, site="two", state="succeeded", failed_step=None, error=None, hint=None)
    page.goto(serve.url + "#/history")
    page.wait_for_selector("#history-table")
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(2)
    # a filter redraws the table after its fetch: retrying assertions wait for the redraw
    page.select_option("#filter-site", "two")
    expect(rows).to_have_count(1)
    expect(page.locator(f'#history-table tr[data-run="{ok}"]')).to_have_count(1)
    page.select_option("#filter-site", "")
    page.wait_for_selector(f'#history-table tr[data-run="{failed}"]')
    page.select_option("#filter-state", "failed")
    expect(rows).to_have_count(1)
    expect(page.locator(f'#history-table tr[data-run="{failed}"]')).to_have_count(1)
    shot(page, "ui-history")
