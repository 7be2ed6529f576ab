"""The run view in Debian's Chromium (Playwright) against an in-process server; each figure is
printed beside its target:

- a 1,000,000-line log: time until its tail is visible (< 0.5 s) and the JS heap;
- a huge log (``bench.biglog``: 25M lines, ~2 GB, cached in ~/.cache/appliance-bench/): tail
  visible (< 1 s, the first open, nothing indexed yet), JS heap (< 64 MB), search for a line in
  the middle (< 2 s), jump to the first error (< 1 s), and how long the line index takes;
- a run followed live from 0 to 2,000,000 lines: JS heap at the end (< 64 MB) and the time from
  appending a line to seeing it (< 0.5 s), sampled while the log grows.
"""

from __future__ import annotations

import statistics
import tempfile
import time

from appliance.backend.server import LocalServer
from appliance.context import open_context
from appliance.settings import load_settings
from bench import biglog

MILLION = 1_000_000
LIVE_LINES = 2_000_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ROW_ENDS = """([suffix, cls]) => [...document.querySelectorAll('.log-row' + cls)].some((r) => {
    const v = document.querySelector('.logview').getBoundingClientRect();
    const b = r.getBoundingClientRect();
    return !r.hidden && b.top >= v.top - 1 && b.bottom <= v.bottom + 1
        && r.innerText.endsWith(suffix);
}) && performance.now()"""
CLICK = "(sel) => { window.benchT0 = performance.now(); document.querySelector(sel).click(); }"


def figure(name: str, value: float, unit: str, target: float | None) -> None:
    verdict = "" if target is None else f"  (target < {target:g} {unit}: "
    if target is not None:
        verdict += "OK)" if value < target else "MISSED)"
    print(f"  {name}: {value:.2f} {unit}{verdict}")


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


def open_tail(page, server: LocalServer, run_id: int, suffix: str) -> float:
    """Seconds from navigation start until a visible row ends with ``suffix``."""
    page.goto("about:blank")
    page.goto(f"{server.url}#/runs/{run_id}")
    ms = page.wait_for_function(ROW_ENDS, arg=[suffix, ""], polling="raf", timeout=120_000)
    return ms.json_value() / 1000


def timed_click(page, selector: str, suffix: str, cls: str) -> float:
    """Seconds from a click until a visible row of class ``cls`` ends with ``suffix``."""
    page.evaluate(CLICK, selector)
    done = page.wait_for_function(ROW_ENDS, arg=[suffix, cls], polling="raf", timeout=120_000)
    return (done.json_value() - page.evaluate("() => window.benchT0")) / 1000


def bench_million(ctx, server: LocalServer, page) -> None:
    from tests.ui.bigrun import make_big_run

    run_id = make_big_run(ctx, MILLION)
    size = ctx.paths.run_log(run_id).stat().st_size
    print(f"1M-line log ({size / 1e6:.0f} MB):")
    times = [open_tail(page, server, run_id, f"line {MILLION}") for _ in range(3)]
    print(f"  tail visible, 3 opens: {', '.join(f'{t:.2f}' for t in times)} s")
    figure("tail visible (best of 3, from navigation start)", min(times), "s", 0.5)
    figure("JS heap + array buffers", heap_mb(page), "MB", 64)


def bench_huge(ctx, server: LocalServer, page) -> None:
    from tests.ui.helpers import make_run

    lines = biglog.LINES
    log = biglog.cached_log(lines)
    run_id = make_run(ctx, site="huge", state="failed", failed_step=None)
    biglog.place(log, ctx.paths.run_log(run_id))
    print(f"huge log ({lines:,} lines, {log.stat().st_size / 1e9:.2f} GB):")
    t0 = time.monotonic()
    figure(
        "tail visible (first open, index empty)",
        open_tail(page, server, run_id, biglog.last_text(lines)),
        "s",
        1,
    )
    heaps = [heap_mb(page)]
    middle = lines // 2 + 10  # a line ending in "item N"
    page.fill("#log-search", f"item {middle}")
    figure(
        "search for a middle line",
        timed_click(page, "#search-next", f"item {middle}", ".log-hit"),
        "s",
        2,
    )
    heaps.append(heap_mb(page))
    figure(
        "jump to the first error",
        timed_click(page, "#first-error", "line 250000", ".log-hit"),
        "s",
        1,
    )
    page.wait_for_function(
        "() => !(document.querySelector('#log-status')?.textContent || '~').includes('~')",
        timeout=300_000,
        polling=250,
    )
    figure(
        "line index complete (exact line numbers) after opening", time.monotonic() - t0, "s", None
    )
    heaps.append(heap_mb(page))
    figure("JS heap + array buffers (largest of 3 samples)", max(heaps), "MB", 64)
    figure(
        "tail visible (second open, indexed)",
        open_tail(page, server, run_id, biglog.last_text(lines)),
        "s",
        1,
    )


def bench_live(ctx, server: LocalServer, page) -> None:
    from tests.streams.helpers import append, set_state
    from tests.ui.bigrun import big_log_line
    from tests.ui.helpers import make_run

    run_id = make_run(ctx, state="running", site="live", failed_step=None, error=None, hint=None)
    path = ctx.paths.run_log(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    append(path, b"start\n")
    page.goto("about:blank")
    page.goto(f"{server.url}#/runs/{run_id}")
    page.wait_for_selector('.log-row[data-line="1"]')
    latencies = []
    block = 20_000
    t0 = time.monotonic()
    for start in range(0, LIVE_LINES, block):
        append(path, "".join(big_log_line(i) + "\n" for i in range(start, start + block)).encode())
        if (start // block) % 10 == 9:  # every 200,000 lines: one marked line, timed
            marker = f"marker {start}"
            sent = time.perf_counter()
            append(path, (marker + "\n").encode())
            page.wait_for_function(ROW_ENDS, arg=[marker, ""], polling="raf", timeout=60_000)
            latencies.append(time.perf_counter() - sent)
    elapsed = time.monotonic() - t0
    set_state(ctx, run_id, "succeeded")
    print(f"live run followed to {LIVE_LINES:,} lines (written over {elapsed:.0f} s):")
    figure("append-to-visible latency, median", statistics.median(latencies), "s", 0.5)
    figure("append-to-visible latency, worst", max(latencies), "s", 0.5)
    figure("JS heap + array buffers at the end", heap_mb(page), "MB", 64)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        ctx = open_context(load_settings(cli={"data_dir": tmp}, env={}))
        try:
            server = LocalServer(ctx).start()
            ctx.services["http"] = server
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1366, "height": 900})
                page.goto(server.login_url)
                page.wait_for_selector("#app-header nav")
                bench_million(ctx, server, page)
                bench_huge(ctx, server, page)
                bench_live(ctx, server, page)
                browser.close()
        finally:
            ctx.close()


if __name__ == "__main__":
    main()
