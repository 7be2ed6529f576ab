"""appliance prune [--dry-run] [--json]: apply retention now (docs/settings.md: keep_runs_per_site,
keep_days); a serving appliance also applies it at start and hourly."""

from __future__ import annotations

import argparse

from appliance.cli.common import Command


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "prune",
        help="remove the events and logs of old runs now (their summary, steps, per-host "
        "results and report are kept)",
    )
    cmd.add_argument("--dry-run", action="store_true", help="only list the runs it would prune")
    cmd.add_argument("--json", action="store_true", help="print the result as JSON")
    cmd.set_defaults(handler=prune_command)


def prune_command(cmd: Command) -> int:
    from appliance.jobs.retention import prune

    args, out = cmd.args, cmd.env.stdout
    result = prune(cmd.ctx, dry_run=args.dry_run)
    if args.json:
        cmd.env.print_json(result)
        return 0
    runs = result["runs"]
    verb = "would prune" if args.dry_run else "pruned"
    listed = ", ".join(str(r) for r in runs[:20]) + (" ..." if len(runs) > 20 else "")
    out.write(
        f"{verb} {len(runs)} run(s){': ' + listed if runs else ''} "
        f"(keeping each site's newest {result['keep_runs_per_site']} finished runs and "
        f"anything younger than {result['keep_days']} days)\n"
    )
    if not args.dry_run and runs:
        out.write(
            f"{result['events_deleted']} events removed, "
            f"{result['bytes_given_back']} bytes given back\n"
        )
    return 0
