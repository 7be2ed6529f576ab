"""A run's Ansible events: the batched insert, the per-host counts and the one serializer
(``GET /api/runs/<id>/events``, the report and the stream all read events through
:func:`list_events`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from peewee import JOIN, fn

from appliance.store.models import RunEvent, RunStep

TASK_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped")

_EVENT_FIELDS = (
    RunEvent.id,
    RunStep.idx.alias("step"),  # the step's position in the run, as in GET /api/runs/<id>
    RunEvent.counter,
    RunEvent.event,
    RunEvent.host,
    RunEvent.task,
    RunEvent.status,
    RunEvent.changed,
    RunEvent.duration,
    RunEvent.stdout,
    RunEvent.created_at,
)


def insert_events(batch: Sequence[dict[str, Any]]) -> None:
    """A writer unit (queued with ``store.fire``): Ansible events in order, one INSERT per 200
    (far below SQLite's bound-variable limit)."""
    for start in range(0, len(batch), 200):
        RunEvent.insert_many(batch[start : start + 200]).execute()


def host_counts(run_id: int) -> dict[str, dict[str, int]]:
    """Per host: ok, changed, failed, unreachable, skipped task results over the whole run."""
    hosts: dict[str, dict[str, int]] = {}
    query = (
        RunEvent.select(
            RunEvent.host, RunEvent.status, RunEvent.changed, fn.COUNT(RunEvent.id).alias("n")
        )
        .where(
            (RunEvent.run == run_id)
            & RunEvent.event.in_(TASK_EVENTS)
            & RunEvent.host.is_null(False)
        )
        .group_by(RunEvent.host, RunEvent.status, RunEvent.changed)
        .tuples()
    )
    for host, status, changed, n in query:
        counts = hosts.setdefault(
            host, dict.fromkeys(("ok", "changed", "failed", "unreachable", "skipped"), 0)
        )
        if status in ("ok", "ignored"):
            counts["ok"] += n
        elif status in counts:
            counts[status] += n
        if changed:
            counts["changed"] += n
    return hosts


def list_events(run_id: int, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    """Events of a run after the cursor ``after`` (an event's ``seq``), oldest first, in the shape
    of docs/api.md (``id`` as ``seq``, the step as its position in the run)."""
    rows = (
        RunEvent.select(*_EVENT_FIELDS)
        .join(RunStep, JOIN.LEFT_OUTER, on=(RunEvent.step == RunStep.id))
        .where((RunEvent.run == run_id) & (RunEvent.id > after))
        .order_by(RunEvent.id)
        .limit(limit)
        .dicts()
    )
    return [
        {"seq": row.pop("id"), "run": run_id, **row, "changed": bool(row["changed"])}
        for row in rows
    ]
