"""SIGKILL of the appliance during a run: after a restart the run is `interrupted`, its log is
intact and nothing of it is left running (recovery killed the orphaned process group)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.jobs.runs import processes
from tests.runs.conftest import free_port, kill_everything_under, site_spec, sleepers
from tests.support.local import poll
from tests.support.processes import ServerProcess


@pytest.mark.slow
def test_killed_appliance_leaves_an_interrupted_run(
    tmp_path: Path, built_bundles: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    root = tmp_path / "root"
    server = ServerProcess(data)
    try:
        api = server.api
        archive = built_bundles["slow-platform@1.0.0"].read_bytes()
        assert (
            api.post(
                "/api/bundles", raw=archive, headers={"Content-Type": "application/octet-stream"}
            ).status
            == 201
        )
        assert api.post("/api/sites", site_spec("slow", root, free_port())).status == 201
        reply = api.post(
            "/api/runs", {"site": "slow", "bundle": "slow-platform", "version": "1.0.0"}
        )
        assert reply.status == 201, reply.body
        run_id = reply.json()["id"]
        marker = processes.run_marker(data, run_id)
        poll(lambda: sleepers(marker), 60, "the sleep task")
        pgid = poll(lambda: api.get(f"/api/runs/{run_id}").json()["pgid"], 10, "the pgid")
        owner = server.proc.pid
    finally:
        server.kill()  # SIGKILL: no shutdown code runs

    # the appliance is gone, its Ansible is not (pexpect put it in its own session)
    assert not processes.is_alive(owner, None)
    assert processes.group_members(pgid) and sleepers(marker)
    log_before = (data / "runs" / str(run_id) / "output.log").read_bytes()
    assert b"TASK [Sleep 600 seconds]" in log_before

    server = ServerProcess(data)
    try:
        run = server.api.get(f"/api/runs/{run_id}").json()
        assert run["state"] == "interrupted"
        assert f"(pid {owner}) stopped" in run["error"]
        assert [s["state"] for s in run["steps"]] == ["succeeded", "interrupted", "pending"]
        assert processes.group_members(pgid) == [] and sleepers(marker) == []
        log_after = (data / "runs" / str(run_id) / "output.log").read_bytes()
        assert log_after.startswith(log_before)  # intact: only a final line appended
        assert log_after[len(log_before) :].decode().startswith("=== interrupted: ")
        assert f"killed leftover process group {pgid}" in log_after.decode()
        # and the site is free again: a new run starts (and is cancelled at once)
        again = server.api.post(
            "/api/runs", {"site": "slow", "bundle": "slow-platform", "version": "1.0.0"}
        )
        assert again.status == 201, again.body
        cancelled = server.api.post(f"/api/runs/{again.json()['id']}/cancel").json()
        assert cancelled["state"] == "cancelled"
    finally:
        server.terminate()
        kill_everything_under(root)
