"""Schedules and their occurrences: parsing a schedule, the rows, and the JSON answers.

The ``schedule`` table is the source of truth; the scheduler service only mirrors it. An
occurrence row is written once per (schedule, fire time) — UNIQUE in SQL — and moves only
forward: none -> waiting -> starting -> started | missed | skipped | failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from appliance.clock import iso
from appliance.errors import NotFound
from appliance.states import (
    FINAL_OCCURRENCES,
    OPEN_OCCURRENCES,
    UNSEEN_OCCURRENCES,
)
from appliance.states import OccurrenceState as Occ
from appliance.store import Store
from appliance.store.bundles import find_bundle
from appliance.store.models import Bundle, Occurrence, OccurrenceAck, Run, Schedule, Site
from appliance.store.sites import find_site
from appliance.validate import as_id

OCCURRENCES_SHOWN = 20


_COLUMNS = ("action", "trigger", "at", "cron", "timezone", "window_minutes", "enabled")


def _columns(spec: dict[str, Any]) -> dict[str, Any]:
    """A parsed schedule's columns (NotFound for an unknown site or bundle)."""
    return {
        "site": find_site(spec["site"]),
        "bundle": find_bundle(spec["bundle"], spec["version"]),
        **{k: spec[k] for k in _COLUMNS},
    }


def create_schedule(store: Store, spec: dict[str, Any]) -> int:
    """Insert a parsed schedule; NotFound for an unknown site or bundle (nothing stored)."""

    def write() -> int:
        return Schedule.create(**_columns(spec), created_at=store.now()).id

    return store.write(write)


EDITED_REASON = "the schedule was edited while this fire time waited; the new times apply"


def update_schedule(store: Store, ref: int | str, spec: dict[str, Any]) -> int:
    """Replace a schedule's fields with a parsed spec (one unit); fire times still waiting for a
    busy site are closed as skipped, and later fire times count from now (``edited_at``)."""

    def write() -> int:
        schedule = find_schedule(ref)
        now = store.now()
        Schedule.update(**_columns(spec), edited_at=now).where(Schedule.id == schedule.id).execute()
        Occurrence.update(state=Occ.SKIPPED, detail=EDITED_REASON, recorded_at=now).where(
            (Occurrence.schedule == schedule.id) & (Occurrence.state == Occ.WAITING)
        ).execute()
        return schedule.id

    return store.write(write)


def spec_of(schedule: Schedule) -> dict[str, Any]:
    """A stored schedule as the request body that would create it (an edit starts from it)."""
    out: dict[str, Any] = {
        "site": schedule.site_id,
        "bundle": schedule.bundle.name,
        "version": schedule.bundle.version,
        "action": schedule.action,
        "timezone": schedule.timezone,
        "window_minutes": schedule.window_minutes,
        "enabled": bool(schedule.enabled),
    }
    if schedule.trigger == "once":
        out["at"] = _local(to_datetime(schedule.at), schedule.timezone)
    else:
        out["cron"] = schedule.cron
    return out


def start_of(schedule: Schedule) -> datetime:
    """From when the schedule's fire times count: its creation or its last edit."""
    return to_datetime(max(schedule.created_at, schedule.edited_at or ""))


def find_schedule(ref: int | str) -> Schedule:
    number = as_id(ref)
    schedule = Schedule.get_or_none(Schedule.id == number) if number is not None else None
    if schedule is None:
        shown = ref if not isinstance(ref, str) or len(ref) <= 40 else ref[:40] + "..."
        raise NotFound(
            f"no schedule {shown!r}",
            "List schedules with `appliance schedule list` or GET /api/schedules.",
            code="not_found.schedule",
            params={"id": shown},
        )
    return schedule


def delete_schedule(store: Store, ref: int | str) -> int:
    """Delete a schedule and its occurrences (a run it started keeps going)."""

    def write() -> int:
        schedule = find_schedule(ref)
        schedule.delete_instance()  # occurrences go with it (ON DELETE CASCADE)
        return schedule.id

    return store.write(write)


