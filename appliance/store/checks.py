"""Checks a step reported as data (pass | warn | fail per host): written when the step ends,
read with the run (``"checks"`` of ``GET /api/runs/<id>``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from appliance.store.models import RunCheck, RunStep


def replace_step_checks(run_id: int, step_id: int, rows: Sequence[dict[str, str]]) -> None:
    """A writer unit: the step's checks are ``rows`` (``host``, ``name``, ``status``,
    ``message``), in order; those of an earlier attempt of the step go."""
    RunCheck.delete().where(RunCheck.step == step_id).execute()
    values = [
        {
            "run": run_id,
            "step": step_id,
            "host": r["host"],
            "name": r["name"],
            "status": r["status"],
            "message": r["message"],
        }
        for r in rows
    ]
    for start in range(0, len(values), 200):
        RunCheck.insert_many(values[start : start + 200]).execute()


def run_checks(run_id: int) -> list[dict[str, Any]]:
    """Every check of the run: step order, then as reported."""
    query = (
        RunCheck.select(RunCheck, RunStep.idx, RunStep.name)
        .join(RunStep)
        .where(RunCheck.run == run_id)
        .order_by(RunStep.idx, RunCheck.id)
    )
    return [
        {
            "step": c.step.idx,
            "step_name": c.step.name,
            "host": c.host,
            "name": c.name,
            "status": c.status,
            "message": c.message,
        }
        for c in query
    ]
