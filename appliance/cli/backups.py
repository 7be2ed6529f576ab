"""appliance backups SITE [--json] [--delete RUN]: a site's backups (taking one is
``appliance run SITE BUNDLE@VERSION --action backup``; restoring one is ``--action rollback
--backup RUN``)."""

from __future__ import annotations

import argparse

from appliance.cli.common import Command
from appliance.validate import positive_int_arg


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "backups",
        help="list a site's backups, newest first (--delete RUN: delete one on the hosts)",
    )
    cmd.add_argument("site", help="site name or id")
    cmd.add_argument("--json", action="store_true")
    cmd.add_argument(
        "--delete", type=positive_int_arg, metavar="RUN", help="delete this backup (its run id)"
    )
    cmd.set_defaults(handler=backups_command)


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return "-"


def backups_command(cmd: Command) -> int:
    from appliance.jobs.runs.backup_remove import delete_backup
    from appliance.jobs.runs.backups import list_backups

    args, env = cmd.args, cmd.env
    ctx = cmd.ctx
    if args.delete is not None:
        done = delete_backup(ctx, args.site, args.delete)
        if args.json:
            env.print_json(done)
        else:
            where = ", ".join(f"{r['host']}:{r['path']}" for r in done["removed"]) or "no host"
            env.stdout.write(f"deleted backup {done['deleted']} of {done['site']} ({where})\n")
        return 0
    found = list_backups(args.site)
    if args.json:
        env.print_json(found)
    elif not found:
        env.stdout.write(
            "no backups (an upgrade takes one; or `appliance run SITE BUNDLE@VERSION "
            "--action backup`)\n"
        )
    else:
        env.print_table(
            [
                [
                    b["run"],
                    b["created_at"],
                    f"{b['bundle']}@{b['version']}",
                    b["action"],
                    ", ".join(h["host"] for h in b["hosts"]) or "-",
                    ", ".join(f"{c} {v}" for c, v in b["versions"].items())
                    or ", ".join(b["components"]),
                    _size(b["size_bytes"]),
                ]
                for b in found
            ],
            ["RUN", "TAKEN", "BUNDLE", "BY", "HOSTS", "COMPONENTS", "SIZE"],
        )
    return 0
