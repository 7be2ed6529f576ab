"""The states of a run and of its steps, with the allowed moves written down once.

A run is ``queued`` when created, ``running`` while its supervisor drives Ansible, and ends
``succeeded``, ``failed``, ``cancelled`` (someone asked) or ``interrupted`` (the appliance stopped
or died under it). A failed, cancelled or interrupted run may be resumed: it goes back to
``running`` under the same id. The store function that changes a run's state enforces this table.
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


# A step's outcome -> the run's final state when that step ends the run.
RUN_STATE_FOR_STEP = {
    StepState.FAILED: RunState.FAILED,
    StepState.CANCELLED: RunState.CANCELLED,
    StepState.INTERRUPTED: RunState.INTERRUPTED,
}
