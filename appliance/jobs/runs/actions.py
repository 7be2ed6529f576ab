"""What a run allows now, each refusal with its reason, so the window offers only the buttons
that can work (the same checks the actions make when they are asked for)."""

from __future__ import annotations

from typing import Any

from appliance.errors import ApplianceError
from appliance.jobs.runs.planning import plan_run
from appliance.states import ACTIVE, RESUMABLE, TERMINAL
from appliance.store import runs as rows
from appliance.store import sites
from appliance.store.bundles import bundle_by_id

ACTIONS = ("cancel", "resume", "rollback", "report")


def run_actions(run_id: int | str) -> dict[str, Any]:
    """``{"actions": [allowed...], "refused": {action: reason}}`` for the run as it is now."""
    run = rows.find_run(run_id)
    refused: dict[str, str] = {}
    if run.state not in ACTIVE:
        refused["cancel"] = f"run {run.id} has ended ({run.state})"
    if run.state not in RESUMABLE:
        refused["resume"] = (
            f"run {run.id} is {run.state}: only a failed, cancelled or interrupted run resumes"
        )
    elif later := rows.later_runs(run):
        refused["resume"] = (
            f"the site has had {later} run(s) since run {run.id} (a rollback or a new run): "
            "start a new run instead"
        )
    if run.state not in TERMINAL:
        refused["report"] = "the report is written once the run has ended"
        refused["rollback"] = f"run {run.id} is still {run.state}"
    elif run.action not in ("install", "upgrade"):
        refused["rollback"] = f"a {run.action} run changes nothing to roll back"
    else:
        refused.update(_rollback_refusal(run))
    return {"actions": [a for a in ACTIONS if a not in refused], "refused": refused}


def _rollback_refusal(run: Any) -> dict[str, str]:
    """The rollback the window would start: the site's, of this run's bundle (the planner's own
    refusal when it cannot: no rollback stage, no backup taken yet)."""
    bundle = bundle_by_id(run.bundle_id)
    try:
        plan_run(sites.find_site(run.site_id).id, bundle.name, bundle.version, "rollback")
    except ApplianceError as e:
        return {"rollback": e.message}
    return {}
