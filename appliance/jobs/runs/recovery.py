"""Runs whose owning process is gone: found at start-up (and by a cancel from another process),
their leftover processes killed, then ended with a final log line.

Order matters: whatever is left of the run's process group is killed *before* the run is marked
ended, so a new run on the site can never overlap with Ansible still running from the old one.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.context import Context
from appliance.errors import Conflict
from appliance.jobs.runs import processes
from appliance.jobs.runs.log import RunLog
from appliance.states import TERMINAL, RunState
from appliance.store import runs as rows
from appliance.store.rows import Run

logger = logging.getLogger(__name__)


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_playbook_leader(pid: int) -> bool:
    """The ansible-playbook face ansible-runner started: a session leader running the playbook
    face (``... -m appliance playbook ...`` or an argv[0] named ansible-playbook)."""
    try:
        if os.getsid(pid) != pid:
            return False
    except ProcessLookupError:
        return False
    argv = _cmdline(pid)
    return "playbook" in argv or any(os.path.basename(a) == "ansible-playbook" for a in argv[:2])


def kill_leftovers(data_dir: Path, run: Run) -> list[int]:
    """SIGKILL the process groups still running for ``run``; returns the groups killed."""
    marker = processes.run_marker(data_dir, run.id)
    groups: set[int] = set()
    if run.pgid and processes.group_is_ours(run.pgid, marker):
        groups.add(run.pgid)
    # The owner may have died before it recorded the group: find the run's playbook process by
    # the marker in its environment.
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid not in groups and processes.carries_marker(pid, marker) and _is_playbook_leader(pid):
            groups.add(pid)
    for pgid in groups:
        logger.warning("run %d: killing leftover process group %d", run.id, pgid)
        processes.signal_group(pgid, signal.SIGKILL)
    for pgid in groups:
        processes.wait_group_gone(pgid, time.monotonic() + 5.0)
    return sorted(groups)


def end_orphan(ctx: Context, run: Run, state: RunState, why: str, hint: str) -> bool:
    """Kill what is left of a run whose owner is gone, then end it as ``state``."""
    killed = kill_leftovers(ctx.paths.root, run)
    log = RunLog(ctx.paths.run_log(run.id))
    note = f" (killed leftover process group {', '.join(map(str, killed))})" if killed else ""
    try:
        return rows.finish_run(
            ctx.store,
            run.id,
            state,
            running_steps=str(state),
            error=why,
            hint=hint,
            before=lambda: log.header(f"{state}: {why}{note}"),
        )
    finally:
        log.close()


def recover(ctx: Context, notify: Callable[[dict[str, Any]], None] | None = None) -> list[int]:
    """Runs left queued/running by a process that no longer runs become ``interrupted``."""
    ended = []
    for run in rows.active_runs():
        if processes.is_alive(run.owner_pid, run.owner_start):
            continue  # another live appliance (a CLI `appliance run`) is driving it
        why = (
            f"the appliance process that ran it (pid {run.owner_pid}) stopped before the run ended"
        )
        hint = (
            f"Look at the log (appliance log {run.id}); resume the run (appliance resume "
            f"{run.id}) or start a new one."
        )
        if end_orphan(ctx, run, RunState.INTERRUPTED, why, hint):
            logger.warning("run %d interrupted: owner pid %s is gone", run.id, run.owner_pid)
            ended.append(run.id)
            if notify is not None:
                notify(rows.get_run(run.id))
    return ended


def cancel_run(ctx: Context, run_id: int | str, wait: float = 5.0) -> dict[str, Any]:
    """Cancel a run whichever process owns it: set cancel_requested (the owner's supervisor
    polls it), or end it here when its owner is gone; wait up to ``wait`` s for the end."""
    run = rows.find_run(run_id)
    if run.state in TERMINAL:
        raise Conflict(
            f"run {run.id} has already ended ({run.state})",
            "Only a queued or running run can be cancelled.",
            code="run.ended",
            params={"id": run.id, "state": run.state},
        )
    rows.request_cancel(ctx.store, run.id)
    if not processes.is_alive(run.owner_pid, run.owner_start):
        end_orphan(
            ctx,
            run,
            RunState.CANCELLED,
            f"cancelled; the process that ran it (pid {run.owner_pid}) was gone",
            "Resume the run to continue from the cancelled step, or start a new one.",
        )
        return rows.get_run(run.id)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if rows.find_run(run.id).state in TERMINAL:
            break
        time.sleep(0.05)
    return rows.get_run(run.id)
