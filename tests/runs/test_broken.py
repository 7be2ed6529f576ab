"""The broken 1.2.0 fixture: a run fails at the app step; rollback restores 1.1.0; a failed run
resumes from its failed step once the cause is fixed."""

from __future__ import annotations

import pytest

from appliance.context import Context
from appliance.errors import Conflict
from appliance.jobs.runs.manager import RunManager
from appliance.store import sites
from tests.runs.conftest import LocalSite


def versions(site: str) -> dict[str, tuple[str, str]]:
    return {
        c: (v["version"], v["bundle_version"]) for c, v in sites.get_site(site)["installed"].items()
    }


V110 = {"db": ("2", "1.1.0"), "config": ("1.0.0", "1.1.0"), "app": ("1.1.0", "1.1.0")}


@pytest.mark.slow
def test_failed_upgrade_rolls_back_and_a_fixed_run_resumes(
    ctx: Context, manager: RunManager, local_site: LocalSite, import_bundle
) -> None:
    for ref in ("demo-platform@1.1.0", "demo-platform@1.2.0"):
        import_bundle(ref)
    done = manager.wait(manager.start_run("lab", "demo-platform", "1.1.0")["id"], 240)
    assert done["state"] == "succeeded", done["error"]

    # 1.2.0 fails at the app step; verify never runs; the error and the log say why
    failed = manager.wait(manager.start_run("lab", "demo-platform", "1.2.0")["id"], 240)
    assert failed["state"] == "failed"
    assert [(s["name"], s["state"]) for s in failed["steps"]] == [
        ("preflight", "succeeded"),
        ("backup", "succeeded"),
        ("db", "succeeded"),
        ("app", "failed"),
        ("verify", "pending"),
    ]
    assert failed["steps"][3]["rc"] != 0 and failed["steps"][4]["started_at"] is None
    flag = local_site.root / "etc" / "feature.flag"
    assert "at step [4/5] component app 1.1.0 -> 1.2.0" in failed["error"]
    assert f"missing {flag}" in failed["error"]
    assert "resume" in failed["hint"]
    log = ctx.paths.run_log(failed["id"]).read_text()
    assert f"app 1.2.0 refuses to start: missing {flag} (create it to fix)" in log
    assert "=== [5/5] verify" not in log
    assert failed["hosts"]["local"]["failed"] == 1
    assert versions("lab") == V110  # nothing recorded for a failed run
    assert not local_site.answers()  # the old app was stopped before the failure

    # rollback (default: the backup of the latest run that took one) brings 1.1.0 back
    rollback = manager.start_run("lab", "demo-platform", "1.2.0", "rollback")
    assert rollback["backup_run"] == failed["id"]
    assert [s["name"] for s in rollback["plan"]] == ["rollback"]
    rollback = manager.wait(rollback["id"], 240)
    assert rollback["state"] == "succeeded", rollback["error"]
    assert (local_site.health()["version"], local_site.health()["schema"]) == ("1.1.0", 2)
    assert versions("lab") == V110

    # the failed run cannot resume over the rollback: the site changed since
    with pytest.raises(Conflict, match="cannot resume"):
        manager.resume(failed["id"])

    # again, fail; fix the cause; resume: the same run goes on from the failed step
    again = manager.wait(manager.start_run("lab", "demo-platform", "1.2.0")["id"], 240)
    assert again["state"] == "failed" and again["steps"][3]["state"] == "failed"
    kept = {s["idx"]: s["started_at"] for s in again["steps"][:3]}
    flag.touch()
    resumed = manager.resume(again["id"])
    assert resumed["id"] == again["id"] and resumed["state"] == "running"
    resumed = manager.wait(again["id"], 240)
    assert resumed["state"] == "succeeded", resumed["error"]
    assert resumed["error"] is None
    assert {s["idx"]: s["started_at"] for s in resumed["steps"][:3]} == kept  # not re-run
    assert [s["state"] for s in resumed["steps"]] == ["succeeded"] * 5
    assert (local_site.health()["version"], local_site.health()["schema"]) == ("1.2.0", 3)
    assert versions("lab") == {
        "db": ("3", "1.2.0"),
        "config": ("1.0.0", "1.2.0"),
        "app": ("1.2.0", "1.2.0"),
    }
    log = ctx.paths.run_log(again["id"]).read_text()
    after = log.split("=== resumed (from step 4/5) ===", 1)[1]
    assert "=== [4/5] component app" in after and "=== [3/5]" not in after
