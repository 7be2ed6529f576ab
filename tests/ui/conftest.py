"""Browser tests: Playwright for Python driving Debian's Chromium (never `playwright install`)
against a real `appliance serve` process. Screenshots go to test-artifacts/ (gitignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import REPO, ServerProcess

ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture
def serve(data_dir: Path) -> Iterator[ServerProcess]:
    """A real `appliance serve` (its own process, as the window would use it)."""
    server = ServerProcess(data_dir)
    yield server
    if server.proc.poll() is None:
        server.terminate()


def logged_in(browser, serve: ServerProcess, viewport: dict[str, int]) -> Iterator[object]:
    """A fresh context (English UI) logged in through /?token=; console errors fail the test."""
    context = browser.new_context(locale="en-US", viewport=viewport, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.on(
        "console",
        lambda m: (
            errors.append(f"console.{m.type}: {m.text}")
            if m.type == "error" and not _expected_console(m.text)
            else None
        ),
    )
    # what the page fetched and did not get: said when the shell does not come up
    missed: list[str] = []
    pg.on("requestfailed", lambda r: missed.append(f"{r.url}: {r.failure}"))
    pg.on("response", lambda r: missed.append(f"{r.url}: {r.status}") if r.status >= 400 else None)
    pg.goto(f"{serve.url}?token={serve.info['token']}")
    try:
        pg.wait_for_selector("#app-header nav")
    except Exception as exc:  # Playwright's TimeoutError: say why the shell never rendered
        raise AssertionError(
            f"the page shell did not render: {exc}\nerrors: {errors}\nnot loaded: {missed}\n"
            f"server log (end):\n{serve.output()[-4000:]}"
        ) from exc
    yield pg
    context.close()
    assert not errors, errors


@pytest.fixture
def page(browser, serve: ServerProcess) -> Iterator[object]:
    yield from logged_in(browser, serve, {"width": 1366, "height": 900})


def _expected_console(text: str) -> bool:
    # a failed API call shown to the user is logged as well: the page reports, not hides it
    return text.startswith("Failed to load resource") or "ApiError" in text


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
