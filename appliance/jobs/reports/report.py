"""The run report for customer sign-off: one self-contained HTML file per finished run.

No external assets and no script: inline CSS only, so it opens anywhere (a customer's browser,
an e-mail attachment) and prints well. Saved under ``reports/<run>.html``.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
from collections.abc import Iterable, Iterator
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance.clock import iso
from appliance.context import Context
from appliance.errors import Conflict
from appliance.states import TERMINAL
from appliance.store import runs as run_rows
from appliance.store import sites as site_rows
from appliance.store.events import TASK_EVENTS, list_events

ERROR_RE = re.compile(r"fatal:|FAILED!|ERROR|failed=[1-9]|unreachable=[1-9]")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
STEP_HEADER_RE = re.compile(r"^=== \[(\d+)/\d+\]")
MAX_ERROR_LINES = 200
RESULT_KEYS = ("ok", "changed", "failed", "unreachable", "skipped")

CSS = """
body{font:13px/1.45 system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#1d232a;
margin:2rem auto;max-width:60rem;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem;
border-bottom:2px solid #1f4e79;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;margin:.3rem 0}
th,td{border:1px solid #c9d1d9;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f6}.facts th{width:14rem}
.state{font-weight:700}.s-succeeded{color:#166534}.s-failed,.s-interrupted{color:#991b1b}
.s-cancelled{color:#92400e}.bad{color:#991b1b;font-weight:700}
.error{border:1px solid #f1b8b4;border-left:4px solid #b3261e;background:#fff1f0;
padding:.5rem .8rem}
pre{font:11.5px/1.4 ui-monospace,"DejaVu Sans Mono",monospace;background:#f6f8fa;
border:1px solid #d0d7de;padding:.5rem;white-space:pre-wrap;word-break:break-all}
.sign{display:flex;gap:3rem;margin-top:2.5rem}.sign div{flex:1;border-top:1px solid #555;
padding-top:.3rem}.muted{color:#5b6673}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr,pre{break-inside:avoid}
@page{margin:1.5cm}}
"""


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text).replace("\x1b", "")


def _time(value: str | None) -> str:
    if not value:
        return "—"
    try:
        return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    except ValueError:
        return value


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


def _rows(cells: Iterable[Iterable[Any]]) -> str:
    return "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in cells
    )


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = _rows(rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


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
    steps = run["steps"]
    failed = {s["idx"] for s in steps if s["state"] == "failed"}
    errors = {}
    if run["state"] != "succeeded":
        errors = error_lines(ctx.paths.run_log(run["id"]), failed)
    before = _versions(run.get("installed_before") or {})
    state = escape(run["state"])

    facts = [
        ("Site", site["name"]),
        ("Action", run["action"]),
        ("Bundle", f"{run['bundle']} {run['version']}"),
        ("Installed before", before),
        ("Installed after", _versions(site["installed"])),
        ("Trigger", run["trigger"]),
        ("Created", _time(run["created_at"])),
        ("Started", _time(run["started_at"])),
        ("Finished", _time(run["finished_at"])),
        ("Duration", _duration(run["started_at"], run["finished_at"])),
        ("Operator (OS user @ host)", operator()),
        ("Hosts", ", ".join(f"{h['name']} ({h['address']})" for h in site["hosts"]) or "—"),
    ]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Run {run['id']} report: {escape(site['name'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Run report #{run['id']}: {escape(run['action'])} {escape(run['bundle'])} "
        f"{escape(run['version'])} on {escape(site['name'])}</h1>",
        f"<p>Result: <span class='state s-{state}'>{state.upper()}</span></p>",
    ]
    if run.get("error"):
        parts.append(
            f"<div class='error'><b>Error:</b> {escape(run['error'])}"
            + (f"<br><b>What to do:</b> {escape(run['hint'])}" if run.get("hint") else "")
            + "</div>"
        )
    parts += [
        "<h2>Summary</h2>",
        "<table class='facts'><tbody>"
        + "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
        + "</tbody></table>",
        "<h2>Steps</h2>",
        _table(
            ["#", "Step", "Kind", "Component", "From", "To", "State", "Started", "Duration", "rc"],
            (
                [
                    s["idx"],
                    s["name"],
                    s["kind"],
                    s["component"] or "—",
                    s["from_version"] or "—",
                    s["to_version"] or "—",
                    s["state"],
                    _time(s["started_at"]),
                    _duration(s["started_at"], s["finished_at"]),
                    "—" if s["rc"] is None else s["rc"],
                ]
                for s in steps
            ),
        ),
        "<h2>Results per host</h2>",
    ]
    hosts = run.get("hosts") or {}
    if hosts:
        parts.append(
            _table(
                ["Host", *RESULT_KEYS],
                (
                    [host, *(counts.get(k, 0) for k in RESULT_KEYS)]
                    for host, counts in sorted(hosts.items())
                ),
                "hosts",
            )
        )
    else:
        parts.append("<p class='muted'>No host reported a task result.</p>")
    parts.append("<h2>Installed versions after the run</h2>")
    if site["installed"]:
        parts.append(
            _table(
                ["Component", "Version", "Bundle", "Recorded by run", "Updated"],
                (
                    [
                        c,
                        v["version"],
                        f"{v['bundle']} {v['bundle_version']}",
                        v["run"] or "—",
                        _time(v["updated_at"]),
                    ]
                    for c, v in site["installed"].items()
                ),
            )
        )
    else:
        parts.append("<p class='muted'>Nothing is recorded as installed on this site.</p>")
    verify = [s for s in steps if s["kind"] == "verify"]
    parts.append("<h2>Verification</h2>")
    if verify:
        parts.append(
            "<p>"
            + ", ".join(
                f"step {s['idx']} {escape(s['name'])}: <b>{escape(s['state'])}</b>" for s in verify
            )
            + "</p>"
        )
        results = list(_verify_results(run["id"], verify))
        if results:
            parts.append(_table(["Host", "Check", "Result"], results))
    else:
        parts.append("<p class='muted'>This run has no verify step.</p>")
    if errors:
        parts.append("<h2>Errors</h2>")
        by_idx = {s["idx"]: s for s in steps}
        for idx, lines in errors.items():
            title = f"Step {idx}: {by_idx[idx]['name']}" if idx in by_idx else "Outside any step"
            parts.append(f"<h3>{escape(title)}</h3><pre>{escape(chr(10).join(lines))}</pre>")
    parts += [
        "<div class='sign'><div>Implementation engineer (name, date, signature)</div>"
        "<div>Customer representative (name, date, signature)</div></div>",
        f"<p class='muted'>Generated {escape(_time(iso(ctx.clock.now())))} by appliance "
        f"{escape(__version__)} from run {run['id']}.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


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
