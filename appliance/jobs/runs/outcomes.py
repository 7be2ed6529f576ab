"""What a step's outcome means for its run (states, error and hint texts), and the batches in
which a step's events go to the writer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from appliance.errors import ApplianceError
from appliance.jobs.runs.runner import StepOutcome
from appliance.states import STEPS_LEFT_AS, RunState, StepState
from appliance.store.events import insert_events

logger = logging.getLogger(__name__)


class EventBatch:
    """Events of a step on their way to the writer: one writer unit per batch (an INSERT of
    many rows costs about what one row does), flushed when 0.1 s old or 500 long, on every
    cancel-callback tick (0.2 s) and when the step ends, so nothing waits longer than that."""

    MAX_ROWS = 500
    MAX_AGE = 0.1

    def __init__(self, store: Any, to_row: Callable[[Any], dict[str, Any]]) -> None:
        self.store = store
        self.to_row = to_row
        self.rows: list[dict[str, Any]] = []
        self.since = 0.0

    def add(self, event: Any) -> None:
        if not self.rows:
            self.since = time.monotonic()
        self.rows.append(self.to_row(event))
        if len(self.rows) >= self.MAX_ROWS or time.monotonic() - self.since >= self.MAX_AGE:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            batch, self.rows = self.rows, []
            self.store.fire(insert_events, batch)


def outcome_state(outcome: StepOutcome, stop_reason: str | None) -> StepState:
    if outcome.status == "cancelled":
        return StepState.INTERRUPTED if stop_reason == "shutdown" else StepState.CANCELLED
    if outcome.status == "successful":
        return StepState.SUCCEEDED
    return StepState.FAILED


def steps_left_as(state: RunState) -> str | None:
    return STEPS_LEFT_AS.get(state)


def failed_result(run_id: int, where: str, outcome: StepOutcome) -> tuple[RunState, str, str]:
    cause = outcome.failure or f"ansible-playbook exited with {outcome.rc}"
    if outcome.unreachable:
        hint = (
            "Check that the host is reachable (address, port, user, key), then resume the "
            f"run (appliance resume {run_id})."
        )
    else:  # the command line's words; the window words its own hint from the run's actions
        hint = (
            f"Read the log (appliance log {run_id}), fix the cause, then resume the run "
            f"(appliance resume {run_id}), or roll back (appliance run SITE BUNDLE@VERSION "
            "--action rollback)."
        )
    return RunState.FAILED, f"failed {where}: {cause}", hint


def stopped_result(reason: str, where: str) -> tuple[RunState, str, str]:
    if reason == "shutdown":
        return (
            RunState.INTERRUPTED,
            f"interrupted {where}: the appliance was shut down",
            "Resume the run once the appliance runs again.",
        )
    return (
        RunState.CANCELLED,
        f"cancelled {where}",
        "Resume the run to continue from that step, or roll back.",
    )


def boundary_error(run_id: int, e: Exception) -> tuple[str, str]:
    """Error and hint of a run stopped inside the appliance: a refusal raised on purpose
    (credentials damaged since the start...) in its own words and way out; else a bug."""
    if isinstance(e, ApplianceError) and e.status < 500:
        logger.warning("run %d failed: %s", run_id, e.message)
        return e.message, e.hint
    logger.exception("run %d failed inside the appliance", run_id)
    return f"internal error: {e}", ApplianceError.default_hint
