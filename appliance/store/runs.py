"""Runs, their steps and events: the queries and the writes (each write one writer unit).

State changes go through :func:`set_run_state`, which enforces ``appliance.states.TRANSITIONS``
inside the writer's transaction (read and write in one unit: no race between processes either,
since the writer holds the write lock for the whole batch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from peewee import JOIN, IntegrityError

from appliance.errors import Conflict, NotFound
from appliance.states import ACTIVE, RunState, allowed
from appliance.store import Store
from appliance.store.checks import run_checks
from appliance.store.events import host_counts
from appliance.store.models import Bundle, InstalledComponent, Run, RunStep, Site
from appliance.validate import as_id


def _busy(site_id: int) -> Conflict:
    """The site has an active run: the CLI's hint names commands, the page's (site.busy) screens."""
    active = Run.select(Run.id).where((Run.site == site_id) & Run.state.in_(ACTIVE)).scalar()
    hint = (
        f"Run {active} is active on this site: wait for it (appliance log {active} --follow) "
        f"or cancel it (appliance cancel {active}), then try again."
        if active is not None
        else "Wait for the site's active run to end, or cancel it, then try again."
    )
    busy = "the site is busy: another run is active on it"
    return Conflict(busy, hint, code="site.busy", params={"run": active})


def create_run(
    store: Store,
    *,
    site_id: int,
    bundle_id: int,
    action: str,
    plan: Sequence[Mapping[str, Any]],
    trigger: str,
    installed_before: Mapping[str, Any],
    backup_run_id: int | None,
    owner_pid: int,
    owner_start: str | None,
) -> int:
    """Insert a queued run and its pending steps; Conflict (409) if the site has an active run."""

    def write() -> int:
        try:
            run = Run.create(
                site=site_id,
                bundle=bundle_id,
                action=action,
                state="queued",
                plan=list(plan),
                trigger=trigger,
                created_at=store.now(),
                installed_before=dict(installed_before),
                backup_run_id=backup_run_id,
                owner_pid=owner_pid,
                owner_start=owner_start,
            )
        except IntegrityError as e:  # run_one_active_per_site
            raise _busy(site_id) from e
        for step in plan:
            RunStep.create(
                run=run,
                idx=step["idx"],
                name=step["name"],
                kind=step["kind"],
                component=step.get("component"),
                playbook=step["playbook"],
                from_version=step.get("from_version"),
                to_version=step.get("to_version"),
            )
        return run.id

    return store.write(write)


def set_run_state(
    store: Store,
    run_id: int,
    target: str,
    *,
    before: Callable[[], None] | None = None,
    **fields: Any,
) -> bool:
    """Move a run to ``target`` if the table allows it from its current state; also set
    ``fields``. ``before`` runs once the move is known to be allowed, before it is written (the
    final log line, so a reader that sees the new state has every byte). Returns False (nothing
    written) when the move is not allowed."""

    def write() -> bool:
        run = Run.get_by_id(run_id)
        if not allowed(run.state, target):
            return False
        if before is not None:
            before()
        try:
            Run.update(state=target, **fields).where(Run.id == run_id).execute()
        except IntegrityError as e:  # back to an active state while another run is active
            raise _busy(run.site_id) from e
        return True

    return store.write(write)


def update_run(store: Store, run_id: int, **fields: Any) -> None:
    """Set fields that are not the state (process ids, cancel_requested)."""
    store.write(lambda: Run.update(**fields).where(Run.id == run_id).execute())


def request_cancel(store: Store, run_id: int) -> str:
    """Set cancel_requested on an active run; returns the run's state as found."""

    def write() -> str:
        run = Run.get_or_none(Run.id == run_id)
        if run is None:
            raise NotFound(f"no run {run_id}", "List runs with `appliance runs`.")
        if run.state in ACTIVE:
            Run.update(cancel_requested=True).where(Run.id == run_id).execute()
        return run.state

    return store.write(write)


def cancel_requested(run_id: int) -> bool:
    value = Run.select(Run.cancel_requested).where(Run.id == run_id).scalar()
    return bool(value)


