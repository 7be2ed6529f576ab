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
    """A writer unit (queued with ``store.fire``): Ansible events in order, in one sqlite3
    ``executemany`` on the writer's connection when the rows have the same keys (peewee's
    ``insert_many`` built its SQL at about 35 us a row, ten times this)."""
    if not batch:
        return
    names = list(batch[0])
    if any(len(row) != len(names) or any(n not in row for n in names) for row in batch):
        for start in range(0, len(batch), 200):  # mixed rows: peewee fills in the defaults
            RunEvent.insert_many(batch[start : start + 200]).execute()
        return
    fields = [RunEvent._meta.fields[n] for n in names]
    sql = (
        f'INSERT INTO "{RunEvent._meta.table_name}" ('
        + ", ".join(f'"{f.column_name}"' for f in fields)
        + ") VALUES ("
        + ", ".join("?" for _ in fields)
        + ")"
    )
    values = [tuple(f.db_value(row[f.name]) for f in fields) for row in batch]
    RunEvent._meta.database.connection().executemany(sql, values)


COUNTS = ("ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored")
EVENT_COUNTS = COUNTS[:5]  # what task events alone can tell
# playbook_on_stats event_data key -> our name
STATS_KEYS = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failed",
    "dark": "unreachable",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}


def step_stats(event_data: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per host, Ansible's own figures from a ``playbook_on_stats`` event's data (its PLAY
    RECAP); hosts Ansible processed but counted nothing for get zeros."""
    hosts: dict[str, dict[str, int]] = {}
    processed = event_data.get("processed") or {}
    for host in processed if isinstance(processed, dict) else ():
        hosts.setdefault(str(host), dict.fromkeys(COUNTS, 0))
    for key, name in STATS_KEYS.items():
        values = event_data.get(key) or {}
        if not isinstance(values, dict):
            continue
        for host, n in values.items():
            counts = hosts.setdefault(str(host), dict.fromkeys(COUNTS, 0))
            counts[name] = int(n) if isinstance(n, int) else 0
    return hosts


def host_counts(run_id: int) -> tuple[dict[str, dict[str, int]], list[int]]:
    """Per host over the run: ok, changed, failed, unreachable, skipped, rescued, ignored; and
    the steps (idx) counted from their events.

    Each step counts as Ansible did (its stored ``playbook_on_stats``, the last attempt's on a
    resumed run). A step without one (running, cancelled, killed, or from before stats were
    kept) counts its task events instead (a failure a rescue handled cannot be told from events
    and counts as failed there); finished such steps are the partial ones.
    """
    hosts: dict[str, dict[str, int]] = {}
    without: dict[int, int] = {}  # step id -> idx
    partial: list[int] = []
    query_steps = RunStep.select(RunStep.id, RunStep.idx, RunStep.state, RunStep.stats)
    for step in query_steps.where(RunStep.run == run_id).order_by(RunStep.idx):
        if step.stats is None:
            without[step.id] = step.idx
            if step.state not in ("pending", "running"):
                partial.append(step.idx)
            continue
        for host, counts in step.stats.items():
            target = hosts.setdefault(host, dict.fromkeys(COUNTS, 0))
            for name in COUNTS:
                target[name] += int(counts.get(name, 0))
    if not without:
        return hosts, partial
    query = (
        RunEvent.select(
            RunEvent.host, RunEvent.status, RunEvent.changed, fn.COUNT(RunEvent.id).alias("n")
        )
        .where(
            (RunEvent.run == run_id)
            & RunEvent.step.in_(list(without))
            & RunEvent.event.in_(TASK_EVENTS)
            & RunEvent.host.is_null(False)
        )
        .group_by(RunEvent.host, RunEvent.status, RunEvent.changed)
        .tuples()
    )
    for host, status, changed, n in query:
        counts = hosts.setdefault(host, dict.fromkeys(COUNTS, 0))
        if status == "ignored":  # an ignored failure: Ansible's recap counts it ok and ignored
            counts["ok"] += n
            counts["ignored"] += n
        elif status in EVENT_COUNTS:
            counts[status] += n
        if changed:
            counts["changed"] += n
    return hosts, partial


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
