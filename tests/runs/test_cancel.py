"""Cancel: a run blocked in a long task ends `cancelled` within 2 s with nothing of it left
running, whether the cancel comes from this process or another one (`appliance cancel`)."""

from __future__ import annotations

import os
import time

import pytest

from appliance.context import Context
from appliance.jobs.runs import processes
from appliance.jobs.runs.manager import RunManager
from appliance.store import runs as rows
from tests.runs.conftest import sleepers
from tests.support.local import poll
from tests.support.processes import run_cli


def blocked_run(ctx: Context, manager: RunManager) -> tuple[int, int, str]:
    """Start slow-platform and wait until its `sleep 600` runs; (run id, pgid, marker)."""
    run = manager.start_run("slow", "slow-platform", "1.0.0")
    marker = processes.run_marker(ctx.paths.root, run["id"])
    poll(lambda: sleepers(marker), 60, "the sleep task to start")
    pgid = poll(lambda: rows.get_run(run["id"])["pgid"], 10, "the recorded process group")
    return run["id"], pgid, marker


def assert_nothing_left(pgid: int, marker: str) -> None:
    assert processes.group_members(pgid) == []
    assert sleepers(marker) == []


@pytest.mark.slow
def test_cancel_stops_the_process_group_within_two_seconds(
    ctx: Context, manager: RunManager, slow_site
) -> None:
    run_id, pgid, marker = blocked_run(ctx, manager)
    leader = rows.get_run(run_id)["pgid"]
    assert os.getsid(leader) == leader  # pexpect made ansible-playbook a session/group leader

    started = time.monotonic()
    run = manager.cancel(run_id)
    elapsed = time.monotonic() - started
    assert run["state"] == "cancelled" and elapsed < 2.0, (run["state"], elapsed)
    assert_nothing_left(pgid, marker)
    assert [(s["name"], s["state"]) for s in run["steps"]] == [
        ("preflight", "succeeded"),
        ("sleeper", "cancelled"),
        ("verify", "pending"),
    ]
    assert "cancelled at step [2/3] component sleeper" in run["error"]
    assert not (slow_site.root / "sleeper.done").exists()
    log = ctx.paths.run_log(run_id).read_text()
    assert "TASK [Sleep 600 seconds]" in log and f"=== run {run_id} cancelled" in log


@pytest.mark.slow
def test_cancel_from_another_process(ctx: Context, manager: RunManager, slow_site) -> None:
    run_id, pgid, marker = blocked_run(ctx, manager)
    started = time.monotonic()
    proc = run_cli(ctx.paths.root, "cancel", str(run_id), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"run {run_id} cancelled"
    # the other process only set cancel_requested; this process's supervisor stopped the run
    assert time.monotonic() - started < 10  # includes the CLI's own start-up
    assert manager.wait(run_id, 5)["state"] == "cancelled"
    assert_nothing_left(pgid, marker)

    again = run_cli(ctx.paths.root, "cancel", str(run_id), timeout=60)
    assert again.returncode == 2 and "has already ended (cancelled)" in again.stderr


@pytest.mark.slow
def test_stop_interrupts_and_a_cancelled_run_resumes(
    ctx: Context, manager: RunManager, slow_site
) -> None:
    run_id, pgid, marker = blocked_run(ctx, manager)
    run = manager.cancel(run_id)
    assert run["state"] == "cancelled"
    preflight = run["steps"][0]

    # resume: same id, from the cancelled step; the succeeded preflight is kept
    resumed = manager.resume(run_id)
    assert (resumed["id"], resumed["state"]) == (run_id, "running")
    assert resumed["cancel_requested"] is False and resumed["error"] is None
    poll(lambda: sleepers(marker), 60, "the resumed sleep task")
    pgid = poll(lambda: rows.get_run(run_id)["pgid"], 10, "the new process group")
    assert rows.get_run(run_id)["steps"][0] == preflight

    # shutting the manager down interrupts the runs of this process
    manager.stop()
    run = rows.get_run(run_id)
    assert run["state"] == "interrupted" and "the appliance was shut down" in run["error"]
    assert [s["state"] for s in run["steps"]] == ["succeeded", "interrupted", "pending"]
    assert_nothing_left(pgid, marker)
    log = ctx.paths.run_log(run_id).read_text()
    assert log.count("=== [2/3] component sleeper") == 2
    assert "=== resumed (from step 2/3) ===" in log
    assert log.rstrip().endswith("===") and f"run {run_id} interrupted" in log.splitlines()[-1]
