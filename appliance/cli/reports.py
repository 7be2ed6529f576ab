"""appliance report RUN [-o FILE]: write a finished run's sign-off report."""

from __future__ import annotations

import argparse
import shutil
import sys

from appliance.cli.common import context_from


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "report",
        help="write a finished run's self-contained HTML report (reports/<run>.html)",
    )
    cmd.add_argument("run", help="run id")
    cmd.add_argument("-o", "--output", metavar="FILE", help="also copy the report to FILE")
    cmd.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace) -> int:
    from appliance.jobs.retention import report_path

    ctx = context_from(args)
    try:
        path = report_path(ctx, args.run)
        if args.output:
            shutil.copyfile(path, args.output)
            path = args.output
    finally:
        ctx.close()
    sys.stdout.write(f"{path}\n")
    return 0
