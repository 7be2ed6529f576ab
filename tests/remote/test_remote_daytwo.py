"""Day two on the SSH test hosts: install, status healthy on every host; stop the app on one
host through an operation (a run, action operate, limited to it): that host stopped, the site
degraded; start it again from the command line (`appliance service start`); `appliance site
status --refresh` healthy (exit 0)."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.daytwo import operations, status
from appliance.jobs.runs.manager import RunManager
from tests.remote.conftest import clean_roots, lab_site
from tests.support.cli import run_cli
from tests.support.sshhosts import SshLab

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEMO_KEY = REPO / "bundles" / "DEMO-ONLY-signing.key"


@pytest.fixture
def manager(remote_ctx: Context) -> Iterator[RunManager]:
    runs = RunManager(remote_ctx).start()
    remote_ctx.services["runs"] = runs
    yield runs


def states(result: dict, component: str) -> dict[str, str]:
    found = next(c for c in result["components"] if c["component"] == component)
    return {h["host"]: h["state"] for h in found["hosts"]}


def test_install_status_stop_start(
    remote_ctx: Context,
    remote_data_dir: Path,
    lab: SshLab,
    manager: RunManager,
    tmp_path: Path,
) -> None:
    ctx = remote_ctx
    key = tmp_path / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    archive = build_bundle(REPO / "bundles" / "demo-platform" / "1.1.0", key, tmp_path)
    bundle_jobs.import_file(ctx, archive)
    clean_roots(lab)
    lab_site(ctx, lab, "dt")
    names = [h.name for h in lab.hosts]
    run = manager.wait(manager.start_run("dt", "demo-platform", "1.1.0", "install")["id"], 900)
    assert run["state"] == "succeeded", ctx.paths.run_log(run["id"]).read_text()[-3000:]

    result = status.refresh(ctx, "dt")
    assert result["overall"] == "healthy", result
    assert states(result, "app") == dict.fromkeys(names, "running")
    assert states(result, "db") == dict.fromkeys(names, "running")

    # stop the app on the first host only
    body = {"component": "app", "operation": "stop", "hosts": [names[0]]}
    stop = operations.start_operation(manager, "dt", body)
    assert stop["action"] == "operate" and stop["plan"][0]["limit"] == [names[0]]
    stop = manager.wait(stop["id"], 600)
    assert stop["state"] == "succeeded", ctx.paths.run_log(stop["id"]).read_text()[-3000:]
    result = status.refresh(ctx, "dt")
    assert states(result, "app") == {names[0]: "stopped", **dict.fromkeys(names[1:], "running")}
    assert result["overall"] == "degraded"
    assert result["attention"] is None

    # the command line: degraded exits 1; start it; healthy exits 0
    shown = run_cli(remote_data_dir, "site", "status", "dt", "--json")
    assert shown.returncode == 1 and json.loads(shown.stdout)["overall"] == "degraded"
    ctx.close()  # the command line uses the data folder on its own (runs in this process)
    started = run_cli(remote_data_dir, "service", "start", "dt", "app", "--host", names[0])
    assert started.returncode == 0, started.stderr
    again = run_cli(remote_data_dir, "site", "status", "dt", "--refresh")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "site dt: healthy" in again.stdout
