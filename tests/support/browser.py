"""Debian's Chromium driven by Playwright for Python (never `playwright install`).

One browser per test process: Playwright's sync API runs its own event loop, and a second
`sync_playwright()` started while the first is open fails ("Sync API inside the asyncio loop"),
so every browser test (tests/ui, tests/streams) takes pages from the session's one browser
(the `browser` fixture in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def session_browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
