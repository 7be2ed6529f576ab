"""Log search on a local site: the demo platform installed for real, then its app's log searched
through the API (real server, NDJSON stream) and the CLI, within bounds; bad requests refused
with a hint before anything runs."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from appliance.context import Context
from appliance.jobs.runs.manager import RunManager
from appliance.store import credential_key
from appliance.store import runs as rows
from tests.runs.conftest import LocalSite
from tests.support.cli import run_cli
from tests.support.client import Api


def search(api: Api, site: str, query: str = "") -> tuple[list[dict], dict]:
    reply = api.get(f"/api/sites/{site}/logs?{query}")
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("application/x-ndjson")
    items = [json.loads(line) for line in reply.body.decode().splitlines()]
    assert "summary" in items[-1] and all("summary" not in i for i in items[:-1])
    return items[:-1], items[-1]["summary"]


def nothing_ran(data_dir: Path) -> bool:
    leftovers = list((data_dir / "tmp").glob("logsearch-*")) if (data_dir / "tmp").exists() else []
    return not leftovers and not any(t.name == "logsearch" for t in threading.enumerate())


@pytest.mark.slow
def test_search_finds_the_app_log_lines_within_bounds(
    ctx: Context, manager: RunManager, local_site: LocalSite, import_bundle, api: Api
) -> None:
    import_bundle("demo-platform@1.0.0")
    run = manager.start_run("lab", "demo-platform", "1.0.0")
    assert manager.wait(run["id"], 240)["state"] == "succeeded"
    log = local_site.root / "logs" / "app.log"
    # lines the app wrote (its start line, the health checks), plus many more to bound
    with log.open("a") as fh:
        for i in range(3000):
            fh.write(f"filler {i} " + "x" * 200 + "\n")
        fh.write("needle ünïcode 中文 line\n")

    lines, summary = search(api, "lab", "grep=listening%20on")
    assert lines and all(i["host"] == "local" and i["file"] == str(log) for i in lines)
    assert f":{local_site.port} " in lines[-1]["line"]
    host = summary["hosts"]["local"]
    assert host["lines"] == len(lines) and not host["truncated"] and host["error"] is None
    assert summary["components"] == ["app"] and summary["grep"] == "listening on"

    # the component, a unicode fixed string, a regex
    lines, _ = search(api, "lab", "component=app&grep=" + quote("中文"))
    assert [i["line"] for i in lines] == ["needle ünïcode 中文 line"]
    lines, _ = search(api, "lab", "regex=1&grep=" + quote(r"^filler 29\d\d "))
    assert len(lines) == 100 and lines[0]["line"].startswith("filler 2900 ")  # default lines

    # bounds: lines, then bytes (1000 lines of ~210 bytes are over 256 KiB)
    lines, summary = search(api, "lab", "grep=filler&lines=7")
    assert [i["line"].split()[1] for i in lines] == [str(n) for n in range(2993, 3000)]
    assert summary["hosts"]["local"]["truncated"] is True
    lines, summary = search(api, "lab", "grep=filler&lines=1000")
    assert 0 < len(lines) < 1000 and summary["hosts"]["local"]["truncated"] is True
    assert sum(len(i["line"].encode()) for i in lines) <= 256 * 1024

    # the CLI: the same search, one line per hit, the summary on stderr
    result = run_cli(ctx.paths.root, "logs", "lab", "app", "--grep", "needle", "--host", "local")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"local  {log}: needle ünïcode 中文 line\n"
    assert "local: 1 line(s) from 1 file(s)" in result.stderr
    result = run_cli(ctx.paths.root, "logs", "lab", "--grep", "needle", "--json")
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert items[0]["line"] == "needle ünïcode 中文 line" and "summary" in items[-1]

    # a host whose log is missing says so (no error, no lines)
    log.rename(log.with_suffix(".old"))
    lines, summary = search(api, "lab", "")
    assert lines == [] and summary["hosts"]["local"]["files"] == []


def record_installed(ctx: Context, site_id: int) -> None:
    record = {
        c: {"version": v, "bundle_name": "demo-platform", "bundle_version": "1.0.0"}
        for c, v in {"db": "1", "config": "1.0.0", "app": "1.0.0"}.items()
    }
    ctx.store.write(rows.record_installed, site_id, None, record, ctx.store.now())


@pytest.mark.parametrize(
    ("query", "status", "error", "hint"),
    [
        ("regex=1&grep=" + quote("(a+)+b"), 400, "quantifier inside a repeated group", "fixed"),
        ("regex=1&grep=" + quote(r"(x)\1"), 400, "backreference", "simpler"),
        ("regex=1&grep=" + quote("[oops"), 400, "not a valid regular expression", "fixed"),
        ("grep=" + "a" * 201, 400, "at most 200", "shorter"),
        ("lines=100000", 400, "too many", "1 to 1000"),
        ("lines=0", 400, "out of range", "1 to 1000"),
        ("lines=ten", 400, "not an integer", "whole number"),
        ("regex=maybe", 400, "not a boolean", "regex=1"),
        ("component=nothing", 404, "no component 'nothing'", "Components with declared logs: app"),
        ("component=db", 404, "no component 'db'", "app"),
        ("host=elsewhere", 404, "no host 'elsewhere'", "Its hosts: local"),
    ],
)
def test_bad_requests_are_refused_before_anything_runs(
    ctx: Context,
    local_site: LocalSite,
    import_bundle,
    api: Api,
    query: str,
    status: int,
    error: str,
    hint: str,
) -> None:
    import_bundle("demo-platform@1.0.0")
    record_installed(ctx, 1)
    reply = api.get(f"/api/sites/lab/logs?{query}")
    body: dict[str, Any] = reply.json()
    assert (reply.status, error in body["error"], hint in body["hint"]) == (status, True, True)
    assert nothing_ran(ctx.paths.root)


def test_a_site_without_declared_logs_or_unknown(
    ctx: Context, local_site: LocalSite, api: Api
) -> None:
    reply = api.get("/api/sites/lab/logs")
    assert reply.status == 422 and "declare" in reply.json()["hint"]
    reply = api.get("/api/sites/nowhere/logs")
    assert reply.status == 404 and "site list" in reply.json()["hint"]
    result = run_cli(ctx.paths.root, "logs", "lab", "--lines", "5000")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "hint" in result.stderr
    assert nothing_ran(ctx.paths.root)


def test_busy_site_409_and_locked_key_423(
    ctx: Context, local_site: LocalSite, import_bundle, api: Api
) -> None:
    bundle = import_bundle("demo-platform@1.0.0")
    record_installed(ctx, 1)
    # a locked credentials key answers as the credentials routes do
    credential_key.create_key(ctx.paths.root, "passphrase", "correct horse")
    assert api.post("/api/credentials/unlock", {"passphrase": "correct horse"}).status == 200
    assert api.request("PUT", "/api/sites/lab/credentials", {"password": "pw"}).status == 200
    assert api.post("/api/credentials/lock").json()["locked"] is True
    reply = api.get("/api/sites/lab/logs?grep=x")
    assert reply.status == 423 and "Unlock" in reply.json()["hint"]
    # a run queued on the site (never started here: no run manager): the search waits for it
    run_id = rows.create_run(
        ctx.store,
        site_id=1,
        bundle_id=bundle["id"],
        action="install",
        plan=[],
        trigger="manual",
        installed_before={},
        backup_run_id=None,
        owner_pid=os.getpid(),
        owner_start=None,
    )
    reply = api.get("/api/sites/lab/logs?grep=x")
    assert reply.status == 409 and f"run {run_id}" in reply.json()["error"]
    assert f"appliance log {run_id}" in reply.json()["hint"]
    assert nothing_ran(ctx.paths.root)
