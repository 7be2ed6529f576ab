"""A site's status: every installed component's status playbook, run now (``refresh``), or the
last result (``current``). Not a run: no site lock and no history, refused while a run is
active; the output of the last refresh is the site's status log."""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from appliance.context import Context
from appliance.errors import Conflict, NotFound, Unprocessable
from appliance.jobs.ansible.customstats import host_records
from appliance.jobs.daytwo.targets import (
    Shared,
    Target,
    extravars,
    shared,
    status_targets,
    step_env,
    view_of,
)
from appliance.jobs.runs.log import RunLog
from appliance.jobs.runs.runner import StepOutcome, StepSpec, run_step
from appliance.store import daytwo as rows
from appliance.store import sites
from appliance.store.rows import Site

logger = logging.getLogger(__name__)

STATS_KEY = "appliance_status"
HOST_STATES = ("running", "stopped", "degraded", "unreachable", "unknown")
OVERALL = ("healthy", "degraded", "down", "unknown")
DEADLINE_FACTOR = 4  # a status playbook is stopped after this many per-host timeouts
WAIT_FOR_OTHER = 300.0  # seconds a refresh waits for another refresh of the same site

_locks: dict[int, threading.Lock] = {}
_locks_lock = threading.Lock()


def status_dir(ctx: Context, site_id: int) -> Path:
    return ctx.paths.root / "status" / str(site_id)


def status_log(ctx: Context, site_ref: int | str) -> Path:
    """The output of the site's last status refresh (NotFound before the first one)."""
    site = sites.find_site(site_ref)
    path = status_dir(ctx, site.id) / "status.log"
    if not path.is_file():
        raise NotFound(
            f"site {site.name} has no status log yet",
            "Refresh the status first (POST /api/sites/<site>/status).",
        )
    return path


def current(site_ref: int | str) -> dict[str, Any]:
    """The last status of a site (never checked: overall unknown, no components)."""
    site = sites.find_site(site_ref)
    found = rows.last_status(site.id)
    result = found or {"checked_at": None, "overall": "unknown", "components": []}
    return {**result, "site": site.name, "attention": rows.attention(site.id)}


def refuse_busy(site: Site) -> None:
    busy = rows.active_run_id(site.id)
    if busy is not None:
        raise Conflict(
            f"run {busy} is active on site {site.name}; status is not refreshed during a run",
            f"Wait for run {busy} to end: the status is refreshed when it does.",
        )


