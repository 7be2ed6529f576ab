"""The README's two set-up commands stay true: they exist, CI runs the test one, and `make run`
really starts the appliance (headless here: no display) and prints its URL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert first_block and text.index("```") < 1200, "README must open with its commands"
    return [
        line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()
    ]


def test_readme_opens_with_run_and_test_commands() -> None:
    assert readme_commands() == ["make run", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    makefile = (REPO / "Makefile").read_text()
    for target in ("run", "test"):
        assert re.search(rf"^{target}: setup$", makefile, re.M), target
    assert "bash scripts/setup.sh" in makefile


@pytest.mark.slow
def test_make_run_starts_the_appliance_headless(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["APPLIANCE_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = ""
    try:
        deadline = time.monotonic() + 300
        while "?token=" not in output:
            assert proc.poll() is None, output
            assert time.monotonic() < deadline, output
            output += proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", output)
        assert url, output
        import urllib.request

        port = url.group(0).split(":")[2].split("/")[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as r:
            assert r.status == 200
        appliance_pid = json.loads((tmp_path / "data" / "server.json").read_text())["pid"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    # make exits at once on SIGTERM; the appliance (its child) shuts down cleanly on its own
    deadline = time.monotonic() + 60
    while Path(f"/proc/{appliance_pid}").exists():
        assert time.monotonic() < deadline, "the appliance did not stop on SIGTERM"
        time.sleep(0.05)
    assert not (tmp_path / "data" / "server.json").exists()