def set_enabled(store: Store, ref: int | str, enabled: bool) -> bool:
    """Returns the previous value."""

    def write() -> bool:
        schedule = find_schedule(ref)
        before = bool(schedule.enabled)
        Schedule.update(enabled=enabled).where(Schedule.id == schedule.id).execute()
        return before

    return store.write(write)


def to_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def expected_minutes(bundle: Bundle) -> float | None:
    value = (bundle.manifest or {}).get("expected_minutes")
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


def schedules_with_bundles(enabled_only: bool = False) -> list[tuple[Schedule, Site, Bundle]]:
    query = (
        Schedule.select(Schedule, Site, Bundle)
        .join(Site, on=Schedule.site == Site.id)
        .switch(Schedule)
        .join(Bundle, on=Schedule.bundle == Bundle.id)
        .order_by(Schedule.id)
    )
    if enabled_only:
        query = query.where(Schedule.enabled == True)  # noqa: E712 (peewee expression)
    return [(s, s.site, s.bundle) for s in query]


def decision_records(schedule_id: int) -> dict[datetime, str]:
    """The records evaluation needs: open ones and the latest final one."""
    out: dict[datetime, str] = {}
    open_rows = Occurrence.select(Occurrence.fire_time, Occurrence.state).where(
        (Occurrence.schedule == schedule_id) & Occurrence.state.in_(OPEN_OCCURRENCES)
    )
    for row in open_rows:
        out[to_datetime(row.fire_time)] = row.state
    latest = (
        Occurrence.select(Occurrence.fire_time, Occurrence.state)
        .where((Occurrence.schedule == schedule_id) & Occurrence.state.in_(FINAL_OCCURRENCES))
        .order_by(Occurrence.fire_time.desc())
        .first()
    )
    if latest is not None:
        out[to_datetime(latest.fire_time)] = latest.state
    return out


def record(
    store: Store,
    schedule_id: int,
    fire_time: datetime,
    state: str,
    detail: str | None = None,
    run_id: int | None = None,
    *,
    only_from: Iterable[str | None] = (None, Occ.WAITING),
) -> bool:
    """Write the occurrence of ``fire_time`` in ``state`` if its current state (None: no row)
    is in ``only_from``; one writer unit, so two callers never both claim a fire time."""
    allowed = set(only_from)
    key = iso(fire_time)

    def write() -> bool:
        if Schedule.get_or_none(Schedule.id == schedule_id) is None:
            return False  # deleted meanwhile
        row = Occurrence.get_or_none(
            (Occurrence.schedule == schedule_id) & (Occurrence.fire_time == key)
        )
        current = row.state if row is not None else None
        if current not in allowed:
            return False
        fields = {"state": state, "detail": detail, "run": run_id, "recorded_at": store.now()}
        if row is None:
            Occurrence.create(schedule=schedule_id, fire_time=key, **fields)
        else:
            Occurrence.update(**fields).where(Occurrence.id == row.id).execute()
        return True

    return store.write(write)


def stale_starting() -> list[Occurrence]:
    return list(Occurrence.select().where(Occurrence.state == Occ.STARTING))


def scheduled_run_since(site_id: int, bundle_id: int, since: str) -> Run | None:
    return (
        Run.select()
        .where(
            (Run.site == site_id)
            & (Run.bundle == bundle_id)
            & (Run.trigger == "schedule")
            & (Run.created_at >= since)
        )
        .order_by(Run.id)
        .first()
    )


def acknowledge(store: Store, ids: list[int] | None = None) -> list[int]:
    """Mark missed/skipped/failed occurrences as seen (all unseen ones when ``ids`` is None)."""

    def write() -> list[int]:
        query = Occurrence.select(Occurrence.id).where(
            Occurrence.state.in_(UNSEEN_OCCURRENCES)
            & Occurrence.id.not_in(OccurrenceAck.select(OccurrenceAck.occurrence))
        )
        if ids is not None:
            query = query.where(Occurrence.id.in_(ids))
        done = [row.id for row in query]
        now = store.now()
        for occurrence_id in done:
            OccurrenceAck.create(occurrence=occurrence_id, acknowledged_at=now)
        return done

    return store.write(write)


# JSON ----------------------------------------------------------------------------------------
def _local(moment: datetime, zone_name: str) -> str:
    return moment.astimezone(ZoneInfo(zone_name)).isoformat()


