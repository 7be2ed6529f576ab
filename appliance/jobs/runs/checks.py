"""Checks a step reports as data: Ansible's ``set_stats`` under ``appliance_checks``.

A playbook reports ``{"appliance_checks": {"<host>": [{name, status, message}, ...]}}`` with
``per_host: false`` (ansible-runner hands over only the run-wide custom stats; see
docs/bundle-format.md). Statuses are ``pass``, ``warn`` and ``fail``; any other status (or none)
counts as ``fail``, its message saying so: a check the appliance cannot read must not let a run
change a site. A ``fail`` check fails its step even when the playbook succeeded; ``warn`` does
not stop the run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from appliance.jobs.ansible.customstats import host_records
from appliance.jobs.runs.runner import StepOutcome

KEY = "appliance_checks"
STATUSES = ("pass", "warn", "fail")
MAX_CHECKS = 1000  # stored per step; the rest are summed up in one more row
MAX_NAME = 200


def read_checks(custom: Any, redact: Callable[[str], str] | None = None) -> list[dict[str, str]]:
    """The step's checks as rows ``{host, name, status, message}`` (bounded, redacted)."""
    clean = redact or (lambda text: text)
    rows: list[dict[str, str]] = []
    for host, records in host_records(custom, KEY).items():
        for number, record in enumerate(records, start=1):
            raw = record.get("status", "")
            status = raw.strip().lower()
            message = record.get("message", "")
            if status not in STATUSES:
                told = f"unknown status {raw[:40]!r}" if raw else "no status"
                message = f"{told} (expected pass, warn or fail)" + (
                    f": {message}" if message else ""
                )
                status = "fail"
            name = " ".join(record.get("name", "").split())[:MAX_NAME] or f"check {number}"
            rows.append(
                {"host": host, "name": clean(name), "status": status, "message": clean(message)}
            )
    if len(rows) > MAX_CHECKS:
        rest = rows[MAX_CHECKS - 1 :]
        worst = max((r["status"] for r in rest), key=STATUSES.index)
        failing = sum(r["status"] == "fail" for r in rest)
        rows = rows[: MAX_CHECKS - 1]
        rows.append(
            {
                "host": "*",
                "name": "more checks",
                "status": worst,
                "message": f"{len(rest)} more check(s) not kept, {failing} of them failed",
            }
        )
    return rows


def apply_checks(outcome: StepOutcome, rows: list[dict[str, str]]) -> None:
    """A failed check fails a step whose playbook succeeded; the failure names it."""
    failed = [r for r in rows if r["status"] == "fail"]
    if outcome.status != "successful" or not failed:
        return
    first = failed[0]
    more = f" (and {len(failed) - 1} more failed check(s))" if len(failed) > 1 else ""
    outcome.status = "failed"
    outcome.failure = (
        f"{first['host']}: check {first['name']!r} failed"
        + (f": {first['message']}" if first["message"] else "")
        + more
    )


def counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {status: sum(r["status"] == status for r in rows) for status in STATUSES}
