"""`appliance run | runs | log | cancel`: in this process through main(argv, env), and
`appliance run` as a real process for Ctrl+C."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from appliance.jobs.runs import processes
from tests.runs.conftest import kill_everything_under, sleepers
from tests.support.cli import run_cli
from tests.support.local import poll
from tests.support.processes import REPO, appliance_cmd, child_env


def cli_ok(data: Path, *args: str) -> str:
    proc = run_cli(data, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def read_run(data: Path, run_id: int) -> dict | None:
    con = sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True, timeout=10)
    try:
        con.row_factory = sqlite3.Row
        row = con.execute("SELECT * FROM run WHERE id = ?", (run_id,)).fetchone()
        return dict(row) if row else None
    finally:
        con.close()


@pytest.fixture
def cli_site(tmp_path: Path, data_dir: Path, built_bundles: dict[str, Path]):
    root = tmp_path / "root"
    cli_ok(data_dir, "bundle", "import", str(built_bundles["slow-platform@1.0.0"]))
    for name, seconds in (("quick", "1"), ("slow", "600")):
        cli_ok(
            data_dir,
            "site",
            "add",
            name,
            "--host",
            "local=localhost",
            "--var",
            f"install_root={root / name}",
            "--var",
            f"slow_seconds={seconds}",
        )
    yield root
    kill_everything_under(root)


@pytest.mark.slow
def test_run_follows_the_log_and_lists(data_dir: Path, cli_site: Path) -> None:
    plan = cli_ok(data_dir, "run", "quick", "slow-platform@1.0.0", "--plan")
    assert "install slow-platform 1.0.0 on site quick (installed: nothing)" in plan
    assert "  2. sleeper none -> 1.0.0 (playbooks/sleeper.yml)" in plan

    out = cli_ok(data_dir, "run", "quick", "slow-platform@1.0.0")
    assert "=== [2/3] component sleeper none -> 1.0.0 (playbooks/sleeper.yml) ===" in out
    assert "TASK [Sleep 1 seconds]" in out and "=== run 1 succeeded" in out
    assert "\x1b[" not in out  # stdout is not a TTY: colours stripped
    assert (cli_site / "quick" / "sleeper.done").is_file()

    runs = json.loads(cli_ok(data_dir, "runs", "--json"))
    assert [(r["id"], r["state"], r["site"]) for r in runs] == [(1, "succeeded", "quick")]
    assert "succeeded" in cli_ok(data_dir, "runs", "--site", "quick", "--state", "succeeded")
    assert cli_ok(data_dir, "log", "1") == out
    assert cli_ok(data_dir, "log", "1", "--follow") == out  # ends: the run is terminal

    again = run_cli(data_dir, "run", "quick", "slow-platform@1.0.0")
    assert again.returncode == 2 and "already at 1.0.0" in again.stderr
    bad = run_cli(data_dir, "run", "quick", "slow-platform")
    assert bad.returncode == 2 and "BUNDLE@VERSION" in bad.stderr and "hint" in bad.stderr


@pytest.mark.slow
def test_ctrl_c_and_appliance_cancel_from_another_process(data_dir: Path, cli_site: Path) -> None:
    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*appliance_cmd(), "run", "slow", "slow-platform@1.0.0"],
            env=child_env(data_dir),
            cwd=str(REPO),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def blocked(run_id: int) -> int:
        marker = processes.run_marker(data_dir, run_id)
        poll(lambda: sleepers(marker), 60, f"run {run_id}'s sleep task")
        return poll(lambda: (read_run(data_dir, run_id) or {}).get("pgid"), 10, "pgid")

    # Ctrl+C on `appliance run` cancels the run
    proc = start()
    try:
        pgid = blocked(1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert "cancelling run 1" in err and "run 1 cancelled" in err
    assert read_run(data_dir, 1)["state"] == "cancelled"
    assert processes.group_members(pgid) == []

    # `appliance cancel` in another process stops a run owned by an `appliance run` process
    proc = start()
    try:
        pgid = blocked(2)
        cancel = run_cli(data_dir, "cancel", "2")
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert cancel.returncode == 0 and cancel.stdout.strip() == "run 2 cancelled", cancel.stderr
    assert proc.returncode == 1 and "=== run 2 cancelled" in out
    assert processes.group_members(pgid) == []
    assert sleepers(processes.run_marker(data_dir, 2)) == []
