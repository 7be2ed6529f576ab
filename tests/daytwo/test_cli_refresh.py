"""The command line refreshes a site's status after the runs it follows, as a serving
appliance does after every run (issue 15: "refreshed after every run")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.runs.conftest import LocalSite
from tests.support.processes import run_cli


@pytest.mark.slow
def test_appliance_run_refreshes_the_status(
    local_site: LocalSite, import_bundle, data_dir: Path
) -> None:
    import_bundle("demo-platform@1.0.0")
    never = json.loads(run_cli(data_dir, "site", "status", "lab", "--json").stdout)
    assert never["checked_at"] is None

    done = run_cli(data_dir, "run", "lab", "demo-platform@1.0.0", timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "site lab status: healthy" in done.stdout

    # kept: without --refresh the command shows what the run's refresh found
    shown = run_cli(data_dir, "site", "status", "lab", "--json")
    status = json.loads(shown.stdout)
    assert shown.returncode == 0 and status["overall"] == "healthy", status
    assert status["checked_at"] is not None
    assert {c["component"] for c in status["components"]} == {"db", "app"}
