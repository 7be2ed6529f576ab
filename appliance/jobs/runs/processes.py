"""Processes of runs on Linux, through /proc: who owns a run, which processes belong to it, and
killing them as a group.

A pid alone is not an identity (pids get reused), so an owner is recorded as pid plus
``<boot id>:<start time in clock ticks>`` from /proc/<pid>/stat. Every process of a run carries
``APPLIANCE_RUN=<marker>`` in its environment (set in the step's envvars, inherited by Ansible's
workers and modules): a process group is only killed when one of its members carries the run's
marker, so a recycled process group id never takes a stranger down with it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from pathlib import Path

logger = logging.getLogger(__name__)

PROC = Path("/proc")
MARKER_VAR = "APPLIANCE_RUN"


def _boot_id() -> str:
    try:
        return (PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown-boot"


def process_identity(pid: int) -> str | None:
    """``<boot id>:<start ticks>`` of a live process, None if there is no such process.

    A zombie (killed, not yet reaped: a container's first process may never reap) is not live.
    """
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return f"{_boot_id()}:{fields[19]}"  # field 22 of the whole line: starttime


def is_alive(pid: int | None, identity: str | None) -> bool:
    """Is the process that recorded (pid, identity) still running (and not a reused pid)?"""
    if not pid:
        return False
    found = process_identity(pid)
    if found is None:
        return False
    return identity is None or found == identity


def run_marker(data_dir: Path, run_id: int) -> str:
    """The value of APPLIANCE_RUN for a run: distinct across data folders and runs."""
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
    return f"{digest}:{run_id}"


def thread_children() -> list[int]:
    """Children forked by the calling thread (Linux 3.5+: /proc/self/task/<tid>/children)."""
    path = PROC / "self" / "task" / str(threading.get_native_id()) / "children"
    try:
        return [int(p) for p in path.read_text().split()]
    except (OSError, ValueError):
        return []


def parent_of(pid: int) -> int | None:
    """The parent pid of a live process (None once it is gone)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in PROC.glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def carries_marker(pid: int, marker: str) -> bool:
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return f"{MARKER_VAR}={marker}".encode() in environ.split(b"\0")


def group_is_ours(pgid: int, marker: str) -> bool:
    return any(carries_marker(pid, marker) for pid in group_members(pgid))


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False if the group no longer exists. Never our own
    group (a pgid taken from a process that was not the playbook's leader would stop the
    appliance, and whatever started it: a test session, a service manager's unit)."""
    if pgid <= 1 or pgid == os.getpgrp():
        logger.error("refusing to signal process group %d: it is the appliance's own", pgid)
        return False
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        logger.warning("not allowed to signal process group %d", pgid)
        return False
    return True


def wait_group_gone(pgid: int, deadline: float) -> bool:
    """Poll until no live process is left in the group or the monotonic deadline passes."""
    while True:
        if not group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
