"""Shared fixtures: a data directory, an open context, a real server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.backend.server import LocalServer
from appliance.context import Context, open_context
from appliance.settings import load_settings
from tests.support.browser import session_browser
from tests.support.client import Api
from tests.support.sshhosts import SshLab, missing_requirements


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def ctx(data_dir: Path) -> Iterator[Context]:
    context = open_context(load_settings(cli={"data_dir": str(data_dir)}, env={}))
    yield context
    context.close()


@pytest.fixture
def server(ctx: Context) -> Iterator[LocalServer]:
    """The real cheroot server on 127.0.0.1, in this process."""
    srv = LocalServer(ctx).start()
    ctx.services["http"] = srv
    yield srv
    # ctx.close() stops it


@pytest.fixture(scope="session")
def ssh_lab() -> Iterator[SshLab]:
    """Three real SSH hosts in network namespaces (tests/support/sshhosts.py; needs root),
    shared by the whole session. Here, not in a folder's conftest: a module importing the
    fixture would be a second definition, and a second lab in the same process."""
    why = missing_requirements()
    if why:
        pytest.skip(why)
    lab = SshLab(count=3).create()
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """The test process's one Chromium (tests/support/browser.py says why only one)."""
    yield from session_browser()


@pytest.fixture
def api(server: LocalServer) -> Api:
    return Api(server.url, server.token)


# In CI nothing may be skipped: a test that cannot find its dependency must fail there.
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import os

    is_worker = hasattr(session.config, "workerinput")  # xdist: the controller decides
    if os.environ.get("CI") == "true" and _skipped and exitstatus == 0 and not is_worker:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    import os

    if os.environ.get("CI") == "true" and _skipped:
        terminalreporter.write_line(
            f"CI: {len(_skipped)} test(s) skipped, which CI counts as failures: "
            + ", ".join(_skipped[:10]),
            red=True,
        )
