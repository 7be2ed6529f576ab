"""The scheduler service: a thin shell around the pure decisions of ``schedule_logic``.

SQLite holds the schedules (the source of truth); ``tick(now)`` reads them, asks
``schedule_logic.evaluate`` what each fire time needs and carries it out: claim the fire time
(one writer unit, so it is recorded once), start the run through the same ``start_run`` a manual
run uses, record the outcome. An APScheduler ``BackgroundScheduler`` (memory job store) holds
one job that wakes ``tick`` at the next fire time, in 30 s while a busy site is waited for, and
at least every minute (schedules added by a command-line process, a clock jump, a laptop that
slept). Every change (add, delete, enable) re-evaluates at once.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from appliance.clock import iso
from appliance.context import Context
from appliance.errors import ApplianceError, BadRequest, Conflict, NotFound
from appliance.jobs.runs.planning import plan_run
from appliance.jobs.schedules import decisions as logic
from appliance.jobs.schedules import requests, triggers
from appliance.jobs.schedules.notify import RunNotifier
from appliance.states import OccurrenceState as Occ
from appliance.store import schedules as rows
from appliance.store.rows import Bundle, Schedule, Site
from appliance.store.sites import find_site, site_zone

logger = logging.getLogger(__name__)

DISABLED_REASON = "the schedule was disabled at that time"
PLAN_REFUSED = "not started, the run was refused"


class RunStarter(Protocol):
    """What the scheduler needs of the run engine (``appliance.jobs.runs.RunManager``)."""

    def start_run(
        self,
        site: int | str,
        bundle: str,
        version: str,
        action: str | None = None,
        *,
        trigger: str = "manual",
        dry_run: bool = False,
    ) -> dict[str, Any]: ...


def view_of(schedule: Schedule, bundle: Bundle) -> triggers.ScheduleView:
    return triggers.ScheduleView(
        id=schedule.id,
        trigger=schedule.trigger,
        timezone=schedule.timezone,
        window_minutes=schedule.window_minutes,
        created_at=rows.start_of(schedule),
        at=rows.to_datetime(schedule.at) if schedule.at else None,
        cron=schedule.cron,
        enabled=bool(schedule.enabled),
        expected_minutes=rows.expected_minutes(bundle),
    )


class Scheduler:
    def __init__(self, ctx: Context, runs: RunStarter | None) -> None:
        self.ctx = ctx
        self.runs = runs
        self._lock = threading.RLock()  # one evaluation at a time (timer, API, run listener)
        self._aps: BackgroundScheduler | None = None
        # The next fire time or retry the last tick found (the timer wakes at the earlier of
        # this and a heartbeat a minute later).
        self.next_due: datetime | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Scheduler:
        """Resolve fire times a crash left half-started, catch up, then keep waking."""
        self._recover_starting()
        self._aps = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._aps.start()
        add_listener = getattr(self.runs, "add_listener", None)
        if add_listener is not None:
            add_listener(self._run_finished)
            add_listener(RunNotifier())
        self.tick()
        missed = self.missed()
        if missed:
            logger.warning(
                "%d scheduled run(s) missed or skipped and not yet acknowledged: %s",
                len(missed),
                "; ".join(
                    f"schedule {m['schedule']} {m['site']} {m['bundle']} at "
                    f"{m['fire_time_local']}: {m['state']} ({m['detail']})"
                    for m in missed[:10]
                ),
            )
        return self

    def stop(self) -> None:
        with self._lock:  # lets an evaluation in progress finish; no new wake-ups after this
            aps, self._aps = self._aps, None
        if aps is not None:
            # Jobs first: APScheduler 3.x fails removing a just-run job during shutdown.
            aps.remove_all_jobs()
            aps.shutdown(wait=True)

    # -- evaluation ----------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Evaluate every enabled schedule at ``now`` (default: the context's clock) and act.

        Returns what was recorded, one dict per fire time acted on.
        """
        with self._lock:
            now = (now or self.ctx.clock.now()).astimezone(UTC)
            due: datetime | None = None  # the next fire time, or a retry of a busy site
            done: list[dict[str, Any]] = []
            for schedule, site, bundle in rows.schedules_with_bundles(enabled_only=True):
                try:
                    evaluation = logic.evaluate(
                        view_of(schedule, bundle), rows.decision_records(schedule.id), now
                    )
                except triggers.ScheduleSpecError:  # e.g. a zone the system no longer knows
                    logger.exception("schedule %s cannot be evaluated", schedule.id)
                    continue
                if evaluation.wake_at is not None:
                    due = min(due or evaluation.wake_at, evaluation.wake_at)
                for decision in evaluation.decisions:
                    result = self._carry_out(schedule, site, bundle, decision)
                    if result is None:
                        continue
                    done.append(result)
                    if result["state"] == Occ.WAITING and decision.window_ends is not None:
                        retry = logic.retry_at(now, decision.window_ends)
                        due = min(due or retry, retry)
            self.next_due = due
            heartbeat = now + timedelta(seconds=logic.HEARTBEAT_SECONDS)
            self._wake(min(due, heartbeat) if due else heartbeat)
            return done

    def _carry_out(
        self, schedule: Schedule, site: Site, bundle: Bundle, decision: logic.Decision
    ) -> dict[str, Any] | None:
        store, fire = self.ctx.store, decision.fire_time
        if decision.action != "start":
            if not rows.record(store, schedule.id, fire, decision.action, decision.reason):
                return None
            log = logger.warning if decision.action == Occ.MISSED else logger.info
            log(
                "schedule %s fire time %s %s: %s",
                schedule.id,
                iso(fire),
                decision.action,
                decision.reason,
            )
            return self._result(schedule, fire, decision.action, decision.reason)
        if self.runs is None:
            return None  # a process without a run engine (a CLI command) leaves it to the server
        if not rows.record(store, schedule.id, fire, Occ.STARTING):
            return None  # deleted meanwhile, or already taken
        state, detail, run_id = self._start(self.runs, schedule, site, bundle)
        rows.record(store, schedule.id, fire, state, detail, run_id, only_from=(Occ.STARTING,))
        logger.info(
            "schedule %s fire time %s: %s%s%s",
            schedule.id,
            iso(fire),
            state,
            f" run {run_id}" if run_id else "",
            f" ({detail})" if detail else "",
        )
        return self._result(schedule, fire, state, detail, run_id)

    @staticmethod
    def _start(
        runs: RunStarter, schedule: Schedule, site: Site, bundle: Bundle
    ) -> tuple[str, str | None, int | None]:
        """Start the run of a claimed fire time: (occurrence state, detail, run id)."""
        try:
            # The plan check of a run, again now that it fires (the site may have changed since
            # the schedule was made): a refusal is this occurrence's recorded reason, no run.
            plan_run(site.id, bundle.name, bundle.version, schedule.action)
            run = runs.start_run(
                site.id, bundle.name, bundle.version, schedule.action, trigger="schedule"
            )
            return Occ.STARTED, None, int(run["id"])
        except Conflict as e:
            return Occ.WAITING, f"{e.message}; retrying while the window is open", None
        except ApplianceError as e:
            return Occ.FAILED, f"{PLAN_REFUSED}: {e.message} (hint: {e.hint})", None
        except Exception as e:  # the job boundary: record it, keep scheduling the others
            logger.exception("starting the run of schedule %s failed", schedule.id)
            return Occ.FAILED, f"internal error: {e}", None

    @staticmethod
    def _result(
        schedule: Schedule,
        fire: datetime,
        state: str,
        detail: str | None,
        run_id: int | None = None,
    ) -> dict[str, Any]:
        return {
            "schedule": schedule.id,
            "fire_time": iso(fire),
            "state": state,
            "detail": detail,
            "run": run_id,
        }

    def _recover_starting(self) -> None:
        """A fire time claimed by a process that died before recording the outcome: link the
        run it started if there is one, else record it missed; never start it a second time."""
        for occ in rows.stale_starting():
            schedule = occ.schedule
            run = rows.scheduled_run_since(schedule.site_id, schedule.bundle_id, occ.recorded_at)
            fire = rows.to_datetime(occ.fire_time)
            if run is not None:
                rows.record(
                    self.ctx.store,
                    schedule.id,
                    fire,
                    Occ.STARTED,
                    None,
                    run.id,
                    only_from=(Occ.STARTING,),
                )
            else:
                rows.record(
                    self.ctx.store,
                    schedule.id,
                    fire,
                    Occ.MISSED,
                    "the appliance stopped while starting this run; it is not started again "
                    "so that it can never run twice",
                    only_from=(Occ.STARTING,),
                )

    def _wake(self, at: datetime) -> None:
        with self._lock:
            if self._aps is None:
                return  # not started (tests drive tick directly), or stopping
            # replace_existing: one wake-up job; APScheduler serialises this with its loop.
            self._aps.add_job(
                self._timer, DateTrigger(run_date=at), id="tick", replace_existing=True
            )

    def _timer(self) -> None:
        try:
            self.tick()
        except Exception:  # the job boundary: log, and try again at the heartbeat
            logger.exception("schedule evaluation failed")
            self._wake(self.ctx.clock.now() + timedelta(seconds=logic.HEARTBEAT_SECONDS))

    def _run_finished(self, run: dict[str, Any]) -> None:
        """A run ended: a site may be free now, so evaluate soon instead of in 30 s."""
        if self._aps is not None:
            self._wake(self.ctx.clock.now())

    # -- changes -------------------------------------------------------------------------------
    def add(self, spec: Any) -> dict[str, Any]:
        """Validate and store a schedule (HTTP body shape); returns it as listed."""
        parsed = self._parse(spec)
        with self._lock:
            schedule_id = rows.create_schedule(self.ctx.store, parsed)
            self.tick()
        logger.info("schedule %s added: %s", schedule_id, parsed)
        return self.get(schedule_id)

    def edit(self, schedule_id: int | str, changes: Any) -> dict[str, Any]:
        """Change a schedule: the fields given replace the stored ones (``at`` replaces ``cron``
        and the other way round); checked like a new one, plan check included."""
        current = rows.find_schedule(schedule_id)
        if not isinstance(changes, dict):
            raise BadRequest("schedule must be a JSON object", "Send the fields to change.")
        merged = rows.spec_of(current)
        if "at" in changes or "cron" in changes:
            merged.pop("at", None)
            merged.pop("cron", None)
        merged.update(changes)
        parsed = self._parse(merged)
        with self._lock:
            rows.update_schedule(self.ctx.store, current.id, parsed)
            self.tick()
        logger.info("schedule %s edited: %s", current.id, parsed)
        return self.get(current.id)

    def _parse(self, spec: Any) -> dict[str, Any]:
        parsed = requests.parse_schedule(spec, self.ctx.clock.now(), self._site_zone(spec))
        # The plan check a run gets, now (and again when it fires): a schedule the site cannot
        # take is refused with the reason the run would get, not found failed at 2 AM.
        plan_run(parsed["site"], parsed["bundle"], parsed["version"], parsed["action"])
        return parsed

    @staticmethod
    def _site_zone(spec: Any) -> str | None:
        """The zone of the site a description names (its schedules' default zone), if any."""
        ref = spec.get("site") if isinstance(spec, dict) else None
        if not isinstance(ref, str | int) or isinstance(ref, bool):
            return None
        try:
            return site_zone(find_site(ref))
        except NotFound:
            return None  # said by the plan check, after the description itself

    def delete(self, schedule_id: int | str) -> dict[str, Any]:
        with self._lock:
            deleted = rows.delete_schedule(self.ctx.store, schedule_id)
            self.tick()
        logger.info("schedule %s deleted", deleted)
        return {"id": deleted, "deleted": True}

    def set_enabled(self, schedule_id: int | str, enabled: bool) -> dict[str, Any]:
        """Enable or disable. Fire times that passed while disabled are recorded skipped."""
        with self._lock:
            was = rows.set_enabled(self.ctx.store, schedule_id, enabled)
            if enabled and not was:
                schedule = rows.find_schedule(schedule_id)
                evaluation = logic.evaluate(
                    view_of(schedule, schedule.bundle),
                    rows.decision_records(schedule.id),
                    self.ctx.clock.now(),
                    disabled_reason=DISABLED_REASON,
                )
                for decision in evaluation.decisions:
                    if decision.action == Occ.SKIPPED:
                        rows.record(
                            self.ctx.store,
                            schedule.id,
                            decision.fire_time,
                            Occ.SKIPPED,
                            decision.reason,
                        )
            self.tick()
        return self.get(schedule_id)

    def acknowledge(self, ids: list[int] | None = None) -> dict[str, Any]:
        return {"acknowledged": rows.acknowledge(self.ctx.store, ids)}

    # -- reading -------------------------------------------------------------------------------
    def list(self, schedule_id: int | None = None) -> list[dict[str, Any]]:
        """Every schedule (or one) with its latest occurrences and next fire times."""
        now = self.ctx.clock.now()
        with self.ctx.store.reader():
            found = rows.list_schedules(schedule_id)
            views = {s.id: view_of(s, b) for s, _, b in rows.schedules_with_bundles()}
        for item in found:
            view = views.get(item["id"])
            upcoming = triggers.next_fire_times(view, now, 3) if view and view.enabled else []
            item.update(triggers.upcoming_json(upcoming, item["timezone"]))
        return found

    def get(self, schedule_id: int | str) -> dict[str, Any]:
        return self.list(rows.find_schedule(schedule_id).id)[0]

    def missed(self) -> list[dict[str, Any]]:
        return rows.unacknowledged()

    def overview(self) -> dict[str, Any]:
        """``GET /api/schedules``: every schedule and the occurrences nobody has seen yet."""
        return {"schedules": self.list(), "missed": self.missed()}

    def next_fire_times(self, schedule: int | str | Schedule, n: int = 3) -> list[datetime]:
        row = schedule if isinstance(schedule, Schedule) else rows.find_schedule(schedule)
        return triggers.next_fire_times(view_of(row, row.bundle), self.ctx.clock.now(), n)
