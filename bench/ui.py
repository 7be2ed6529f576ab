"""The run view with a million-line log: time until the tail is visible (target < 2 s) and
the page's JS heap. Runs Debian's Chromium through Playwright against an in-process server."""

from __future__ import annotations

import tempfile
import time

from appliance.backend.server import LocalServer
from appliance.context import open_context
from appliance.settings import load_settings

LINES = 1_000_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tests.ui.bigrun import make_big_run

    with tempfile.TemporaryDirectory() as tmp:
        ctx = open_context(load_settings(cli={"data_dir": tmp}, env={}))
        try:
            t = time.perf_counter()
            run_id = make_big_run(ctx, LINES)
            size = ctx.paths.run_log(run_id).stat().st_size
            print(
                f"log: {LINES:,} lines, {size / 1e6:.1f} MB (written in "
                f"{time.perf_counter() - t:.1f} s)"
            )
            server = LocalServer(ctx).start()
            ctx.services["http"] = server
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1366, "height": 900})
                page.goto(server.login_url)
                page.wait_for_selector("#app-header nav")
                results = []
                for attempt in range(3):
                    page.goto("about:blank")
                    page.goto(f"{server.url}#/runs/{run_id}")
                    tail_ms = page.wait_for_function(
                        f"""() => document.querySelector('.log-row[data-line="{LINES}"]')
                            && performance.now()""",
                        polling="raf",
                        timeout=120_000,
                    ).json_value()
                    results.append(tail_ms)
                    rows = page.locator(".log-row").count()
                    print(
                        f"run {attempt + 1}: tail visible after {tail_ms / 1000:.2f} s "
                        f"(from navigation start; DOM rows {rows})"
                    )
                cdp = page.context.new_cdp_session(page)
                cdp.send("HeapProfiler.collectGarbage")
                cdp.send("Performance.enable")
                metrics = {
                    m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]
                }
                heap = metrics.get("JSHeapUsedSize", 0) / 1e6
                total = metrics.get("JSHeapTotalSize", 0) / 1e6
                scroll_ms = page.evaluate(
                    """async () => {
                        const v = document.querySelector('.logview');
                        const t0 = performance.now();
                        for (let i = 0; i < 60; i++) {
                            v.scrollTop = Math.random() * v.scrollHeight;
                            await new Promise(r => requestAnimationFrame(r));
                        }
                        return (performance.now() - t0) / 60;
                    }"""
                )
                best = min(results) / 1000
                verdict = "OK" if best < 2 else "SLOW"
                print(
                    f"time to tail (best of {len(results)}): {best:.2f} s (target < 2 s: {verdict})"
                )
                print(f"JS heap used: {heap:.0f} MB (total {total:.0f} MB)")
                print(f"random scroll: {scroll_ms:.1f} ms per frame")
                browser.close()
        finally:
            ctx.close()


if __name__ == "__main__":
    main()