def refresh(
    ctx: Context, site_ref: int | str, stop: threading.Event | None = None
) -> dict[str, Any]:
    """Run every status playbook of the site now; store and return the result."""
    site = sites.find_site(site_ref)
    refuse_busy(site)
    targets = status_targets(site.id)
    if not targets:
        raise Unprocessable(
            f"no component installed on site {site.name} declares a status playbook",
            "Install a bundle whose components declare `status` (docs/bundle-format.md).",
        )
    timeout = int(ctx.settings.status_timeout_seconds)
    work = shared(ctx, site, timeout)  # a locked credentials key stops here (423)
    with _site_lock(site.id):
        refuse_busy(site)
        started = ctx.store.now()
        folder = status_dir(ctx, site.id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with ThreadPoolExecutor(max_workers=min(4, len(targets))) as pool:
            outcomes = list(
                pool.map(lambda t: _run_target(ctx, site, t, work, timeout, folder, stop), targets)
            )
        _assemble_log(folder, site, targets, started)
        components = [
            _component(t, o, when or ctx.store.now(), work.hosts)
            for t, (o, when) in zip(targets, outcomes, strict=True)
        ]
        result = {
            "site": site.name,
            "checked_at": ctx.store.now(),
            "overall": overall(components),
            "components": components,
        }
        rows.save_status(ctx.store, site.id, result)
    return {**result, "attention": rows.attention(site.id)}


class _site_lock:
    def __init__(self, site_id: int) -> None:
        with _locks_lock:
            self.lock = _locks.setdefault(site_id, threading.Lock())

    def __enter__(self) -> None:
        if not self.lock.acquire(timeout=WAIT_FOR_OTHER):
            raise Conflict(
                "another status refresh of this site is still running",
                "Wait for it and read the result (GET /api/sites/<site>/status).",
            )

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def _run_target(
    ctx: Context,
    site: Site,
    target: Target,
    work: Shared,
    timeout: int,
    folder: Path,
    stop: threading.Event | None,
) -> tuple[StepOutcome | None, str | None]:
    """The target's step, and when it ended."""
    part = folder / "parts" / f"{target.component}.log"
    part.parent.mkdir(parents=True, exist_ok=True)
    part.unlink(missing_ok=True)
    if target.playbook is None or target.bundle is None or target.manifest is None:
        return None, None
    view = view_of(ctx, target.bundle)
    spec = StepSpec(
        private_dir=folder / "private" / target.component,
        project=view,
        playbook=target.playbook,
        inventory=work.inventory,
        envvars=step_env(ctx, site, view, timeout, work.known_hosts),
        extravars=extravars(ctx, site, target.manifest),
        secrets=work.secrets,
    )
    deadline = time.monotonic() + DEADLINE_FACTOR * timeout + 10
    with RunLog(part, redact=work.secrets.redact or None) as log:
        log.header(f"status of {target.component} ({target.playbook})")
        outcome = run_step(
            spec,
            log,
            on_event=lambda event: None,
            should_cancel=lambda: time.monotonic() > deadline or bool(stop and stop.is_set()),
            on_process=lambda pid, pgid: None,
        )
        if outcome.status == "cancelled":
            log.line(f"appliance: stopped after {DEADLINE_FACTOR * timeout + 10}s")
    return outcome, ctx.store.now()


def _assemble_log(folder: Path, site: Site, targets: list[Target], started: str) -> None:
    tmp = folder / ".status.log.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(f"=== status of site {site.name}, {started} ===\n")
        for target in targets:
            part = folder / "parts" / f"{target.component}.log"
            if part.is_file():
                out.write(part.read_text(encoding="utf-8", errors="replace"))
            elif target.problem:
                out.write(f"=== status of {target.component}: {target.problem} ===\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, folder / "status.log")


def _component(
    target: Target, outcome: StepOutcome | None, checked_at: str, hosts: list[str]
) -> dict[str, Any]:
    records = host_records(outcome.custom, STATS_KEY) if outcome is not None else {}
    stats = (outcome.stats if outcome is not None else None) or {}
    out = []
    for host in hosts:
        found = records.get(host)
        record = found[0] if found else {}
        state = record.get("state") if record.get("state") in HOST_STATES else "unknown"
        version = record.get("version") or None
        detail = record.get("detail", "")
        if not record:
            detail = _silent_reason(target, outcome, stats.get(host) or {})
            if (stats.get(host) or {}).get("unreachable"):
                state = "unreachable"
        if version and version != target.installed_version:
            drift = (
                f"recorded {target.component} {target.installed_version}, host reports {version}"
            )
            state = "degraded" if state == "running" else state
            detail = f"{drift}; {detail}" if detail else drift
        out.append(
            {
                "host": host,
                "state": state,
                "version": version,
                "detail": detail,
                "checked_at": checked_at,
            }
        )
    return {
        "component": target.component,
        "installed_version": target.installed_version,
        "hosts": out,
    }


def _silent_reason(target: Target, outcome: StepOutcome | None, counts: dict[str, int]) -> str:
    if outcome is None:
        return target.problem or "nothing to run"
    if counts.get("unreachable"):
        return outcome.failure or "unreachable"
    if outcome.status == "cancelled":
        return "the status playbook did not finish in time"
    if outcome.failure:
        return outcome.failure
    return "the status playbook reported nothing for this host"


def overall(components: list[dict[str, Any]]) -> str:
    """healthy: every host running at the recorded version; down: none running; unknown:
    nothing known; else degraded."""
    states = [h["state"] for c in components for h in c["hosts"]]
    if not states or all(s == "unknown" for s in states):
        return "unknown"
    if all(s == "running" for s in states):
        return "healthy"
    if not any(s in ("running", "degraded") for s in states):
        return "down"
    return "degraded"
