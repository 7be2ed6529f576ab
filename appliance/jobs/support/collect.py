"""A support bundle of one site: a ``.tar.gz`` with, per host, the declared logs (bounded tails)
and basic facts; the appliance's own record of that site only (its hosts and variables, its
runs with their logs and events, the lines of the appliance log that concern it); the
analyzers' findings (with the site's last status, day two); and an ``index.html`` that opens
offline. Every text goes through the Scrubber (redact.py) before it is written; the archive is
written beside the target and renamed into place, so a failed collection leaves nothing."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tarfile
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance.context import Context
from appliance.errors import ApplianceError
from appliance.jobs.ansible.secrets import runner_secrets
from appliance.jobs.logsearch.engine import search
from appliance.jobs.logsearch.request import plan_search
from appliance.jobs.sites.service import unlocked_key
from appliance.jobs.support import analyzers, page
from appliance.jobs.support.redact import Scrubber, all_known_secrets, masked, secret_vars
from appliance.store import credentials, daytwo, events, runs, sites
from appliance.store.credential_key import load_key

logger = logging.getLogger(__name__)

LOG_LINES = 1000  # per host (the log search's bound; bytes bounded there too)
MAX_RUNS = 20  # the newest runs of the site
RUN_LOG_BYTES = 1024 * 1024  # the tail of each run's output.log
MAX_EVENTS = 2000  # the last events of each run
APPLIANCE_LOG_BYTES = 4 * 1024 * 1024  # read from the end of the appliance's logs


def make_bundle(ctx: Context, site_ref: int | str, passphrase: str | None = None) -> bytes:
    """The archive's bytes (at most a few MiB by the bounds above)."""
    site = sites.get_site(site_ref)
    others = [s["name"] for s in sites.list_sites() if s["id"] != site["id"]]
    key = load_key(ctx.paths.root, passphrase) if passphrase else unlocked_key(ctx)
    known = all_known_secrets(
        ctx.paths.root, [s["id"] for s in sites.list_sites()], key, site["id"]
    )
    scrub = Scrubber([*known, *secret_vars(site["vars"]), *_host_secrets(site)])
    own = runner_secrets(credentials.load_credentials(ctx.paths.root, site["id"], key=key))
    files: dict[str, str] = {}
    hosts = _collect_hosts(ctx, site, own, files)
    site_runs = runs.list_runs(site=site["id"], limit=MAX_RUNS)
    for run in site_runs:
        _collect_run(ctx, run, files)
    files["site.json"] = _json(
        {
            **site,
            "vars": masked(site["vars"]),
            "hosts": [{**h, "vars": masked(h["vars"] or {})} for h in site["hosts"]],
            "credentials": credentials.credential_kinds(site["id"]),
        }
    )
    files["appliance.log"] = _appliance_lines(ctx, site, [r["id"] for r in site_runs], others)
    status = daytwo.last_status(site["id"])
    files["status.json"] = _json(status)
    status_log = ctx.paths.root / "status" / str(site["id"]) / "status.log"  # jobs/daytwo
    if status_log.is_file():
        files["status.log"] = _tail(status_log, RUN_LOG_BYTES)
    findings = analyzers.site_findings(site, site_runs)
    findings += analyzers.status_findings(site["name"], status)
    for name, summary in hosts.items():
        lines = [
            ln
            for path, text in files.items()
            if path.startswith(f"hosts/{name}/logs/")
            for ln in text.splitlines()
        ]
        findings += analyzers.host_findings(name, summary, lines)
    meta = {"site": site["name"], "created_at": ctx.store.now(), "appliance": __version__}
    files["findings.json"] = _json(findings)
    files["index.html"] = page.render(meta, findings, hosts, site_runs, sorted(files))
    return _archive(f"support-{_safe(site['name'])}", {p: scrub(t) for p, t in files.items()})


def write_bundle(data: bytes, target: Path) -> Path:
    """``data`` at ``target``, written beside it and renamed into place."""
    target = target.resolve()
    fd, tmp = tempfile.mkstemp(prefix=".support-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _host_secrets(site: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for host in site["hosts"]:
        found += secret_vars(host["vars"] or {})
    return found


def _collect_hosts(ctx: Context, site: dict, secrets: Any, files: dict[str, str]) -> dict:
    """Per host: the declared logs' tails and the facts, through the log search's module."""
    try:
        req = replace(plan_search(site["id"], lines=LOG_LINES), facts=True)
    except ApplianceError as e:  # nothing declares logs, a run is active: no host searched
        logger.info("support bundle of %s: no log search (%s)", site["name"], e)
        return {h["name"]: {"error": e.message, "lines": 0} for h in site["hosts"]}
    summary: dict[str, Any] = {}
    per_host: dict[str, dict[str, list[str]]] = {}
    for item in search(ctx.paths.root, req, secrets):
        if "summary" in item:
            summary = item["summary"]["hosts"]
        else:
            per_host.setdefault(item["host"], {}).setdefault(item["file"], []).append(item["line"])
    for host, by_file in per_host.items():
        for path, lines in by_file.items():
            files[f"hosts/{_safe(host)}/logs/{_safe(path.strip('/'))}"] = "\n".join(lines) + "\n"
    for host, s in summary.items():
        files[f"hosts/{_safe(host)}/facts.json"] = _json(s.get("facts") or {})
        files[f"hosts/{_safe(host)}/search.json"] = _json(s)
    return summary


def _collect_run(ctx: Context, run: dict[str, Any], files: dict[str, str]) -> None:
    base = f"runs/{run['id']}"
    files[f"{base}/run.json"] = _json(runs.get_run(run["id"]))
    path = ctx.paths.run_log(run["id"])
    if path.exists():
        files[f"{base}/output.log"] = _tail(path, RUN_LOG_BYTES)
    found = events.list_events(run["id"], 0, 1_000_000)[-MAX_EVENTS:]
    files[f"{base}/events.json"] = _json(found)


def _appliance_lines(ctx: Context, site: dict, run_ids: list[int], others: list[str]) -> str:
    """Lines of the appliance's own logs that name this site or one of its runs, and no other
    site (another customer's name never enters the bundle)."""
    names = [re.escape(site["name"])] + [rf"run {i}\b" for i in run_ids]
    ours = re.compile(rf"(?<![\w-])(?:{'|'.join(names)})")
    theirs = re.compile("|".join(re.escape(o) for o in others)) if others else None
    out = []
    logs = sorted(ctx.paths.logs.glob("appliance.log*"), key=lambda p: p.stat().st_mtime)
    for path in logs:
        for line in _tail(path, APPLIANCE_LOG_BYTES).splitlines():
            if ours.search(line) and not (theirs and theirs.search(line)):
                out.append(line)
    return "\n".join(out[-5000:]) + "\n"


def _tail(path: Path, limit: int) -> str:
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - limit))
        data = fh.read(limit)
    if size > limit:
        data = data[data.find(b"\n") + 1 :]
    return data.decode("utf-8", "replace")


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._/-]", "_", text).replace("..", "_")


def _archive(top: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, text in sorted(files.items()):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mtime, info.mode = len(data), int(now), 0o600
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
