"""The run report for customer sign-off: one self-contained HTML file per finished run.

No external assets and no script: inline CSS only, so it opens anywhere (a customer's browser,
an e-mail attachment) and prints well. Saved under ``reports/<run>.html``.
"""

from __future__ import annotations

import functools
import getpass
import os
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from markupsafe import Markup

from appliance import __version__
from appliance.clock import iso
from appliance.context import Context
from appliance.errors import Conflict
from appliance.jobs.runs.log import strip_ansi
from appliance.states import TERMINAL
from appliance.store import runs as run_rows
from appliance.store import sites as site_rows
from appliance.store.events import TASK_EVENTS, list_events

ERROR_RE = re.compile(r"fatal:|FAILED!|ERROR|failed=[1-9]|unreachable=[1-9]")
STEP_HEADER_RE = re.compile(r"^=== \[(\d+)/\d+\]")
MAX_ERROR_LINES = 200
RESULT_KEYS = ("ok", "changed", "failed", "unreachable", "skipped")

TEMPLATE = "report.html"  # next to this module; package data (pyproject, build.spec)


@functools.cache
def _template() -> jinja2.Template:
    """The report template, loaded once. Autoescaping is on (Jinja2's default is off); values
    are escaped the way :func:`html.escape` does (``"`` as ``&quot;``), as the report always
    was, and the template's own markup stays as written."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent),
        autoescape=True,
        finalize=lambda value: value if isinstance(value, Markup) else Markup(escape(str(value))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(TEMPLATE)


def _time(value: str | None, zone: tzinfo) -> str:
    """A stored time in the site's zone, with the zone's abbreviation (the zone's name is said
    once, in the summary)."""
    if not value:
        return "—"
    try:
        return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
    except ValueError:
        return value


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # validated when set; a zone gone since
        return UTC


def _duration(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "—"
    try:
        seconds = int((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())
    except ValueError:
        return "—"
    h, rest = divmod(max(seconds, 0), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def operator() -> str:
    """Who produced the report: the OS user at this machine's host name."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def error_lines(log: Path, failed_steps: set[int]) -> dict[int | None, list[str]]:
    """Error-looking lines of the failed steps (ANSI stripped), keyed by step idx; lines
    outside any step header go under None. Streams the log: it may be large."""
    found: dict[int | None, list[str]] = {}
    if not log.exists():
        return found
    step: int | None = None
    with log.open("r", encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = strip_ansi(raw.rstrip("\n"))
            header = STEP_HEADER_RE.match(line)
            if header:
                step = int(header.group(1))
                continue
            if (step in failed_steps or step is None) and ERROR_RE.search(line):
                bucket = found.setdefault(step, [])
                if len(bucket) < MAX_ERROR_LINES:
                    bucket.append(line)
    return found


def _versions(installed: dict[str, Any]) -> str:
    bundles = sorted(
        {
            f"{v.get('bundle_name') or v.get('bundle')} {v['bundle_version']}"
            for v in installed.values()
        }
    )
    return ", ".join(bundles) or "nothing"


def _verify_results(run_id: int, verify_steps: list[dict[str, Any]]) -> Iterator[list[str]]:
    wanted = {s["idx"] for s in verify_steps}
    after = 0
    while True:
        events = list_events(run_id, after=after, limit=5000)
        if not events:
            return
        for ev in events:
            if ev["step"] in wanted and ev["event"] in TASK_EVENTS and ev["host"]:
                status = ev["status"] or ev["event"].removeprefix("runner_on_")
                changed = " (changed)" if ev["changed"] else ""
                yield [ev["host"], ev["task"] or "", status + changed]
        after = events[-1]["seq"]


def render_report(ctx: Context, run_id: int | str) -> str:
    """The report's HTML for a finished run (Conflict while it is still active)."""
    run = run_rows.get_run(run_id)
    if run["state"] not in TERMINAL:
        raise Conflict(
            f"run {run['id']} is still {run['state']}",
            "Wait until the run has finished; the report is written for finished runs.",
        )
    site = site_rows.get_site(run["site_id"])
    zone = _zone(site["timezone"])
    steps = run["steps"]
    verify = [s for s in steps if s["kind"] == "verify"]
    return _template().render(
        run=run,
        site=site,
        facts=_facts(run, site, zone),
        steps=[_step_row(s, zone) for s in steps],
        zone_name=getattr(zone, "key", "UTC"),
        host_headers=["Host", *RESULT_KEYS],
        hosts=[
            [host, *(counts.get(k, 0) for k in RESULT_KEYS)]
            for host, counts in sorted((run.get("hosts") or {}).items())
        ],
        installed=[
            [
                c,
                v["version"],
                f"{v['bundle']} {v['bundle_version']}",
                v["run"] or "—",
                _time(v["updated_at"], zone),
            ]
            for c, v in site["installed"].items()
        ],
        checks=run.get("checks") or [],
        verify_steps=verify,
        verify_results=list(_verify_results(run["id"], verify)) if verify else [],
        errors=_errors(ctx, run),
        generated=_time(iso(ctx.clock.now()), zone),
        version=__version__,
    )


def _facts(run: dict[str, Any], site: dict[str, Any], zone: tzinfo) -> list[tuple[str, Any]]:
    return [
        ("Site", site["name"]),
        ("Action", run["action"]),
        ("Bundle", f"{run['bundle']} {run['version']}"),
        ("Installed before", _versions(run.get("installed_before") or {})),
        ("Installed after", _versions(site["installed"])),
        ("Trigger", run["trigger"]),
        ("Time zone", f"{getattr(zone, 'key', 'UTC')} (the site's; all times in this report)"),
        ("Created", _time(run["created_at"], zone)),
        ("Started", _time(run["started_at"], zone)),
        ("Finished", _time(run["finished_at"], zone)),
        ("Duration", _duration(run["started_at"], run["finished_at"])),
        ("Operator (OS user @ host)", operator()),
        ("Hosts", ", ".join(f"{h['name']} ({h['address']})" for h in site["hosts"]) or "—"),
    ]


def _step_row(s: dict[str, Any], zone: tzinfo) -> list[Any]:
    return [
        s["idx"],
        s["name"],
        s["kind"],
        s["component"] or "—",
        s["from_version"] or "—",
        s["to_version"] or "—",
        s["state"],
        _time(s["started_at"], zone),
        _duration(s["started_at"], s["finished_at"]),
        "—" if s["rc"] is None else s["rc"],
    ]


def _errors(ctx: Context, run: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, text) of the error lines of each failed step; none for a succeeded run."""
    if run["state"] == "succeeded":
        return []
    by_idx = {s["idx"]: s for s in run["steps"]}
    failed = {idx for idx, s in by_idx.items() if s["state"] == "failed"}
    return [
        (
            f"Step {idx}: {by_idx[idx]['name']}" if idx in by_idx else "Outside any step",
            "\n".join(lines),
        )
        for idx, lines in error_lines(ctx.paths.run_log(run["id"]), failed).items()
    ]


def write_report(ctx: Context, run_id: int | str) -> Path:
    """Render the report and save it as ``reports/<run>.html`` (atomically); returns the path."""
    html = render_report(ctx, run_id)
    run = run_rows.find_run(run_id)
    ctx.paths.reports.mkdir(parents=True, exist_ok=True)
    path = ctx.paths.reports / f"{run.id}.html"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path
