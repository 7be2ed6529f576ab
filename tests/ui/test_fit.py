"""Every screen fits a 1366x768 laptop: no horizontal scrolling, the navigation always in view."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.context import open_context
from appliance.settings import load_settings
from tests.support.processes import ServerProcess
from tests.ui.conftest import shot
from tests.ui.helpers import make_run, write_log
from tests.ui.laptop import assert_fits, build_demo, laptop  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


@pytest.fixture
def serve(data_dir: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server over a data folder with a finished run (long log lines), then the demo bundle
    and a site with many hosts added over the API."""
    ctx = open_context(load_settings(cli={"data_dir": str(data_dir)}, env={}))
    try:
        hosts = [f"host-{i:02d}.a-rather-long-domain.example" for i in range(8)]
        run_id = make_run(ctx, hosts=hosts)
        write_log(ctx, run_id, ["x" * 400, "TASK [a task with a long name] " + "*" * 300])
    finally:
        ctx.close()
    server = ServerProcess(data_dir)
    server.run_id = run_id  # type: ignore[attr-defined]
    bundle = build_demo(tmp_path)
    assert server.api.post("/api/bundles", raw=bundle.read_bytes()).status == 201
    hosts = [
        {
            "name": f"node-{i:02d}",
            "address": f"10.20.30.{i}",
            "user": "deploy",
            "groups": ["app", "db", "web"],
            "vars": {"a_long_variable_name": "a long value " * 4},
        }
        for i in range(12)
    ]
    reply = server.api.post("/api/sites", {"name": "plant-one", "vars": {"x": 1}, "hosts": hosts})
    assert reply.status == 201, reply.body
    server.site_id = reply.json()["id"]  # type: ignore[attr-defined]
    yield server
    if server.proc.poll() is None:
        server.terminate()


def test_every_screen_fits_a_laptop(laptop, serve: ServerProcess) -> None:  # noqa: F811
    page = laptop
    screens = {
        "sites": ("#/sites", "#sites-table"),
        "site-new": ("#/sites/new", "#site-name"),
        "site-edit": (f"#/sites/{serve.site_id}", "#installed-table"),  # type: ignore[attr-defined]
        "bundles": ("#/bundles", "#bundles-table"),
        "bundle": ("#/bundles/demo-platform/1.0.0", "#upgrade-paths"),
        "new-run": ("#/runs/new", "#preview-plan"),
        "history": ("#/history", "table"),
        "schedules": ("#/schedules", "h2"),
        "data": ("#/data", "#data-restore"),
        "site-status": (f"#/sites/{serve.site_id}/status", "#overall"),  # type: ignore[attr-defined]
        "site-backups": (f"#/sites/{serve.site_id}/backups", "#backups-empty"),  # type: ignore[attr-defined]
        "site-config": (f"#/sites/{serve.site_id}/config/demo-platform", "#config-review"),  # type: ignore[attr-defined]
        "site-logs": (f"#/sites/{serve.site_id}/logs", "#log-search"),  # type: ignore[attr-defined]
        "run": (f"#/runs/{serve.run_id}", ".run-head"),  # type: ignore[attr-defined]
    }
    base = page.url.split("#")[0]
    for lang in ("en", "zh"):
        if lang == "zh":
            page.click(".lang-switch")
        for name, (hash_, ready) in screens.items():
            page.goto(base + hash_)
            page.wait_for_selector(ready)
            shot(page, f"laptop-{lang}-{name}")
            assert_fits(page, f"{lang} {name}")
