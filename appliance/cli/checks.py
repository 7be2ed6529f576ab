"""appliance checks RUN: the checks a run's steps reported (pass | warn | fail per host); also
printed at the end of ``appliance run`` and ``appliance resume`` when there are any."""

from __future__ import annotations

import argparse
from typing import Any

from appliance.cli.common import Command, Environment
from appliance.store import runs as rows


def register(sub: argparse._SubParsersAction) -> None:
    checks = sub.add_parser("checks", help="the checks a run reported (pass, warn, fail)")
    checks.add_argument("run", help="run id")
    checks.add_argument("--json", action="store_true")
    checks.set_defaults(handler=checks_command)


def summary(checks: list[dict[str, Any]]) -> str:
    count = {s: sum(c["status"] == s for c in checks) for s in ("pass", "warn", "fail")}
    return f"checks: {count['pass']} passed, {count['warn']} warning(s), {count['fail']} failed"


def write_checks(env: Environment, checks: list[dict[str, Any]]) -> None:
    """The check table, then one line per warning and failure (what to look at first)."""
    if not checks:
        return
    env.print_table(
        [[c["step_name"], c["host"], c["name"], c["status"].upper(), c["message"]] for c in checks],
        ["STEP", "HOST", "CHECK", "STATUS", "MESSAGE"],
    )
    env.stdout.write(summary(checks) + "\n")
    for c in checks:
        if c["status"] != "pass":
            word = "WARNING" if c["status"] == "warn" else "FAILED"
            env.stdout.write(f"{word}: {c['host']}: {c['name']}: {c['message']}\n")


def checks_command(cmd: Command) -> int:
    args, env = cmd.args, cmd.env
    cmd.context()  # the store the queries read
    run = rows.get_run(args.run)
    if args.json:
        env.print_json(run["checks"])
    elif not run["checks"]:
        env.stdout.write(f"run {run['id']} reported no checks\n")
    else:
        write_checks(env, run["checks"])
    return 0
