"""Nothing a site, a bundle or a log says runs in the page (issue 19): hostile markup stored in
every field a user or a bundle controls renders as text on every screen and in the report.

The rows are written straight into the store, past the API's name checks, as the worst case of
what could reach the page (an older version's data, a bundle's manifest, a playbook's output)."""

from __future__ import annotations

import re
from pathlib import Path

from appliance.context import Context
from appliance.jobs.reports.report import render_report
from appliance.store.models import Bundle, Host, Schedule, Site
from tests.support.processes import ServerProcess
from tests.ui.helpers import make_run, write_log

SCRIPT = "<script>window.__pwned='script'</script>"
IMG = "<img src=x onerror=\"window.__pwned='img'\">"
LINK = "<a href=\"javascript:window.__pwned='link'\" id=evil>click</a>"
ANSI = "\x1b[31m<b id=injected>bold</b>\x1b[0m"
PAYLOAD = f"{SCRIPT}{IMG}{LINK}"
# elements only the payloads would create (the page itself has none of these)
INJECTED = "script:not([src]), img[src='x'], [onerror], a#evil, a[href^='javascript'], b#injected"


def _store_hostile_data(ctx: Context) -> int:
    run_id = make_run(
        ctx,
        site=f"site{IMG}",
        hosts=(f"h1{SCRIPT}", f"h2{IMG}"),
        error=f"error {PAYLOAD}",
        hint=f"hint {LINK}",
        events=[
            {
                "event": "runner_on_failed",
                "host": f"h2{IMG}",
                "task": f"task {PAYLOAD}",
                "status": "failed",
                "counter": 99,
            }
        ],
    )
    write_log(ctx, run_id, [f"=== step {PAYLOAD} ===", f"line {PAYLOAD}", ANSI, f"{ANSI}{IMG}"])

    def write() -> None:
        site = Site.get()
        site.vars = {"note": PAYLOAD, "x": [IMG, {"y": SCRIPT}]}
        site.save()
        for host in Host.select():
            host.groups = [f"g{IMG}"]
            host.vars = {"v": LINK}
            host.address = f"addr{IMG}"
            host.save()
        bundle = Bundle.get()
        bundle.manifest = {
            "description": f"desc {PAYLOAD}",
            "components": [{"name": f"comp{IMG}", "version": f"1{SCRIPT}"}],
        }
        bundle.save()
        Schedule.create(
            site=site,
            bundle=bundle,
            action="upgrade",
            trigger="cron",
            cron="0 3 * * *",
            timezone="UTC",
            window_minutes=60,
            enabled=True,
            created_at=ctx.store.now(),
        )

    ctx.store.write(write)
    return run_id


def test_hostile_markup_renders_as_text_everywhere(
    ctx: Context, serve: ServerProcess, page, tmp_path: Path
) -> None:
    run_id = _store_hostile_data(ctx)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    screens = [
        ("#/sites", "site<img"),
        ("#/sites/1", "site<img"),  # the form: the payloads are in the fields' values
        ("#/bundles", "desc <script>"),
        (f"#/runs/{run_id}", "h1<script>window.__pwned"),
        ("#/history", "site<img"),
        ("#/runs/new?site=1", "site<img"),
        ("#/schedules", "site<img"),
    ]
    base = page.url.split("#")[0]
    for screen, text in screens:
        page.goto(base + screen)
        try:
            page.wait_for_function(
                "t => document.body.innerText.includes(t)", arg=text, timeout=15_000
            )
        except Exception as e:
            raise AssertionError((screen, text, page.inner_text("body")[:1500])) from e
        if screen.startswith("#/runs/") and "new" not in screen:
            page.wait_for_function(
                "() => document.body.innerText.includes('<b id=injected>')", timeout=15_000
            )
        if screen == "#/sites/1":
            values = page.evaluate(
                "() => [...document.querySelectorAll('input, textarea')].map(e => e.value)"
            )
            assert any(SCRIPT in v for v in values) and any(IMG in v for v in values), values
        found = page.evaluate(
            "sel => [...document.querySelectorAll(sel)].map(e => e.outerHTML)", INJECTED
        )
        assert found == [], (screen, found)
        assert page.evaluate("() => window.__pwned === undefined"), screen
    assert dialogs == []

    html = render_report(ctx, run_id)
    body = html.split("<body>", 1)[1]
    assert "<script" not in body.lower() and "<img" not in body.lower()
    assert not re.search(r"<a\s", body) and "<b id=injected" not in body
    assert "&lt;script&gt;" in body and "&lt;img src=x" in body
    report = tmp_path / "report.html"
    report.write_text(html, encoding="utf-8")
    page.goto(report.as_uri())
    assert page.evaluate("sel => document.querySelectorAll(sel).length", INJECTED) == 0
    assert page.evaluate("() => window.__pwned === undefined")
    assert "<script>window.__pwned" in page.inner_text("body")
