"""Offline analyzers of a support bundle: from what was collected (no host is asked again), a
list of findings ``{"scope", "name", "status": pass|warn|fail, "message"}``, shown first in
the bundle's index.html."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

DISK_FAIL = 0.90  # used share of a file system that fails
DISK_WARN = 0.80
ERROR_LINE = re.compile(r"\b(?:ERROR|FATAL|CRITICAL|Traceback)\b", re.I)
FAILED_RUN = {"failed", "interrupted"}


def _finding(scope: str, name: str, status: str, message: str) -> dict[str, str]:
    return {"scope": scope, "name": name, "status": status, "message": message}


def host_findings(host: str, summary: Mapping[str, Any], lines: Sequence[str]) -> list[dict]:
    if summary.get("unreachable") or summary.get("error"):
        return [_finding(host, "reachable", "fail", str(summary.get("error") or "unreachable"))]
    out = [_finding(host, "reachable", "pass", "answered")]
    for path, disk in sorted(((summary.get("facts") or {}).get("disks") or {}).items()):
        total, free = disk.get("total") or 0, disk.get("free") or 0
        if not total:
            continue
        used = 1 - free / total
        status = "fail" if used > DISK_FAIL else "warn" if used > DISK_WARN else "pass"
        out.append(_finding(host, f"disk {path}", status, f"{used:.0%} used"))
    errors = [line for line in lines if ERROR_LINE.search(line)]
    if errors:
        message = f"{len(errors)} error line(s) in the logs; last: {errors[-1][:200]}"
        out.append(_finding(host, "log errors", "warn", message))
    else:
        out.append(_finding(host, "log errors", "pass", f"no error line in {len(lines)} line(s)"))
    return out


def site_findings(site: Mapping[str, Any], runs: Sequence[Mapping[str, Any]]) -> list[dict]:
    name = site["name"]
    out = []
    finished = [r for r in runs if r["finished_at"]]
    if finished:
        last = finished[0]  # newest first
        status = "fail" if last["state"] in FAILED_RUN else "pass"
        status = "warn" if last["state"] == "cancelled" else status
        message = f"run {last['id']} ({last['action']} {last['version']}) {last['state']}"
        if last.get("error"):
            message += f": {last['error']}"
        out.append(_finding(name, "last run", status, message))
    else:
        out.append(_finding(name, "last run", "warn", "no finished run"))
    versions = {f"{info['bundle']} {info['bundle_version']}" for info in site["installed"].values()}
    if len(versions) > 1:
        out.append(
            _finding(
                name, "version drift", "warn", "components from " + ", ".join(sorted(versions))
            )
        )
    elif versions:
        out.append(_finding(name, "version drift", "pass", f"all from {versions.pop()}"))
    else:
        out.append(_finding(name, "version drift", "warn", "nothing installed"))
    return out


def status_findings(site: str, status: Mapping[str, Any] | None) -> list[dict]:
    """From the site's last status (day two): a component stopped or unreachable on a host
    fails, degraded or unknown warns, running passes; a version the host reports other than
    the recorded one warns (drift)."""
    if not status or not status.get("components"):
        return [_finding(site, "component status", "warn", "no status checked yet")]
    out = []
    when = status.get("checked_at") or "?"
    for component in status["components"]:
        for host in component.get("hosts", []):
            state = host.get("state", "unknown")
            result = "pass" if state == "running" else "fail"
            result = "warn" if state in ("degraded", "unknown") else result
            message = f"{state} (status of {when})" + (
                f": {host['detail']}" if host.get("detail") else ""
            )
            out.append(_finding(host["host"], f"{component['component']} status", result, message))
            recorded, version = component.get("installed_version"), host.get("version")
            if version and recorded and version != recorded:
                text = f"recorded {component['component']} {recorded}, host reports {version}"
                out.append(_finding(host["host"], "version drift", "warn", text))
    return out