def set_step(store: Store, step_id: int, **fields: Any) -> None:
    store.write(lambda: RunStep.update(**fields).where(RunStep.id == step_id).execute())


def reset_steps_from(store: Store, run_id: int, idx: int) -> None:
    """Steps ``idx`` and later go back to pending (a resume re-runs them)."""
    store.write(
        lambda: (
            RunStep.update(state="pending", started_at=None, finished_at=None, rc=None, stats=None)
            .where((RunStep.run == run_id) & (RunStep.idx >= idx))
            .execute()
        )
    )


def record_installed(
    site_id: int,
    run_id: int,
    record: Mapping[str, Mapping[str, str]],
    now: str,
    replace_bundle: str | None = None,
) -> None:
    """A writer unit: upsert installed component versions. ``replace_bundle`` (rollback) also
    removes rows of that bundle the record does not name (components added by the upgrade)."""
    if replace_bundle is not None:
        (
            InstalledComponent.delete()
            .where(
                (InstalledComponent.site == site_id)
                & (InstalledComponent.bundle_name == replace_bundle)
                & InstalledComponent.component.not_in(list(record) or [""])
            )
            .execute()
        )
    for component, info in record.items():
        (
            InstalledComponent.insert(
                site=site_id,
                component=component,
                version=info["version"],
                bundle_name=info["bundle_name"],
                bundle_version=info["bundle_version"],
                run_id=run_id,
                updated_at=now,
            )
            .on_conflict(
                conflict_target=[InstalledComponent.site, InstalledComponent.component],
                preserve=[
                    InstalledComponent.version,
                    InstalledComponent.bundle_name,
                    InstalledComponent.bundle_version,
                    InstalledComponent.run_id,
                    InstalledComponent.updated_at,
                ],
            )
            .execute()
        )


def finish_run(
    store: Store,
    run_id: int,
    target: str,
    *,
    record: Mapping[str, Mapping[str, str]] | None = None,
    replace_bundle: str | None = None,
    running_steps: str | None = None,
    before: Callable[[], None] | None = None,
    **fields: Any,
) -> bool:
    """End a run in one transaction: its state, the state of steps left running (when
    ``running_steps`` is given) and, on success, the installed versions."""

    def write() -> bool:
        now = store.now()
        ok = set_run_state(store, run_id, target, before=before, finished_at=now, **fields)
        if not ok:
            return False
        if running_steps is not None:
            (
                RunStep.update(state=running_steps, finished_at=now)
                .where((RunStep.run == run_id) & (RunStep.state == "running"))
                .execute()
            )
        if record:
            run = Run.get_by_id(run_id)
            record_installed(run.site_id, run_id, record, now, replace_bundle)
        return True

    return store.write(write)


def resume_run(
    store: Store,
    run_id: int,
    first_idx: int,
    **fields: Any,
) -> bool:
    """Back to running from step ``first_idx`` (that step and later ones pending again)."""

    def write() -> bool:
        ok = set_run_state(
            store,
            run_id,
            RunState.RUNNING,
            cancel_requested=False,
            error=None,
            hint=None,
            finished_at=None,
            pgid=None,
            **fields,
        )
        if ok:
            reset_steps_from(store, run_id, first_idx)
        return ok

    return store.write(write)


# Reads ------------------------------------------------------------------------------------------
def installed_rows(site_id: int) -> list[InstalledComponent]:
    return list(
        InstalledComponent.select()
        .where(InstalledComponent.site == site_id)
        .order_by(InstalledComponent.updated_at, InstalledComponent.id)
    )


def find_run(run_id: int | str) -> Run:
    number = as_id(run_id)
    run = Run.get_or_none(Run.id == number) if number is not None else None
    if run is None:
        shown = run_id if not isinstance(run_id, str) or len(run_id) <= 40 else run_id[:40] + "..."
        raise NotFound(
            f"no run {shown!r}",
            "List runs with `appliance runs` or GET /api/runs.",
            code="not_found.run",
            params={"id": shown},
        )
    return run


