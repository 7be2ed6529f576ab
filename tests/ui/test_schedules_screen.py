"""The Schedules screen in Chromium (issue 18): bundle and version, the next fire time in the
schedule's zone (named) and in the viewer's, the zone picked from the tz database by search,
editing from the window, occurrences linking to their runs, and the list refreshing itself.

The in-process server has no run engine: the run an occurrence links to is written straight
into the store (tests/ui/helpers.make_run), as the scheduler would have recorded it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from appliance.backend.server import LocalServer
from appliance.context import Context
from appliance.errors import Unprocessable
from appliance.jobs.runs.planning import plan_run
from appliance.store import sites
from appliance.store.models import Occurrence
from tests.support.client import Api
from tests.support.planned import fake_bundle, installed
from tests.ui.conftest import shot
from tests.ui.helpers import make_run

pytestmark = pytest.mark.slow

VIEWER_ZONE = "Europe/Berlin"  # the browser's zone, unlike the site's


def seed(ctx: Context) -> None:
    spec = {"name": "plant", "hosts": [{"name": "h1", "address": "127.0.0.1"}]}
    sites.create_site(ctx.store, sites.parse_site({**spec, "timezone": "Asia/Shanghai"}))
    fake_bundle(ctx, "1.1.0")
    installed(ctx, "plant", "1.0.0")


@pytest.fixture
def screen(browser, server: LocalServer, ctx: Context) -> Iterator[object]:
    """A page in the viewer's zone, logged in; console errors fail the test."""
    context = browser.new_context(
        locale="en-US", timezone_id=VIEWER_ZONE, viewport={"width": 1366, "height": 900}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error"
            and "Failed to load resource" not in m.text
            and "ApiError" not in m.text
            else None
        ),
    )
    page.goto(server.login_url)
    page.wait_for_selector("#app-header nav")
    yield page
    context.close()
    assert not errors, errors


def weekly(api: Api, **kw) -> dict:
    body = {
        "site": "plant",
        "bundle": "demo-platform",
        "version": "1.1.0",
        "action": "upgrade",
        "cron": "0 2 * * 6",
        "window_minutes": 120,
        **kw,
    }
    reply = api.post("/api/schedules", body)
    assert reply.status == 201, reply.body
    return reply.json()


def test_list_shows_both_zones_links_runs_and_refreshes_itself(
    screen, ctx: Context, api: Api
) -> None:
    page = screen
    seed(ctx)
    created = weekly(api)  # no zone given: the site's
    assert created["timezone"] == "Asia/Shanghai"
    run_id = make_run(ctx, site="elsewhere", state="succeeded", failed_step=None, error=None)
    fire = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="milliseconds")

    def write() -> None:
        Occurrence.create(
            schedule=created["id"],
            fire_time=fire,
            state="started",
            run=run_id,
            recorded_at=ctx.store.now(),
        )

    ctx.store.write(write)
    base = page.url.split("#")[0]
    page.goto(f"{base}#/schedules")
    row = page.locator(f'tr[data-schedule="{created["id"]}"]')
    expect(row.locator(".sched-bundle")).to_have_text("demo-platform 1.1.0")
    site_zone = row.locator(".next-site-zone")
    expect(site_zone).to_contain_text("(Asia/Shanghai)")
    expect(site_zone).to_contain_text("Sat")
    expect(site_zone).to_contain_text("02:00 CST")
    viewer = row.locator(".next-viewer-zone")
    expect(viewer).to_contain_text(f"({VIEWER_ZONE})")
    # Saturday 02:00 in Shanghai is Friday 18:00 UTC: 19:00 (winter) or 20:00 (summer) in Berlin
    expect(viewer).to_contain_text("Fri")
    assert any(f"{h}:00" in viewer.inner_text() for h in ("19", "20")), viewer.inner_text()
    shot(page, "schedules-zones")

    # the list refreshes by itself: a schedule added elsewhere (the API) appears
    later = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()
    other = api.post(
        "/api/schedules",
        {
            "site": "plant",
            "bundle": "demo-platform",
            "version": "1.1.0",
            "at": later,
            "timezone": "UTC",
            "window_minutes": 30,
        },
    ).json()
    expect(page.locator(f'tr[data-schedule="{other["id"]}"]')).to_be_visible(timeout=20_000)

    # an occurrence links to its run
    row.locator("a.occurrence-run").click()
    page.wait_for_url(f"**#/runs/{run_id}")
    expect(page.locator("h2").first).to_contain_text(str(run_id))


