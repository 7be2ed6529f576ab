"""A laptop's screen for browser tests: a 1366x768 viewport, the demo bundle built once, and the
check every screen must pass there (no horizontal scrolling, the navigation in view)."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import REPO, ServerProcess, run_cli
from tests.ui.conftest import logged_in

LAPTOP = {"width": 1366, "height": 768}
DEMO_KEY = REPO / "bundles" / "DEMO-ONLY-signing.key"


def build_demo(folder: Path, version: str = "1.0.0") -> Path:
    """The demo bundle signed with the demo key (trusted by a fresh appliance)."""
    key = folder / "demo.key"
    if not key.exists():
        shutil.copyfile(DEMO_KEY, key)
        key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    out = folder / f"demo-platform-{version}.bundle"
    src = REPO / "bundles" / "demo-platform" / version
    done = run_cli(folder / "data", "bundle", "build", str(src), "--key", str(key), "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def laptop(browser, serve: ServerProcess) -> Iterator[object]:
    """A logged-in page at 1366x768 (English); console errors fail the test."""
    yield from logged_in(browser, serve, LAPTOP)


def assert_fits(page, where: str) -> None:
    """No horizontal scrollbar; the navigation is in view at the top and after scrolling down."""
    wide = page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
    assert wide[0] <= wide[1], f"{where}: horizontal scrolling ({wide[0]} > {wide[1]} px)"
    for y in (0, 100_000):
        page.evaluate(f"window.scrollTo(0, {y})")
        box = page.locator("#app-header nav").bounding_box()
        assert box is not None, f"{where}: no navigation"
        vis = page.evaluate(
            "(() => { const r = document.querySelector('#app-header nav a')"
            ".getBoundingClientRect(); return [r.top, r.bottom, r.left, r.right]; })()"
        )
        top, bottom, left, right = vis
        assert top >= 0 and bottom <= LAPTOP["height"], f"{where}: navigation off screen {vis}"
        assert left >= 0 and right <= LAPTOP["width"], f"{where}: navigation off screen {vis}"
        switch = page.evaluate(
            "(() => { const r = document.querySelector('.lang-switch').getBoundingClientRect();"
            " return [r.top, r.bottom, r.right]; })()"
        )
        assert switch[0] >= 0 and switch[1] <= LAPTOP["height"], f"{where}: {switch}"
        assert switch[2] <= LAPTOP["width"], f"{where}: language switch off screen {switch}"
    page.evaluate("window.scrollTo(0, 0)")
