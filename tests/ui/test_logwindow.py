"""The log view holds a window of the log, not the log: a 2.5M-line log (~100 MB) opens at its
tail with a small JS heap, scrolls to its top and its middle with exact line numbers, finds a
line and the first error through the server, and a live run is followed from its first byte to
its end (past the window's size) with every line numbered."""

from __future__ import annotations

import threading
import time

import pytest

from appliance.context import Context
from tests.streams.helpers import append, set_state
from tests.support.processes import ServerProcess
from tests.ui.bigrun import big_log_line, make_big_run
from tests.ui.conftest import shot
from tests.ui.helpers import make_run
from tests.ui.test_logview import visible

pytestmark = pytest.mark.slow
N = 2_500_000
HEAP_LIMIT_MB = 40  # heap + array buffers: the log would need > 100 MB, the window < 20 MB

STATUS_HAS = "(text) => (document.querySelector('#log-status')?.textContent || '').includes(text)"
LINES_AT_LEAST = """(n) => parseInt((document.querySelector('#log-status')?.textContent || '0')
    .replace(/,/g, '')) >= n"""
SCROLL_TO = """(frac) => {
    const v = document.querySelector('.logview');
    v.scrollTop = frac * (v.scrollHeight - v.clientHeight);
    v.dispatchEvent(new Event('scroll'));
}"""
TOP_ROW = """() => {
    const v = document.querySelector('.logview').getBoundingClientRect();
    const rows = [...document.querySelectorAll('.log-row[data-line]')].filter((r) => {
        const b = r.getBoundingClientRect();
        return !r.hidden && r.dataset.line && b.top >= v.top - 1 && b.bottom <= v.bottom + 1;
    });
    return rows.length ? [Number(rows[0].dataset.line), rows[0].innerText] : null;
}"""


def heap_mb(page) -> float:
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("HeapProfiler.collectGarbage")
        usage = cdp.send("Runtime.getHeapUsage")
        # ArrayBuffer contents (the log window's bytes) live outside the V8 heap: count them
        parts = ("usedSize", "embedderHeapUsedSize", "backingStorageSize")
        return sum(usage.get(k, 0) for k in parts) / 1e6
    finally:
        cdp.detach()


def top_row(page) -> tuple[int, str]:
    """The first fully visible row's line number and text, once rows are drawn."""
    return tuple(page.wait_for_function(TOP_ROW, timeout=15_000).json_value())


def test_big_log_window_tail_top_middle_search_error(
    ctx: Context, serve: ServerProcess, page
) -> None:
    run_id = make_big_run(ctx, N)
    page.goto(serve.url + f"#/runs/{run_id}")
    page.wait_for_function(STATUS_HAS, arg="complete", timeout=30_000)
    assert visible(page, N)
    assert page.inner_text(f'.log-row[data-line="{N}"]').endswith(f"line {N}")
    assert page.locator(f'.log-row[data-line="{N}"] .a-f2').count() == 1  # colours
    assert page.locator(".log-row").count() < 2000
    page.wait_for_function(STATUS_HAS, arg="2,500,000 lines")
    heap = heap_mb(page)
    assert heap < HEAP_LIMIT_MB, f"JS heap {heap:.1f} MB with a {N:,}-line log"

    page.evaluate(SCROLL_TO, 0)
    assert visible(page, 1)
    assert page.inner_text('.log-row[data-line="1"]').endswith("task output line 1")
    assert page.get_attribute("#follow", "aria-pressed") == "false"

    page.evaluate(SCROLL_TO, 0.5)
    line, text = top_row(page)
    assert abs(line - N // 2) < N // 50, line
    assert text.endswith(f" {line}"), (line, text)  # the number shown is the line's own
    shot(page, "ui-logwindow-middle")

    page.fill("#log-search", "item 1700010")
    page.click("#search-next")
    assert visible(page, 1_700_010)
    assert page.inner_text(".log-row.log-hit").endswith("item 1700010")
    page.wait_for_function(STATUS_HAS, arg="line 1,700,010")
    page.fill("#log-search", "item 1000010")
    page.click("#search-prev")  # backwards from the line found
    assert visible(page, 1_000_010)
    page.wait_for_function(STATUS_HAS, arg="line 1,000,010")

    page.click("#first-error")
    assert visible(page, 250_000)
    page.wait_for_function(STATUS_HAS, arg="first error at line 250,000 (10 error lines)")
    assert page.locator(".log-row.log-hit.log-err").count() == 1

    page.click("#follow")
    assert visible(page, N)
    assert heap_mb(page) < HEAP_LIMIT_MB


def test_follow_a_live_run_past_the_window(ctx: Context, serve: ServerProcess, page) -> None:
    lines = 300_000  # ~13 MB: more than the 8 MiB window holds
    run_id = make_run(ctx, state="running", site="live", failed_step=None, error=None)
    path = ctx.paths.run_log(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    append(path, "".join(big_log_line(i) + "\n" for i in range(1000)).encode())
    page.goto(serve.url + f"#/runs/{run_id}")
    assert visible(page, 1000)
    assert page.get_attribute("#follow", "aria-pressed") == "true"

    first_part = 230_000  # ~9.7 MB: the window no longer holds line 1 after it
    written, resume = threading.Event(), threading.Event()

    def write(start: int, stop: int) -> None:
        for at in range(start, stop, 10_000):
            block = "".join(big_log_line(i) + "\n" for i in range(at, min(stop, at + 10_000)))
            append(path, block.encode())
            time.sleep(0.05)  # a pace, so the page follows a log that grows

    def writer() -> None:
        write(1000, first_part)
        written.set()
        resume.wait(timeout=30)
        write(first_part, lines)
        set_state(ctx, run_id, "succeeded")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        # mid-run: scroll to the top (follow stops, the top is fetched again), then follow
        # again: the window goes back to the live end and goes on from there
        written.wait(timeout=60)
        page.wait_for_function(LINES_AT_LEAST, arg=first_part, timeout=30_000)
        page.evaluate(SCROLL_TO, 0)
        assert visible(page, 1)
        assert page.get_attribute("#follow", "aria-pressed") == "false"
        page.click("#follow")
        assert visible(page, first_part)  # the live end, loaded again
        assert page.get_attribute("#follow", "aria-pressed") == "true"
        resume.set()
        page.wait_for_function(STATUS_HAS, arg="complete", timeout=60_000)
    finally:
        resume.set()
        thread.join()
    assert visible(page, lines)
    assert page.inner_text(f'.log-row[data-line="{lines}"]').endswith(f"item {lines}")
    page.wait_for_function(STATUS_HAS, arg=f"{lines:,} lines")
    assert heap_mb(page) < HEAP_LIMIT_MB
    shot(page, "ui-logwindow-followed")

    page.evaluate(SCROLL_TO, 0)  # the start was dropped from the window: fetched again
    assert visible(page, 1)
    assert page.inner_text('.log-row[data-line="1"]').endswith("task output line 1")
