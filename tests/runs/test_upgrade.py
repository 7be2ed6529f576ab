"""Install demo-platform 1.0.0 on an empty site, upgrade it to 1.1.0: real Ansible on localhost.
The finished steps' private_data_dirs re-run unchanged with plain ``ansible-runner run``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.context import Context
from appliance.jobs.runs.manager import RunManager
from appliance.store import runs as rows
from appliance.store import sites
from appliance.store.events import list_events
from tests.runs.conftest import LocalSite

ANSIBLE_RUNNER = Path(sys.executable).parent / "ansible-runner"


@pytest.mark.slow
def test_install_then_upgrade_keeps_data_and_records_versions(
    ctx: Context, manager: RunManager, local_site: LocalSite, import_bundle
) -> None:
    import_bundle("demo-platform@1.0.0")
    import_bundle("demo-platform@1.1.0")

    first = manager.start_run("lab", "demo-platform", "1.0.0")
    assert (first["action"], first["state"] in ("queued", "running")) == ("install", True)
    assert [s["name"] for s in first["plan"]] == ["preflight", "db", "config", "app", "verify"]
    done = manager.wait(first["id"], 240)
    assert done["state"] == "succeeded", done["error"]
    assert local_site.health()["version"] == "1.0.0"
    installed = sites.get_site("lab")["installed"]
    assert {c: v["version"] for c, v in installed.items()} == {
        "db": "1",
        "config": "1.0.0",
        "app": "1.0.0",
    }
    assert installed["app"]["run"] == first["id"]

    # data created under 1.0.0
    con = sqlite3.connect(local_site.root / "data" / "demo.db")
    with con:
        con.execute("INSERT INTO items (name) VALUES ('widget')")
    con.close()

    plan = manager.start_run("lab", "demo-platform", "1.1.0", dry_run=True)
    assert plan["id"] is None and rows.list_runs() and len(rows.list_runs()) == 1  # not stored
    second = manager.start_run("lab", "demo-platform", "1.1.0")
    assert second["action"] == "upgrade"
    steps = [(s["name"], s["from_version"], s["to_version"]) for s in second["plan"]]
    assert steps == [
        ("preflight", None, None),
        ("backup", None, None),
        ("db", "1", "2"),
        ("app", "1.0.0", "1.1.0"),
        ("verify", None, None),
    ]  # config unchanged
    done = manager.wait(second["id"], 240)
    assert done["state"] == "succeeded", done["error"]
    assert [s["state"] for s in done["steps"]] == ["succeeded"] * 5
    assert all(s["rc"] == 0 for s in done["steps"])

    health = local_site.health()
    assert (health["version"], health["schema"]) == ("1.1.0", 2)
    assert local_site.get("/items")[1]["items"] == [{"id": 1, "name": "widget", "quantity": 1}]
    installed = sites.get_site("lab")["installed"]
    assert {c: (v["version"], v["bundle_version"], v["run"]) for c, v in installed.items()} == {
        "db": ("2", "1.1.0", second["id"]),
        "config": ("1.0.0", "1.1.0", second["id"]),
        "app": ("1.1.0", "1.1.0", second["id"]),
    }
    backup = ctx.paths.backups / "lab" / str(second["id"])
    assert (backup / "app_version").read_text().strip() == "1.0.0"

    # the log: a header per step, colours kept, the end decided by state (a last line anyway)
    log = ctx.paths.run_log(second["id"]).read_text()
    assert "=== [4/5] component app 1.0.0 -> 1.1.0 (playbooks/app.yml) ===" in log
    assert "\x1b[" in log
    assert log.rstrip().endswith("===") and f"run {second['id']} succeeded" in log
    # every event stored, with the fields the UI needs
    events = list_events(second["id"], limit=100_000)
    assert events[-1]["event"] == "playbook_on_stats"
    ok = [e for e in events if e["event"] == "runner_on_ok"]
    assert ok and all(e["host"] == "local" and e["task"] and e["duration"] is not None for e in ok)
    assert {e["step"] for e in events} == {1, 2, 3, 4, 5}
    counters = [e["counter"] for e in events if e["step"] == 4]
    assert counters == sorted(counters) and counters[0] == 1
    assert done["hosts"]["local"]["failed"] == 0 and done["hosts"]["local"]["changed"] > 0

    # scale-out: a finished step's private_data_dir re-runs unchanged with plain ansible-runner
    private = ctx.paths.run_dir(second["id"]) / "private" / "5-verify"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "APPLIANCE_"))}
    proc = subprocess.run(
        [str(ANSIBLE_RUNNER), "run", str(private), "-p", "playbooks/verify.yml"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "app 1.1.0 healthy on schema 2" in proc.stdout
    assert len(list((private / "artifacts").iterdir())) == 2  # ours and the plain re-run
