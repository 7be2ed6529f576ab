"""appliance logs SITE [COMPONENT]: search the declared log files on the site's hosts (the same
search as GET /api/sites/<site>/logs): ``host  file: line``, then one summary line per host.
appliance support-bundle SITE [-o FILE]: the site's support bundle (jobs/support/)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from appliance.cli import credentials
from appliance.cli.common import Command, Environment
from appliance.errors import BadRequest
from appliance.jobs.logsearch.engine import open_search
from appliance.jobs.logsearch.request import DEFAULT_LINES, MAX_LINES, plan_search
from appliance.jobs.support import collect
from appliance.store import sites


def register(sub: argparse._SubParsersAction) -> None:
    logs = sub.add_parser(
        "logs",
        help="search the log files a site's components declare, on every host",
        description="Search the declared log files of a site's installed components on its "
        "hosts (not a run: refused while a run is active on the site).",
    )
    logs.add_argument("site", help="site name or id")
    logs.add_argument("component", nargs="?", help="only this component's logs")
    logs.add_argument("--grep", metavar="PATTERN", help="only lines containing PATTERN")
    logs.add_argument(
        "--regex",
        action="store_true",
        help="PATTERN is a regular expression (no backreferences or nested quantifiers)",
    )
    logs.add_argument(
        "--lines",
        type=int,
        default=DEFAULT_LINES,
        metavar="N",
        help=f"at most N lines per host, the last ones of each file (1-{MAX_LINES}; "
        f"default {DEFAULT_LINES})",
    )
    logs.add_argument("--host", metavar="H", help="only this host")
    logs.add_argument("--json", action="store_true", help="NDJSON, as the API streams it")
    logs.set_defaults(handler=logs_command)
    register_support(sub)


def _summary_line(host: str, s: dict[str, Any]) -> str:
    if s["unreachable"] or s["error"]:
        return f"{host}: {'UNREACHABLE' if s['unreachable'] else 'FAILED'}: {s['error']}"
    extra = " (truncated)" if s["truncated"] else ""
    extra += " (time limit)" if s["timed_out"] else ""
    errors = "".join(f"; {e}" for e in s["errors"])
    return f"{host}: {s['lines']} line(s) from {len(s['files'])} file(s){extra}{errors}"


def write_results(env: Environment, results: Any, as_json: bool) -> int:
    failed = False
    for item in results:
        if as_json:
            env.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
        elif "summary" not in item:
            env.stdout.write(f"{item['host']}  {item['file']}: {item['line']}\n")
        if "summary" in item:
            hosts = item["summary"]["hosts"]
            failed = any(s["unreachable"] or s["error"] for s in hosts.values())
            if not as_json:
                for host, s in hosts.items():
                    env.stderr.write(_summary_line(host, s) + "\n")
        env.stdout.flush()
    return 1 if failed else 0


def logs_command(cmd: Command) -> int:
    args = cmd.args
    ctx = cmd.context()
    req = plan_search(
        args.site,
        component=args.component,
        grep=args.grep,
        regex=args.regex,
        lines=args.lines,
        host=args.host,
    )
    passphrase = credentials.key_passphrase(ctx.paths.root)
    return write_results(cmd.env, open_search(ctx, req, passphrase), args.json)


def register_support(sub: argparse._SubParsersAction) -> None:
    bundle = sub.add_parser(
        "support-bundle",
        help="one .tar.gz of a site's logs, facts, runs and findings, secrets redacted",
    )
    bundle.add_argument("site", help="site name or id")
    bundle.add_argument(
        "-o", "--output", metavar="FILE", help="where to write it (default: support-SITE.tar.gz)"
    )
    bundle.set_defaults(handler=support_command)


def support_command(cmd: Command) -> int:
    args = cmd.args
    ctx = cmd.context()
    site = sites.find_site(args.site)
    target = Path(args.output or f"support-{site.name}.tar.gz")
    if not target.resolve().parent.is_dir():
        raise BadRequest(f"no folder {target.parent}", "Give -o a file in an existing folder.")
    passphrase = credentials.key_passphrase(ctx.paths.root)
    data = collect.make_bundle(ctx, site.id, passphrase)
    written = collect.write_bundle(data, target)
    cmd.env.stdout.write(f"wrote {written} ({len(data)} bytes)\n")
    return 0
