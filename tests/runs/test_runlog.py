"""The run log (append-only, whole writes) and the CLI's follower (ends by state, not marker)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

from appliance.cli.runs import LogCopy
from appliance.jobs.runs import processes
from appliance.jobs.runs.log import RunLog
from tests.support.local import poll, proc_state


def test_runlog_appends_whole_writes(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "1" / "output.log"
    with RunLog(path) as log:
        log.header("[1/2] preflight (playbooks/preflight.yml)")
        log.write("\x1b[0;32mok: [local]\x1b[0m\n")
    with RunLog(path) as log:  # a second writer (a resume, a recovery) appends
        log.line("=== resumed ===")
    assert path.read_text() == (
        "=== [1/2] preflight (playbooks/preflight.yml) ===\n"
        "\x1b[0;32mok: [local]\x1b[0m\n=== resumed ===\n"
    )
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_follow_strips_colours_and_ends_when_the_run_is_terminal(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    log = RunLog(path)
    log.write("\x1b[0;33mchanged: [local]\x1b[0m\n=== run 1 succeeded ===\n")  # no magic line
    done = threading.Event()
    out = io.BytesIO()

    def later() -> None:
        log.write("more after the marker-looking line\n")
        log.write("partial line without newline")
        done.set()

    copy = LogCopy(path, out, strip=True)
    follower = threading.Thread(
        target=copy.copy, args=(lambda: "succeeded" if done.is_set() else "running",)
    )
    follower.start()
    later()
    follower.join(10)
    assert not follower.is_alive()
    assert out.getvalue() == (
        b"changed: [local]\n=== run 1 succeeded ===\n"
        b"more after the marker-looking line\npartial line without newline"
    )
    log.close()


def test_process_identity_tells_reused_pids_apart() -> None:
    me = processes.process_identity(os.getpid())
    assert me and processes.is_alive(os.getpid(), me)
    assert not processes.is_alive(os.getpid(), me.split(":")[0] + ":1")  # another start time
    assert not processes.is_alive(None, None)
    assert processes.run_marker(Path("/a"), 3) != processes.run_marker(Path("/b"), 3)


def test_a_zombie_is_not_alive() -> None:
    """An owner killed and never reaped (its parent does not wait) is gone, not running."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    identity = processes.process_identity(child.pid)  # alive until its stdin closes
    assert identity is not None
    assert child.stdin is not None
    child.stdin.close()
    # not waited for: it stays a zombie once it exits
    poll(lambda: proc_state(child.pid) == "Z", 10, "the child exited")
    assert processes.process_identity(child.pid) is None
    assert not processes.is_alive(child.pid, identity)
    child.wait()
