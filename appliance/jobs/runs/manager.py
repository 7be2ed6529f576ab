"""The run manager: plans runs, starts one supervisor thread per active run, cancels, resumes
and waits for them. The command line (``appliance run``), the HTTP API and the scheduler all
start runs through :meth:`RunManager.start_run`.

A supervisor (thread ``run-<id>``) runs the plan's steps in order, one ansible-runner invocation
each (see runner.py), storing events through the writer and output in ``runs/<id>/output.log``.
It ends the run ``succeeded``, ``failed`` (a step failed; later steps do not run), ``cancelled``
or ``interrupted`` (the manager stopped), and on success records the installed versions.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.context import Context
from appliance.errors import Conflict, ServiceUnavailable, Unprocessable
from appliance.jobs.ansible.secrets import redact_row
from appliance.jobs.runs import backups, processes, project, recovery
from appliance.jobs.runs.checks import apply_checks, read_checks
from appliance.jobs.runs.log import RunLog
from appliance.jobs.runs.operate import Operation
from appliance.jobs.runs.outcomes import (
    EventBatch,
    boundary_error,
    failed_result,
    outcome_state,
    steps_left_as,
    stopped_result,
)
from appliance.jobs.runs.plan import PlannedStep
from appliance.jobs.runs.planning import plan_run, read_manifest, success_for
from appliance.jobs.runs.runner import StepSpec, event_row, run_step
from appliance.jobs.runs.workspace import prepare, record_core
from appliance.jobs.sites.check import refuse_unmanageable_site
from appliance.states import RESUMABLE, TERMINAL, RunState, StepState
from appliance.store import DATABASE_ERRORS, site_snapshots
from appliance.store import bundles as bundle_rows
from appliance.store import checks as check_rows
from appliance.store import runs as rows
from appliance.store.rows import Run

logger = logging.getLogger(__name__)

KEEP_SNAPSHOTS = 20  # snapshots of the sites' records kept (the newest)
CANCEL_CHECK_SECONDS = 0.2  # how often a supervisor reads cancel_requested from the database
Listener = Callable[[dict[str, Any]], None]


@dataclass
class _Active:
    run_id: int
    thread: threading.Thread | None = None
    stop_reason: str | None = None  # "cancel" | "shutdown"
    checked_at: float = 0.0
    started: float = field(default_factory=time.monotonic)


class RunManager:
    """Start with ``RunManager(ctx).start()`` (recovers runs a dead process left behind);
    ``stop()`` interrupts this process's active runs and joins their threads."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._active: dict[int, _Active] = {}
        self._listeners: list[Listener] = []
        self._stopping = False
        self._identity = processes.process_identity(os.getpid())

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> RunManager:
        self.add_listener(lambda run: backups.apply_retention(self.ctx, run))
        recovered = recovery.recover(self.ctx, notify=self._notify)
        if recovered:
            logger.warning("interrupted runs left by a stopped appliance: %s", recovered)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping = True
        with self._lock:
            active = list(self._active.values())
        for item in active:
            item.stop_reason = item.stop_reason or "shutdown"
        deadline = time.monotonic() + timeout
        for item in active:
            if item.thread is not None:
                item.thread.join(max(0.0, deadline - time.monotonic()))

    def add_listener(self, callback: Listener) -> None:
        """``callback(run_dict)`` runs when a run of this manager reaches a terminal state."""
        self._listeners.append(callback)

    # -- the API -----------------------------------------------------------------------------
    def start_run(
        self,
        site: int | str,
        bundle: str,
        version: str,
        action: str | None = None,
        *,
        trigger: str = "manual",
        dry_run: bool = False,
        operation: Operation | None = None,
        backup: int | None = None,
    ) -> dict[str, Any]:
        """Plan a run and start it (``dry_run``: only plan; nothing is stored); ``operation``
        for action operate; ``backup``: the backup a rollback restores (None: the latest)."""
        if self._stopping:
            raise ServiceUnavailable(
                "the appliance is shutting down", "Start the run again once the appliance is back."
            )
        planned = plan_run(site, bundle, version, action, operation, backup)
        if dry_run:
            return planned.to_json()
        plan, manifest, site_row = planned.plan, planned.manifest, planned.site
        if not plan.steps:
            raise Unprocessable(
                f"the plan for {plan.action} of {manifest.name} {manifest.version} has no steps",
                "Nothing to do.",
            )
        core = refuse_unmanageable_site(self.ctx, site_row.id, site_row.vars, manifest)
        run_id = rows.create_run(
            self.ctx.store,
            site_id=site_row.id,
            bundle_id=planned.bundle.id,
            action=plan.action,
            plan=plan.to_json(),
            trigger=trigger,
            installed_before={k: v.to_json() for k, v in planned.installed.items()},
            backup_run_id=planned.backup_run,
            owner_pid=os.getpid(),
            owner_start=self._identity,
        )
        with RunLog(self.ctx.paths.run_log(run_id)) as log:
            before = plan.installed_version or "nothing"
            log.header(
                f"run {run_id}: {plan.action} {manifest.name} {manifest.version} on site "
                f"{site_row.name} (installed: {before}), {len(plan.steps)} step(s)"
            )
            record_core(self.ctx.paths.run_dir(run_id), core, log)
            if plan.action != "check":  # the site's records as they were, to restore by hand
                self._snapshot(
                    run_id, f"before run {run_id}: {plan.action} on {site_row.name}", log
                )
        self._launch(run_id, 1)
        return rows.get_run(run_id)

    def _snapshot(self, run_id: int, reason: str, log: RunLog) -> None:
        """A snapshot of the sites' records (``appliance data restore --snapshot N``); one that
        cannot be written is said in the log, and the run goes on."""
        paths = self.ctx.paths
        try:
            number = site_snapshots.take(paths.db, paths.snapshots, reason, KEEP_SNAPSHOTS)
        except (OSError, *DATABASE_ERRORS) as e:
            logger.warning("run %d: no snapshot of the sites' records: %s", run_id, e)
            log.line(f"appliance: no snapshot of the sites' records was written ({e})")
            return
        log.line(f"appliance: snapshot {number} of the sites' records taken before this run")

    def cancel(self, run_id: int | str) -> dict[str, Any]:
        """Cancel a run (of this process or another); returns the run once it ended (or after
        a few seconds)."""
        run = rows.find_run(run_id)
        with self._lock:
            active = self._active.get(run.id)
        if active is None:
            return recovery.cancel_run(self.ctx, run.id)
        active.stop_reason = active.stop_reason or "cancel"
        rows.request_cancel(self.ctx.store, run.id)
        if active.thread is not None:
            active.thread.join(5.0)
        return rows.get_run(run.id)

    def resume(self, run_id: int | str) -> dict[str, Any]:
        """Run a failed, cancelled or interrupted run again from its first unfinished step."""
        if self._stopping:
            raise ServiceUnavailable(
                "the appliance is shutting down", "Resume the run once the appliance is back."
            )
        run = rows.find_run(run_id)
        if run.state not in RESUMABLE:
            raise Conflict(
                f"run {run.id} is {run.state}; only a failed, cancelled or "
                "interrupted run can resume",
                "Start a new run instead."
                if run.state in TERMINAL
                else f"Wait for run {run.id} to end first.",
                code="run.not_resumable",
                params={"id": run.id, "state": run.state},
            )
        later = rows.later_runs(run)
        if later:
            raise Conflict(
                f"run {run.id} cannot resume: the site has had {later} run(s) since",
                "The site changed after this run; start a new run instead.",
                code="run.changed_since",
                params={"id": run.id, "later": later},
            )
        steps = rows.run_steps(run.id)
        first = next((s.idx for s in steps if s.state != StepState.SUCCEEDED), len(steps) + 1)
        read_manifest(bundle_rows.bundle_by_id(run.bundle_id))  # the bundle must still be readable
        if not rows.resume_run(
            self.ctx.store,
            run.id,
            first,
            owner_pid=os.getpid(),
            owner_start=self._identity,
        ):
            raise Conflict(f"run {run.id} changed state meanwhile", "Look at it and try again.")
        with RunLog(self.ctx.paths.run_log(run.id)) as log:
            log.header(f"resumed (from step {first}/{len(steps)})")
        self._launch(run.id, first)
        return rows.get_run(run.id)

    def wait(self, run_id: int | str, timeout: float | None = None) -> dict[str, Any]:
        """Wait until the run is terminal (or ``timeout`` seconds); returns the run."""
        run = rows.find_run(run_id)
        with self._lock:
            active = self._active.get(run.id)
        if active is not None and active.thread is not None:
            active.thread.join(timeout)
        else:
            deadline = None if timeout is None else time.monotonic() + timeout
            while rows.find_run(run.id).state not in TERMINAL:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                time.sleep(0.1)
        return rows.get_run(run.id)

    def active_runs(self) -> list[int]:
        with self._lock:
            return sorted(self._active)

    # -- supervision -------------------------------------------------------------------------
    def _launch(self, run_id: int, first_idx: int) -> None:
        active = _Active(run_id)
        active.thread = threading.Thread(
            target=self._supervise, args=(active, first_idx), name=f"run-{run_id}", daemon=True
        )
        with self._lock:
            self._active[run_id] = active
        active.thread.start()

    def _stop_reason(self, active: _Active) -> str | None:
        if active.stop_reason is None:
            now = time.monotonic()
            if now - active.checked_at >= CANCEL_CHECK_SECONDS:
                active.checked_at = now
                if rows.cancel_requested(active.run_id):
                    active.stop_reason = "cancel"
        return active.stop_reason

    def _supervise(self, active: _Active, first_idx: int) -> None:
        run_id = active.run_id
        store = self.ctx.store
        log = RunLog(self.ctx.paths.run_log(run_id))
        state, error, hint = RunState.FAILED, None, None
        record, replace = None, None
        try:
            rows.set_run_state(store, run_id, RunState.RUNNING, started_at=store.now())
            run = rows.find_run(run_id)
            if run.state != RunState.RUNNING:  # ended meanwhile by another process
                logger.warning("run %d is %s: not starting it", run_id, run.state)
                return
            state, error, hint = self._run_steps(active, run, log, first_idx)
            self._after_steps(run, log)
            if state == RunState.SUCCEEDED:
                record, replace = success_for(run)
        except Exception as e:  # the job boundary: the run fails and says why
            state, error, hint = RunState.FAILED, *boundary_error(run_id, e)
            log.line(f"appliance: {error} ({hint})")
        finally:
            seconds = time.monotonic() - active.started
            end = f"run {run_id} {state} after {seconds:.1f}s" + (f": {error}" if error else "")
            try:
                rows.finish_run(
                    store,
                    run_id,
                    state,
                    record=record,
                    replace_bundle=replace,
                    running_steps=steps_left_as(state),
                    error=error,
                    hint=hint,
                    before=lambda: log.header(end),
                )
            except Exception:
                logger.exception("could not record the end of run %d", run_id)
            finally:
                log.close()
                with self._lock:
                    self._active.pop(run_id, None)
            try:
                self._notify(rows.get_run(run_id))
            finally:
                store.db.close()  # this thread's reader connection

    def _run_steps(
        self, active: _Active, run: Run, log: RunLog, first_idx: int
    ) -> tuple[RunState, str | None, str | None]:
        store = self.ctx.store
        work = prepare(self.ctx, run)
        secrets = work.secrets
        log.redact = secrets.redact if secrets.redact else None
        steps = rows.run_steps(run.id)
        total = len(steps)
        for step in steps:
            if step.idx < first_idx:
                continue
            planned = PlannedStep.from_json(run.plan[step.idx - 1])
            reason = self._stop_reason(active)
            if reason is not None:
                return stopped_result(reason, f"before step {planned.title(total)}")
            log.header(planned.title(total))
            rows.set_step(store, step.id, state=StepState.RUNNING, started_at=store.now())
            spec = StepSpec(
                private_dir=self.ctx.paths.run_dir(run.id) / "private" / f"{step.idx}-{step.name}",
                project=work.view,
                playbook=planned.playbook,
                inventory=work.inventory,
                envvars=work.envvars,
                extravars=work.extravars,
                check=planned.check,
                secrets=secrets,
                inventory_dir=self.ctx.paths.site_inventory(work.site_id),
                limit=planned.limit,
            )
            step_id = step.id
            batch = EventBatch(
                store,
                lambda ev, sid=step_id: redact_row(event_row(run.id, sid, ev), secrets.redact),
            )

            def should_cancel(batch: EventBatch = batch) -> bool:
                batch.flush()  # called every POLL_SECONDS: stored events never lag further
                return self._stop_reason(active) is not None

            try:
                outcome = run_step(
                    spec,
                    log,
                    on_event=batch.add,
                    should_cancel=should_cancel,
                    on_process=lambda pid, pgid: rows.update_run(store, run.id, pgid=pgid),
                )
            finally:
                batch.flush()
            checks = read_checks(outcome.custom, secrets.redact)  # a failed check fails the step
            apply_checks(outcome, checks)
            store.write(check_rows.replace_step_checks, run.id, step.id, checks)
            step_state = outcome_state(outcome, active.stop_reason)
            rows.set_step(
                store,
                step.id,
                state=step_state,
                finished_at=store.now(),
                rc=outcome.rc,
                stats=outcome.stats,
            )
            backups.record_step(store, run, planned.kind, step_state, outcome.custom)
            if step_state != StepState.SUCCEEDED:
                where = f"at step {planned.title(total)}"
                if step_state == StepState.FAILED:
                    return failed_result(run.id, where, outcome)
                return stopped_result(active.stop_reason or "cancel", where)
        return RunState.SUCCEEDED, None, None

    def _after_steps(self, run: Run, log: RunLog) -> None:
        """The imported bundle must still hold what was signed: files the view shares with it
        by a hard link are checked. (The view stays: a step's private_data_dir re-runs.)"""
        bundle = bundle_rows.bundle_by_id(run.bundle_id)
        run_dir = self.ctx.paths.run_dir(run.id)
        changed = project.changed_links(Path(bundle.path), run_dir, read_manifest(bundle).files)
        if changed:
            what = f"{bundle.name} {bundle.version}"
            log.line(
                f"appliance: this run wrote into {len(changed)} file(s) of the imported bundle "
                f"{what} ({', '.join(changed[:5])}): delete {bundle.path} and import the bundle "
                "again before another run"
            )
            logger.error("run %d changed imported bundle %s: %s", run.id, what, changed)

    def _notify(self, run: dict[str, Any]) -> None:
        for callback in list(self._listeners):
            try:
                callback(run)
            except Exception:
                logger.exception("run listener %r failed", callback)