def test_zone_picker_search_and_adding_in_a_zone(screen, ctx: Context, api: Api) -> None:
    page = screen
    seed(ctx)
    base = page.url.split("#")[0]
    page.goto(f"{base}#/schedules")
    picker = page.locator("#sched-tz")
    expect(picker).to_have_value("Asia/Shanghai")  # the chosen site's zone
    page.fill("#sched-tz-search", "new york")
    expect(picker).to_have_value("America/New_York")
    assert page.locator("#sched-tz option").count() == 1
    page.fill("#sched-tz-search", "kolk")
    expect(picker).to_have_value("Asia/Kolkata")
    page.fill("#sched-tz-search", "nowhere at all")
    expect(page.locator("#sched-tz option")).to_have_count(0)
    expect(page.locator("#sched-tz-chosen")).to_contain_text("Asia/Kolkata")
    page.fill("#sched-tz-search", "shang")
    expect(picker).to_have_value("Asia/Shanghai")

    # once, at a wall time in the picked zone (not the browser's)
    page.fill("#sched-at", "2031-06-01T02:00")
    page.fill("#sched-window", "60")
    page.click("#add-schedule")
    expect(page.locator("#schedules-status .notice")).to_contain_text("Schedule added")
    [added] = api.get("/api/schedules").json()["schedules"]
    assert added["at"] == "2031-05-31T18:00:00.000+00:00"
    assert added["timezone"] == "Asia/Shanghai"


def test_edit_from_the_window_is_plan_checked(screen, ctx: Context, api: Api) -> None:
    page = screen
    seed(ctx)
    created = weekly(api, timezone="Asia/Shanghai")
    base = page.url.split("#")[0]
    page.goto(f"{base}#/schedules")
    page.locator(f'tr[data-schedule="{created["id"]}"] .edit-schedule').click()
    expect(page.locator("#schedule-form-title")).to_have_text(f"Edit schedule {created['id']}")
    expect(page.locator("#sched-cron")).to_have_value("0 2 * * 6")
    expect(page.locator("#sched-tz")).to_have_value("Asia/Shanghai")

    # refused like a run: demo-platform is installed already, so no install
    page.select_option("#sched-action", "install")
    page.click("#add-schedule")
    with pytest.raises(Unprocessable) as refused:  # what a run would be told
        plan_run("plant", "demo-platform", "1.1.0", "install")
    error = page.locator("#schedules-status .error-box")
    expect(error).to_contain_text(refused.value.message)
    # the same refusal (its code); the hint is the window's own words for it, about its buttons
    assert refused.value.code
    expect(error).to_have_attribute("data-code", refused.value.code)
    expect(error).to_contain_text("Choose the action Upgrade instead")
    assert api.get(f"/api/schedules/{created['id']}").json()["action"] == "upgrade"

    page.select_option("#sched-action", "upgrade")
    page.fill("#sched-cron", "30 3 * * 0")
    page.fill("#sched-tz-search", "berlin")
    page.click("#add-schedule")
    expect(page.locator("#schedules-status .notice")).to_contain_text(
        f"Schedule {created['id']} changed"
    )
    edited = api.get(f"/api/schedules/{created['id']}").json()
    assert (edited["cron"], edited["timezone"]) == ("30 3 * * 0", "Europe/Berlin")
    row = page.locator(f'tr[data-schedule="{created["id"]}"]')
    expect(row.locator(".next-site-zone")).to_contain_text("03:30")
    expect(row.locator(".next-viewer-zone")).to_have_count(0)  # the viewer's zone too
    expect(page.locator("#schedule-form-title")).to_have_text("Add schedule")
    expect(page.locator("#cancel-edit")).to_have_count(0)


def test_site_zone_is_picked_on_the_sites_screen(screen, ctx: Context, api: Api) -> None:
    page = screen
    seed(ctx)
    site = api.get("/api/sites/plant").json()
    base = page.url.split("#")[0]
    page.goto(f"{base}#/sites/{site['id']}")
    expect(page.locator("#site-timezone")).to_have_value("Asia/Shanghai")
    page.fill("#site-timezone-search", "berlin")
    page.click("#save-site")
    expect(page.locator(".notice")).to_be_visible()
    assert api.get("/api/sites/plant").json()["timezone"] == "Europe/Berlin"


def test_schedules_screen_in_chinese(screen, ctx: Context, api: Api) -> None:
    page = screen
    seed(ctx)
    created = weekly(api)
    base = page.url.split("#")[0]
    page.evaluate("localStorage.setItem('appliance.lang', 'zh')")
    page.goto(f"{base}#/schedules")
    page.reload()
    row = page.locator(f'tr[data-schedule="{created["id"]}"]')
    expect(row.locator(".next-viewer-zone")).to_contain_text("你的时间")
    expect(row.locator(".next-site-zone")).to_contain_text("(Asia/Shanghai)")
    expect(page.locator("#sched-tz-search")).to_have_attribute("placeholder", "搜索时区")
    row.locator(".edit-schedule").click()
    expect(page.locator("#schedule-form-title")).to_have_text(f"编辑计划 {created['id']}")
    shot(page, "schedules-zh")
