"""How runs relate: which rollback runs restored the backup a run took (the run screen and
History link both ways; a rollback names its run in ``backup_run``)."""

from __future__ import annotations

from collections.abc import Iterable

from appliance.store.models import Run


def rolled_back_by(run_ids: Iterable[int]) -> dict[int, list[int]]:
    """For each of ``run_ids`` that a rollback undid: the rollback runs, oldest first."""
    ids = sorted(set(run_ids))
    found: dict[int, list[int]] = {}
    for start in range(0, len(ids), 500):  # SQLite's bound on a statement's variables
        query = (
            Run.select(Run.id, Run.backup_run_id)
            .where((Run.action == "rollback") & Run.backup_run_id.in_(ids[start : start + 500]))
            .order_by(Run.id)
        )
        for row in query:
            found.setdefault(row.backup_run_id, []).append(row.id)
    return found
