"""A site needs attention while its last install, upgrade, rollback, operation, reconfigure or
backup failed, was cancelled or interrupted (a check never counts); the next successful such run
clears it, or the engineer acknowledges it with a reason (kept as history)."""

from __future__ import annotations

from typing import Any

from appliance.context import Context
from appliance.errors import BadRequest, Conflict
from appliance.store import daytwo as rows
from appliance.store import sites
from appliance.validate import Field, expect_object

ACK_FIELDS = {"reason": Field(str, required=True)}


def attention_of(site_ref: int | str) -> dict[str, Any]:
    site = sites.find_site(site_ref)
    return {
        "site": site.name,
        "attention": rows.attention(site.id),
        "acknowledged": rows.acknowledgements(site.id),
    }


def acknowledge(ctx: Context, site_ref: int | str, body: Any) -> dict[str, Any]:
    """Acknowledge what the site needs attention for, with a reason (``{"reason"}``)."""
    reason = expect_object(body, "acknowledgement", ACK_FIELDS)["reason"].strip()
    if not reason:
        raise BadRequest(
            "acknowledgement.reason is empty", "Say why the site is fine (kept in the history)."
        )
    site = sites.find_site(site_ref)
    run = rows.attention_run(site.id)
    if run is None:
        raise Conflict(
            f"site {site.name} needs no attention", "Nothing to acknowledge; refresh the page."
        )
    rows.acknowledge(ctx.store, site.id, run.id, reason)
    return attention_of(site.id)
