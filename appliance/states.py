"""Every state in the appliance, written down once: runs, their steps, schedule occurrences.

This module is a leaf (it imports nothing of ours), so the store, the run engine, the streams,
the report and notifications all use these names; the page gets them from ``GET /api/states``.

A run is ``queued`` when created, ``running`` while its supervisor drives Ansible, and ends
``succeeded``, ``failed``, ``cancelled`` (someone asked) or ``interrupted`` (the appliance stopped
or died under it). A failed, cancelled or interrupted run may be resumed: it goes back to
``running`` under the same id. The store function that changes a run's state enforces this table.

An occurrence (one fire time of a schedule) exists only once something happened to it, and
moves only forward: none -> waiting -> starting -> started | missed | skipped | failed.
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def active(self) -> bool:
        return self in ACTIVE


ACTIVE = frozenset({RunState.QUEUED, RunState.RUNNING})
TERMINAL = frozenset(
    {RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED, RunState.INTERRUPTED}
)
RESUMABLE = frozenset({RunState.FAILED, RunState.CANCELLED, RunState.INTERRUPTED})

TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.QUEUED: frozenset(
        {RunState.RUNNING, RunState.FAILED, RunState.CANCELLED, RunState.INTERRUPTED}
    ),
    RunState.RUNNING: frozenset(
        {RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED, RunState.INTERRUPTED}
    ),
    RunState.SUCCEEDED: frozenset(),
    RunState.FAILED: frozenset({RunState.RUNNING}),  # resume
    RunState.CANCELLED: frozenset({RunState.RUNNING}),  # resume
    RunState.INTERRUPTED: frozenset({RunState.RUNNING}),  # resume
}


def allowed(current: str | RunState, target: str | RunState) -> bool:
    return RunState(target) in TRANSITIONS[RunState(current)]


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


# The state a run's unfinished steps are left in when the run ends this way.
STEPS_LEFT_AS = {
    RunState.FAILED: StepState.FAILED,
    RunState.CANCELLED: StepState.CANCELLED,
    RunState.INTERRUPTED: StepState.INTERRUPTED,
}


class OccurrenceState(StrEnum):
    WAITING = "waiting"  # the site was busy; retried while the window is open
    STARTING = "starting"  # claimed, the run is being started (a crash here never starts twice)
    STARTED = "started"  # the run was started; ``run`` points at it
    MISSED = "missed"  # the window passed without a start (appliance off, asleep, site busy)
    SKIPPED = "skipped"  # deliberately not started (window too short, superseded, disabled)
    FAILED = "failed"  # the run could not be started (e.g. the bundle cannot upgrade this site)


OPEN_OCCURRENCES = frozenset({OccurrenceState.WAITING, OccurrenceState.STARTING})
FINAL_OCCURRENCES = frozenset(
    {
        OccurrenceState.STARTED,
        OccurrenceState.MISSED,
        OccurrenceState.SKIPPED,
        OccurrenceState.FAILED,
    }
)
# listed under "missed" until someone acknowledges them
UNSEEN_OCCURRENCES = frozenset(
    {OccurrenceState.MISSED, OccurrenceState.SKIPPED, OccurrenceState.FAILED}
)


def as_json() -> dict[str, object]:
    """The states the page needs, so it keeps no copy of its own."""
    return {
        "run": [str(state) for state in RunState],
        "terminal": sorted(str(state) for state in TERMINAL),
        "active": sorted(str(state) for state in ACTIVE),
        "resumable": sorted(str(state) for state in RESUMABLE),
        "step": [str(state) for state in StepState],
        "occurrence": [str(state) for state in OccurrenceState],
        "unseen_occurrence": sorted(str(state) for state in UNSEEN_OCCURRENCES),
    }
