"""Retention: years of history kept in bounds.

A finished run older than ``keep_days`` and beyond its site's newest ``keep_runs_per_site``
finished runs loses its events and its log folder (``runs/<id>/``: output.log, ansible-runner's
private data). It always keeps its summary row, its steps, its per-host results (frozen on the
row before the events go) and its report (rendered before anything it is made from is removed).

Everything goes through the writer in short units (see ``store/retention.py``), so a live run's
events are never held up for long; the freed pages go back to the file system in steps
(incremental vacuum) where the database allows it. The server applies retention in the
background (at start, then hourly); ``appliance prune`` applies it now.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from appliance.clock import iso
from appliance.context import Context
from appliance.jobs.reports.report import write_report
from appliance.store import retention as rows
from appliance.store import runs as run_rows

logger = logging.getLogger(__name__)

INTERVAL = 3600.0  # seconds between background passes


def prune(
    ctx: Context, *, dry_run: bool = False, stop: threading.Event | None = None
) -> dict[str, Any]:
    """One retention pass; returns what it did (or, with ``dry_run``, would do). ``stop`` ends
    it between two runs (or two vacuum steps): what was done stays done."""
    stop = stop or threading.Event()
    keep = ctx.settings.keep_runs_per_site
    days = ctx.settings.keep_days
    before = iso(ctx.clock.now() - timedelta(days=days))
    started = time.monotonic()
    runs = rows.prunable_runs(keep, before, limit=100_000)
    result: dict[str, Any] = {
        "keep_runs_per_site": keep,
        "keep_days": days,
        "runs": runs,
        "dry_run": dry_run,
        "events_deleted": 0,
        "bytes_given_back": 0,
    }
    if dry_run:
        return result
    size_before = rows.history_size()["database_bytes"]
    for run_id in runs:
        if stop.is_set():
            break
        result["events_deleted"] += prune_run(ctx, run_id)
    if rows.incremental_vacuum_enabled():
        while not stop.is_set() and rows.give_back(ctx.store) > 0:
            pass
    result["bytes_given_back"] = max(0, size_before - rows.history_size()["database_bytes"])
    result["seconds"] = round(time.monotonic() - started, 3)
    if runs:
        logger.info(
            "retention pruned %d run(s): %d events, %d bytes given back",
            len(runs),
            result["events_deleted"],
            result["bytes_given_back"],
        )
    return result


def report_path(ctx: Context, run_id: int | str) -> Path:
    """The run's report: rendered now, or for a pruned run the one rendered before its events
    and log went (rendered again only if that file was removed)."""
    run = run_rows.find_run(run_id)
    kept = ctx.paths.reports / f"{run.id}.html"
    if run.pruned_at and kept.is_file():
        return kept
    return write_report(ctx, run.id)


def prune_run(ctx: Context, run_id: int) -> int:
    """Render the report, freeze the per-host results, then remove events and log files."""
    write_report(ctx, run_id)  # first: it is made from the events and the log
    if not rows.keep_hosts(ctx.store, run_id):
        return 0  # pruned already (another process)
    deleted = 0
    while n := rows.delete_events(ctx.store, run_id):
        deleted += n
    shutil.rmtree(ctx.paths.run_dir(run_id), ignore_errors=True)
    return deleted


class Retention:
    """The background pass of a serving appliance: at start, then every ``interval`` seconds."""

    def __init__(self, ctx: Context, interval: float = INTERVAL) -> None:
        self.ctx = ctx
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Retention:
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10.0)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                prune(self.ctx, stop=self._stop)
            except Exception:  # the thread's edge: log it, try again at the next pass
                logger.exception("retention pass failed")
            finally:
                if self.ctx.store.db is not None:
                    self.ctx.store.db.close()  # this thread's reader connection
            self._stop.wait(self.interval)
