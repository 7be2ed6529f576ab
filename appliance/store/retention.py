"""Retention's queries and writes: which runs may lose their events and log, and the small
writer units that remove them and give the space back.

Each unit is short (a few thousand rows or pages), so a live run's event batches, queued on the
same writer, wait at most one unit: retention never holds the write lock for long.
"""

from __future__ import annotations

from typing import Any

from appliance.states import TERMINAL
from appliance.store import Store
from appliance.store.events import host_counts
from appliance.store.models import Run, RunEvent

EVENTS_PER_UNIT = 1_000
PAGES_PER_UNIT = 500


def prunable_runs(keep_per_site: int, finished_before: str, limit: int = 500) -> list[int]:
    """Finished runs not yet pruned, older than ``finished_before`` (ISO, UTC), and not among
    their site's newest ``keep_per_site`` finished runs; oldest first."""
    found: list[int] = []
    for site_id in Run.select(Run.site).distinct().scalars():
        finished = Run.state.in_(TERMINAL) & (Run.site == site_id)
        # the oldest of the runs this site keeps whatever their age
        cut = (
            Run.select(Run.id)
            .where(finished)
            .order_by(Run.id.desc())
            .offset(keep_per_site - 1)
            .limit(1)
            .scalar()
        )
        if cut is None:
            continue
        query = (
            Run.select(Run.id)
            .where(
                finished
                & (Run.id < cut)
                & Run.pruned_at.is_null()
                & Run.finished_at.is_null(False)
                & (Run.finished_at < finished_before)
            )
            .order_by(Run.id)
            .limit(limit - len(found))
        )
        found += [row.id for row in query]
        if len(found) >= limit:
            break
    return sorted(found)


def keep_hosts(store: Store, run_id: int) -> bool:
    """Freeze the run's per-host results on its row and mark it pruned (before its events go,
    in one unit: a reader sees either the events or the kept results, never neither). False if
    the run was pruned already."""

    def write() -> bool:
        run = Run.get_by_id(run_id)
        if run.pruned_at is not None:
            return False
        hosts, partial = host_counts(run_id)
        kept = {"hosts": hosts, "partial": partial}
        Run.update(kept_hosts=kept, pruned_at=store.now()).where(Run.id == run_id).execute()
        return True

    return store.write(write)


def delete_events(store: Store, run_id: int, limit: int = EVENTS_PER_UNIT) -> int:
    """Delete up to ``limit`` events of a pruned run; returns how many went."""

    def write() -> int:
        ids = (
            RunEvent.select(RunEvent.id)
            .where(RunEvent.run == run_id)
            .order_by(RunEvent.id)
            .limit(limit)
        )
        return RunEvent.delete().where(RunEvent.id.in_(ids)).execute()

    return store.write(write)


def free_pages() -> int:
    return Run._meta.database.execute_sql("PRAGMA freelist_count").fetchone()[0]


def incremental_vacuum_enabled() -> bool:
    return Run._meta.database.execute_sql("PRAGMA auto_vacuum").fetchone()[0] == 2


def give_back(store: Store, pages: int = PAGES_PER_UNIT) -> int:
    """Return up to ``pages`` free pages to the file system (incremental vacuum); returns how
    many are still free. Each statement frees one page through Python's sqlite3 (it steps a
    PRAGMA once), so the unit runs it once per page."""

    def write() -> int:
        db = Run._meta.database
        left = db.execute_sql("PRAGMA freelist_count").fetchone()[0]
        for _ in range(min(pages, left)):
            db.execute_sql("PRAGMA incremental_vacuum(1)")
        return db.execute_sql("PRAGMA freelist_count").fetchone()[0]

    return store.write(write)


def history_size() -> dict[str, Any]:
    db = Run._meta.database
    page_size = db.execute_sql("PRAGMA page_size").fetchone()[0]
    pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
    return {
        "runs": Run.select().count(),
        "pruned_runs": Run.select().where(Run.pruned_at.is_null(False)).count(),
        "events": RunEvent.select().count(),
        "database_bytes": page_size * pages,
        "free_bytes": page_size * free_pages(),
    }
