"""Service control: a component's start, stop or restart as a run with action ``operate``,
through the run manager (its own log, events, history, cancel and report)."""

from __future__ import annotations

from typing import Any

from appliance.errors import ServiceUnavailable
from appliance.jobs.runs.operate import OPERATE, operation_request
from appliance.jobs.runs.planning import operation_bundle
from appliance.validate import Field, check_str_list, expect_object

OPERATION_FIELDS = {
    "component": Field(str, required=True, check=lambda v: None if v.strip() else "is empty"),
    "operation": Field(str, required=True),
    "hosts": Field(list, check=check_str_list),
}


def start_operation(
    runs: Any, site: int | str, body: Any, *, trigger: str = "manual", dry_run: bool = False
) -> dict[str, Any]:
    """Check the request, then start the run (Unprocessable / BadRequest / Conflict, nothing
    started, when the bundle declares no such operation or the site is busy)."""
    if runs is None:
        raise ServiceUnavailable(
            "the run engine is not running", "Restart the appliance (appliance serve)."
        )
    operation = operation_request(expect_object(body, "operation", OPERATION_FIELDS))
    bundle, version = operation_bundle(site, operation.component)
    return runs.start_run(
        site, bundle, version, OPERATE, trigger=trigger, dry_run=dry_run, operation=operation
    )
