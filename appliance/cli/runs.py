"""appliance run | runs | log | cancel | resume"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from appliance.cli import checks
from appliance.cli.common import Command, parse_ref
from appliance.errors import BadRequest
from appliance.jobs.runs import processes
from appliance.jobs.runs.log import strip_ansi
from appliance.jobs.runs.plan import ACTIONS
from appliance.jobs.streams.tail import tail_log
from appliance.states import TERMINAL, RunState
from appliance.store import runs as rows
from appliance.store import sites
from appliance.validate import positive_int_arg


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run a bundle on a site and follow its log")
    run.add_argument("site", help="site name or id")
    run.add_argument("ref", metavar="BUNDLE@VERSION", help="e.g. demo-platform@1.1.0")
    run.add_argument(
        "--action",
        choices=ACTIONS,
        help="default: install, or upgrade when the bundle is installed",
    )
    run.add_argument(
        "--backup",
        type=positive_int_arg,
        metavar="RUN",
        help="with --action rollback: the backup to restore (`appliance backups SITE`); "
        "default: the latest",
    )
    run.add_argument("--plan", action="store_true", help="only show the plan; run nothing")
    run.add_argument("--json", action="store_true", help="with --plan: print the plan as JSON")
    run.set_defaults(handler=run_command)

    lst = sub.add_parser("runs", help="list runs, newest first")
    lst.add_argument("--site", help="only this site (name or id)")
    lst.add_argument("--state", choices=[s.value for s in RunState])
    lst.add_argument("--limit", type=positive_int_arg, default=50)
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
    checks.register(sub)


class LogCopy:
    """Copies a run's log to ``out`` with the tail the HTTP log stream uses
    (:func:`~appliance.jobs.streams.tail.tail_log`); ``strip`` removes colours, whole lines at
    a time so an escape sequence is never cut. Keeps its offset: copying again (after Ctrl+C)
    continues where it stopped."""

    def __init__(self, path: Path, out: BinaryIO, *, strip: bool) -> None:
        self.path = path
        self.out = out
        self.strip = strip
        self.offset = 0
        self._pending = b""  # with strip: the unfinished last line

    def copy(self, state: Callable[[], str | None], *, follow: bool = True) -> None:
        """Copy what the log has; with ``follow`` keep copying until ``state()`` is terminal
        (or None: nothing more will be written) and every byte was copied."""
        for block in tail_log(self.path, self.offset, follow=follow, state=state):
            self.offset += len(block)
            if self.strip:
                block = self._pending + block
                cut = block.rfind(b"\n") + 1
                block, self._pending = strip_ansi(block[:cut]), block[cut:]
            self._write(block)
        self._write(strip_ansi(self._pending))
        self._pending = b""

    def _write(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.out.flush()


def _state(run_id: int) -> Callable[[], str | None]:
    return lambda: rows.find_run(run_id).state


def _state_unless_orphaned(run_id: int) -> Callable[[], str | None]:
    """For following another process's run: None (the end) once the process running it is
    gone too (nothing will write to the log until an appliance starts and recovers the run)."""

    def state() -> str | None:
        run = rows.find_run(run_id)
        if run.state not in TERMINAL and not processes.is_alive(run.owner_pid, run.owner_start):
            return None
        return run.state

    return state


def _follow_run(cmd: Command, manager, run_id: int) -> int:
    """Follow a run of this process to its end; Ctrl+C cancels it. Exit 0 only on success."""
    env = cmd.env
    log = LogCopy(cmd.ctx.paths.run_log(run_id), env.binary_stdout(), strip=not env.stdout.isatty())
    try:
        log.copy(_state(run_id))
    except KeyboardInterrupt:
        env.stderr.write(f"appliance: cancelling run {run_id}...\n")
        manager.cancel(run_id)
        log.copy(_state(run_id))
    run = manager.wait(run_id, 30)
    checks.write_checks(env, run.get("checks") or [])
    _refresh_status(cmd, run)
    if run["state"] == RunState.SUCCEEDED:
        return 0
    env.fail_line(f"run {run_id} {run['state']}: {run['error']}", run["hint"] or "see the log")
    return 1


def _refresh_status(cmd: Command, run: dict) -> None:
    """The site's status after the run, as a serving appliance refreshes it after every run
    (nothing when its bundles declare no status playbook)."""
    from appliance.jobs.daytwo.service import StatusService

    status = StatusService(cmd.ctx).refresh_quietly(run["site_id"], f"after run {run['id']}")
    if status is not None:
        cmd.env.stdout.write(f"site {status['site']} status: {status['overall']}\n")


def _manager(cmd: Command):
    from appliance.jobs.runs.manager import RunManager

    ctx = cmd.ctx
    manager = RunManager(ctx).start()
    ctx.services["runs"] = manager
    return manager


def _write_plan(cmd: Command, plan: dict) -> None:
    out = cmd.env.stdout
    out.write(
        f"{plan['action']} {plan['bundle']} {plan['version']} on site "
        f"{plan['site']} (installed: {plan['installed_version'] or 'nothing'})\n"
    )
    for warning in plan.get("warnings", []):
        out.write(f"  warning: {warning}\n")
    for step in plan["plan"]:
        title = step["kind"] if step["kind"] != "component" else step["name"]
        change = (
            f" {step['from_version'] or 'none'} -> {step['to_version']}"
            if step["kind"] == "component"
            else ""
        )
        check = " --check --diff" if step["check"] else ""
        out.write(f"  {step['idx']}. {title}{change}{check} ({step['playbook']})\n")


def run_command(cmd: Command) -> int:
    args = cmd.args
    bundle, version = parse_ref(args.ref)
    manager = _manager(cmd)
    if args.plan:
        plan = manager.start_run(
            args.site, bundle, version, args.action, dry_run=True, backup=args.backup
        )
        if args.json:
            cmd.env.print_json(plan)
        else:
            _write_plan(cmd, plan)
        return 0
    run = manager.start_run(args.site, bundle, version, args.action, backup=args.backup)
    return _follow_run(cmd, manager, run["id"])


def resume_command(cmd: Command) -> int:
    manager = _manager(cmd)
    run = manager.resume(cmd.args.run)
    return _follow_run(cmd, manager, run["id"])


def list_command(cmd: Command) -> int:
    args, env = cmd.args, cmd.env
    cmd.context()  # the store the queries read
    site = sites.find_site(args.site).id if args.site else None
    found = rows.list_runs(site=site, state=args.state, limit=max(1, args.limit))
    if args.json:
        env.print_json(found)
    elif not found:
        env.stdout.write("no runs (start one with `appliance run SITE BUNDLE@VERSION`)\n")
    else:
        env.print_table(
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


def log_command(cmd: Command) -> int:
    args, env = cmd.args, cmd.env
    ctx = cmd.ctx
    run = rows.find_run(args.run)
    path = ctx.paths.run_log(run.id)
    if not path.exists():
        raise BadRequest(
            f"run {run.id} has no log at {path}",
            "The run's folder was removed; nothing to show.",
        )
    log = LogCopy(path, env.binary_stdout(), strip=not env.stdout.isatty())
    log.copy(_state_unless_orphaned(run.id), follow=args.follow)
    run = rows.find_run(run.id)
    if args.follow and run.state not in TERMINAL:
        env.fail_line(
            f"run {run.id} is still marked {run.state} but the process running it "
            f"(pid {run.owner_pid}) is gone",
            "start the appliance (appliance serve): it marks the run interrupted",
        )
        return 1
    return 0


def cancel_command(cmd: Command) -> int:
    from appliance.jobs.runs.recovery import cancel_run

    out = cmd.env.stdout
    run = cancel_run(cmd.ctx, cmd.args.run, wait=5.0)
    if run["state"] == RunState.CANCELLED:
        out.write(f"run {run['id']} cancelled\n")
        return 0
    if run["state"] in TERMINAL:
        out.write(f"run {run['id']} ended {run['state']} before the cancel took effect\n")
        return 1
    out.write(
        f"run {run['id']} is still {run['state']}: cancel requested; the appliance "
        f"process running it (pid {run['owner_pid']}) stops it at its next check\n"
    )
    return 1
