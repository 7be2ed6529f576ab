"""appliance report RUN [-o FILE]: write a finished run's sign-off report."""

from __future__ import annotations

import argparse
import shutil

from appliance.cli.common import Command


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "report",
        help="write a finished run's self-contained HTML report (reports/<run>.html)",
    )
    cmd.add_argument("run", help="run id")
    cmd.add_argument("-o", "--output", metavar="FILE", help="also copy the report to FILE")
    cmd.set_defaults(handler=report_command)


def report_command(cmd: Command) -> int:
    from appliance.jobs.retention import report_path

    path = report_path(cmd.ctx, cmd.args.run)
    if cmd.args.output:
        shutil.copyfile(path, cmd.args.output)
        path = cmd.args.output
    cmd.env.stdout.write(f"{path}\n")
    return 0