def occurrence_to_json(
    row: Occurrence,
    schedule: Schedule,
    run_states: dict[int, str],
    acked: set[int],
) -> dict[str, Any]:
    fire = to_datetime(row.fire_time)
    return {
        "id": row.id,
        "schedule": schedule.id,
        "fire_time": iso(fire),
        "fire_time_local": _local(fire, schedule.timezone),
        "window_ends": iso(fire + timedelta(minutes=schedule.window_minutes)),
        "state": row.state,
        "detail": row.detail,
        "run": None
        if row.run_id is None
        else {"id": row.run_id, "state": run_states.get(row.run_id)},
        "recorded_at": row.recorded_at,
        "acknowledged": row.id in acked,
    }


def schedule_to_json(
    schedule: Schedule, site: Site, bundle: Bundle, occurrences: list[dict[str, Any]]
) -> dict[str, Any]:
    """The answer for one schedule; the service adds "next" (its next fire times)."""
    at = to_datetime(schedule.at) if schedule.at else None
    return {
        "id": schedule.id,
        "site": {"id": site.id, "name": site.name},
        "bundle": {
            "name": bundle.name,
            "version": bundle.version,
            "expected_minutes": expected_minutes(bundle),
        },
        "action": schedule.action,
        "trigger": schedule.trigger,
        "at": iso(at) if at else None,
        "at_local": _local(at, schedule.timezone) if at else None,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "window_minutes": schedule.window_minutes,
        "enabled": bool(schedule.enabled),
        "created_at": schedule.created_at,
        "edited_at": schedule.edited_at,
        "occurrences": occurrences,
    }


def _run_states(run_ids: set[int]) -> dict[int, str]:
    if not run_ids:
        return {}
    return {r.id: r.state for r in Run.select(Run.id, Run.state).where(Run.id.in_(run_ids))}


def _acked(occurrence_ids: list[int]) -> set[int]:
    if not occurrence_ids:
        return set()
    query = OccurrenceAck.select(OccurrenceAck.occurrence).where(
        OccurrenceAck.occurrence.in_(occurrence_ids)
    )
    return {row.occurrence_id for row in query}


def list_schedules(schedule_id: int | None = None) -> list[dict[str, Any]]:
    rows = schedules_with_bundles()
    if schedule_id is not None:
        rows = [r for r in rows if r[0].id == schedule_id]
    out = []
    for schedule, site, bundle in rows:
        occ = list(
            Occurrence.select()
            .where(Occurrence.schedule == schedule.id)
            .order_by(Occurrence.fire_time.desc())
            .limit(OCCURRENCES_SHOWN)
        )
        runs = _run_states({o.run_id for o in occ if o.run_id is not None})
        acked = _acked([o.id for o in occ])
        occ_json = [occurrence_to_json(o, schedule, runs, acked) for o in occ]
        out.append(schedule_to_json(schedule, site, bundle, occ_json))
    return out


def unacknowledged(limit: int = 200) -> list[dict[str, Any]]:
    """Missed, skipped and failed occurrences nobody has acknowledged, newest first."""
    query = (
        Occurrence.select(Occurrence, Schedule, Site, Bundle)
        .join(Schedule, on=Occurrence.schedule == Schedule.id)
        .join(Site, on=Schedule.site == Site.id)
        .switch(Schedule)
        .join(Bundle, on=Schedule.bundle == Bundle.id)
        .where(
            Occurrence.state.in_(UNSEEN_OCCURRENCES)
            & Occurrence.id.not_in(OccurrenceAck.select(OccurrenceAck.occurrence))
        )
        .order_by(Occurrence.fire_time.desc())
        .limit(limit)
    )
    out = []
    for row in query:
        schedule = row.schedule
        item = occurrence_to_json(row, schedule, {}, set())
        item["site"] = schedule.site.name
        item["bundle"] = f"{schedule.bundle.name}@{schedule.bundle.version}"
        item["action"] = schedule.action
        out.append(item)
    return out


def is_scheduled_run(run_id: int | None) -> bool:
    """Whether an occurrence of a schedule started this run."""
    return run_id is not None and Occurrence.select().where(Occurrence.run == run_id).exists()