def run_steps(run_id: int) -> list[RunStep]:
    return list(RunStep.select().where(RunStep.run == run_id).order_by(RunStep.idx))


def latest_backup_run(site_id: int, bundle_name: str) -> Run | None:
    """The site's latest run of ``bundle_name`` that completed a backup step."""
    return (
        Run.select()
        .join(RunStep)
        .switch(Run)
        .join(Bundle)
        .where(
            (Run.site == site_id)
            & (RunStep.kind == "backup")
            & (RunStep.state == "succeeded")
            & (Bundle.name == bundle_name)
        )
        .order_by(Run.id.desc())
        .first()
    )


def later_runs(run: Run) -> int:
    """Runs on the same site after ``run`` that may have changed it (a check changes nothing)."""
    return (
        Run.select()
        .where((Run.site == run.site_id) & (Run.id > run.id) & (Run.action != "check"))
        .count()
    )


def active_runs() -> list[Run]:
    return list(Run.select().where(Run.state.in_(ACTIVE)).order_by(Run.id))


def step_to_json(step: RunStep) -> dict[str, Any]:
    return {
        "idx": step.idx,
        "name": step.name,
        "kind": step.kind,
        "component": step.component,
        "playbook": step.playbook,
        "from_version": step.from_version,
        "to_version": step.to_version,
        "state": step.state,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
        "rc": step.rc,
    }


def _summary(run: Run, site: Site, bundle: Bundle) -> dict[str, Any]:
    return {
        "id": run.id,
        "state": run.state,
        "action": run.action,
        "site": site.name,
        "site_id": site.id,
        "bundle": bundle.name,
        "version": bundle.version,
        "trigger": run.trigger,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "hint": run.hint,
        "backup_run": run.backup_run_id,
        "cancel_requested": bool(run.cancel_requested),
        "pruned_at": run.pruned_at,
        "owner_pid": run.owner_pid,
        "pgid": run.pgid,
    }


def get_run(run_id: int | str) -> dict[str, Any]:
    run = find_run(run_id)
    detail = _summary(run, Site.get_by_id(run.site_id), Bundle.get_by_id(run.bundle_id))
    detail["plan"] = run.plan
    detail["installed_before"] = run.installed_before
    detail["steps"] = [step_to_json(s) for s in run_steps(run.id)]
    if run.pruned_at:  # frozen when retention removed the events
        kept = run.kept_hosts or {}
        detail["hosts"], detail["partial_steps"] = kept.get("hosts", {}), kept.get("partial", [])
    else:
        detail["hosts"], detail["partial_steps"] = host_counts(run.id)
    # Ansible's own per-host recap of each finished step's last attempt (by step idx)
    detail["step_hosts"] = {str(s.idx): s.stats for s in run_steps(run.id) if s.stats}
    detail["checks"] = run_checks(run.id)  # what steps reported as pass | warn | fail
    return detail


def list_runs(
    site: int | None = None, state: str | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    query = (
        Run.select(Run, Site, Bundle)
        .join(Site, JOIN.INNER, on=(Run.site == Site.id))
        .switch(Run)
        .join(Bundle, JOIN.INNER, on=(Run.bundle == Bundle.id))
    )
    if site is not None:
        query = query.where(Run.site == site)
    if state is not None:
        query = query.where(Run.state == state)
    query = query.order_by(Run.id.desc()).limit(limit).offset(offset)
    return [_summary(r, r.site, r.bundle) for r in query]


def current_state(run_id: int) -> str | None:
    """The run's state, or None if there is no such run.

    Plain SQL: idle streams call this twice a second each, and building the peewee query cost
    more than running it. fetchall() steps the statement to its end: an unfinished SELECT would
    keep its read transaction, and an old WAL snapshot, open on this connection."""
    found = Run._meta.database.execute_sql("SELECT state FROM run WHERE id = ?", (run_id,))
    rows = found.fetchall()
    return rows[0][0] if rows else None


def pruned_at(run_id: int) -> str | None:
    """When retention removed the run's events and log (None: they are there)."""
    return Run.select(Run.pruned_at).where(Run.id == run_id).scalar()
