"""appliance run | runs | log | cancel | resume"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from appliance.cli.common import context_from, fail_line, print_json, print_table
from appliance.context import Context
from appliance.errors import BadRequest
from appliance.jobs.runs import processes
from appliance.jobs.runs.plan import ACTIONS
from appliance.states import TERMINAL, RunState
from appliance.store import runs as rows
from appliance.store import sites

ANSI_RE = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]")
POLL_SECONDS = 0.1


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run a bundle on a site and follow its log")
    run.add_argument("site", help="site name or id")
    run.add_argument("ref", metavar="BUNDLE@VERSION", help="e.g. demo-platform@1.1.0")
    run.add_argument(
        "--action",
        choices=ACTIONS,
        help="default: install, or upgrade when the bundle is installed",
    )
    run.add_argument("--plan", action="store_true", help="only show the plan; run nothing")
    run.add_argument("--json", action="store_true", help="with --plan: print the plan as JSON")
    run.set_defaults(handler=run_command)

    lst = sub.add_parser("runs", help="list runs, newest first")
    lst.add_argument("--site", help="only this site (name or id)")
    lst.add_argument("--state", choices=[s.value for s in RunState])
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=list_command)

    log = sub.add_parser("log", help="print a run's output (--follow: until the run ends)")
    log.add_argument("run", help="run id")
    log.add_argument("--follow", "-f", action="store_true")
    log.set_defaults(handler=log_command)

    cancel = sub.add_parser("cancel", help="cancel a run, whichever process runs it")
    cancel.add_argument("run", help="run id")
    cancel.set_defaults(handler=cancel_command)

    resume = sub.add_parser("resume", help="resume a failed, cancelled or interrupted run")
    resume.add_argument("run", help="run id")
    resume.set_defaults(handler=resume_command)


def parse_ref(text: str) -> tuple[str, str]:
    name, found, version = text.partition("@")
    if not found or not name or not version:
        raise BadRequest(
            f"{text!r} is not BUNDLE@VERSION",
            "Write the bundle as NAME@VERSION, e.g. demo-platform@1.1.0 "
            "(appliance bundle list shows them).",
        )
    return name, version


def follow_log(
    path: Path, is_done: Callable[[], bool], out: BinaryIO, *, strip: bool, follow: bool = True
) -> None:
    """Copy ``path`` to ``out``; with ``follow`` keep copying until ``is_done()`` (the run's
    state, never a marker in the log) and every byte was copied."""
    pending = b""
    with open(path, "rb") as f:
        while True:
            done = not follow or is_done()  # decided before reading: later bytes are copied
            while chunk := f.read(1 << 16):
                pending += chunk
                cut = pending.rfind(b"\n") + 1  # whole lines only: escapes never split
                if cut:
                    out.write(ANSI_RE.sub(b"", pending[:cut]) if strip else pending[:cut])
                    out.flush()
                    pending = pending[cut:]
            if done:
                break
            time.sleep(POLL_SECONDS)
    if pending:
        out.write(ANSI_RE.sub(b"", pending) if strip else pending)
        out.flush()


def _terminal(run_id: int) -> Callable[[], bool]:
    return lambda: rows.find_run(run_id).state in TERMINAL


def _ended_or_orphaned(run_id: int) -> Callable[[], bool]:
    """For following another process's run: also stop when the process running it is gone
    (nothing will write to the log until an appliance starts and recovers the run)."""

    def check() -> bool:
        run = rows.find_run(run_id)
        return run.state in TERMINAL or not processes.is_alive(run.owner_pid, run.owner_start)

    return check


def _follow_run(ctx: Context, manager, run_id: int) -> int:
    """Follow a run of this process to its end; Ctrl+C cancels it. Exit 0 only on success."""
    out = sys.stdout.buffer
    strip = not sys.stdout.isatty()
    path = ctx.paths.run_log(run_id)
    try:
        follow_log(path, _terminal(run_id), out, strip=strip)
    except KeyboardInterrupt:
        sys.stderr.write(f"appliance: cancelling run {run_id}...\n")
        manager.cancel(run_id)
        follow_log(path, _terminal(run_id), out, strip=strip)
    run = manager.wait(run_id, 30)
    if run["state"] == RunState.SUCCEEDED:
        return 0
    fail_line(f"run {run_id} {run['state']}: {run['error']}", run["hint"] or "see the log")
    return 1


def _manager(ctx: Context):
    from appliance.jobs.runs.manager import RunManager

    manager = RunManager(ctx).start()
    ctx.services["runs"] = manager
    return manager


def run_command(args: argparse.Namespace) -> int:
    bundle, version = parse_ref(args.ref)
    ctx = context_from(args)
    try:
        manager = _manager(ctx)
        if args.plan:
            plan = manager.start_run(args.site, bundle, version, args.action, dry_run=True)
            if args.json:
                print_json(plan)
            else:
                sys.stdout.write(
                    f"{plan['action']} {plan['bundle']} {plan['version']} on site "
                    f"{plan['site']} (installed: "
                    f"{plan['installed_version'] or 'nothing'})\n"
                )
                for step in plan["plan"]:
                    title = step["kind"] if step["kind"] != "component" else step["name"]
                    change = (
                        f" {step['from_version'] or 'none'} -> {step['to_version']}"
                        if step["kind"] == "component"
                        else ""
                    )
                    check = " --check --diff" if step["check"] else ""
                    sys.stdout.write(
                        f"  {step['idx']}. {title}{change}{check} ({step['playbook']})\n"
                    )
            return 0
        run = manager.start_run(args.site, bundle, version, args.action)
        return _follow_run(ctx, manager, run["id"])
    finally:
        ctx.close()


def resume_command(args: argparse.Namespace) -> int:
    ctx = context_from(args)
    try:
        manager = _manager(ctx)
        run = manager.resume(args.run)
        return _follow_run(ctx, manager, run["id"])
    finally:
        ctx.close()


def list_command(args: argparse.Namespace) -> int:
    ctx = context_from(args)
    try:
        site = sites.find_site(args.site).id if args.site else None
        found = rows.list_runs(site=site, state=args.state, limit=max(1, args.limit))
    finally:
        ctx.close()
    if args.json:
        print_json(found)
    elif not found:
        sys.stdout.write("no runs (start one with `appliance run SITE BUNDLE@VERSION`)\n")
    else:
        print_table(
            [
                [
                    r["id"],
                    r["state"],
                    r["action"],
                    r["site"],
                    f"{r['bundle']}@{r['version']}",
                    r["created_at"],
                    r["error"] or "",
                ]
                for r in found
            ],
            ["ID", "STATE", "ACTION", "SITE", "BUNDLE", "CREATED", "ERROR"],
        )
    return 0


def log_command(args: argparse.Namespace) -> int:
    ctx = context_from(args)
    try:
        run = rows.find_run(args.run)
        path = ctx.paths.run_log(run.id)
        if not path.exists():
            raise BadRequest(
                f"run {run.id} has no log at {path}",
                "The run's folder was removed; nothing to show.",
            )
        follow_log(
            path,
            _ended_or_orphaned(run.id),
            sys.stdout.buffer,
            strip=not sys.stdout.isatty(),
            follow=args.follow,
        )
        run = rows.find_run(run.id)
        if args.follow and run.state not in TERMINAL:
            fail_line(
                f"run {run.id} is still marked {run.state} but the process running it "
                f"(pid {run.owner_pid}) is gone",
                "start the appliance (appliance serve): it marks the run interrupted",
            )
            return 1
    finally:
        ctx.close()
    return 0


def cancel_command(args: argparse.Namespace) -> int:
    from appliance.jobs.runs.recovery import cancel_run

    ctx = context_from(args)
    try:
        run = cancel_run(ctx, args.run, wait=5.0)
    finally:
        ctx.close()
    if run["state"] == RunState.CANCELLED:
        sys.stdout.write(f"run {run['id']} cancelled\n")
        return 0
    if run["state"] in TERMINAL:
        sys.stdout.write(f"run {run['id']} ended {run['state']} before the cancel took effect\n")
        return 1
    sys.stdout.write(
        f"run {run['id']} is still {run['state']}: cancel requested; the appliance "
        f"process running it (pid {run['owner_pid']}) stops it at its next check\n"
    )
    return 1
