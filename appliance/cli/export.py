"""appliance export SITE BUNDLE@VERSION [--action install|upgrade] -o DIR: the run as an
ansible-runner private data folder, for ansible-runner or AWX (docs/scale-out.md)."""

from __future__ import annotations

import argparse

from appliance.cli.common import Command, parse_ref
from appliance.jobs.runs.export import EXPORT_ACTIONS


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "export",
        help="write a run's plan, the bundle, the site's inventory and values as an "
        "ansible-runner folder (for ansible-runner or AWX)",
    )
    cmd.add_argument("site", help="site name or id")
    cmd.add_argument("ref", metavar="BUNDLE@VERSION", help="e.g. demo-platform@1.1.0")
    cmd.add_argument(
        "--action",
        choices=EXPORT_ACTIONS,
        help="default: install, or upgrade when the bundle is installed",
    )
    cmd.add_argument("-o", "--output", metavar="DIR", required=True, help="a new (or empty) folder")
    cmd.add_argument("--json", action="store_true", help="describe the export as JSON")
    cmd.set_defaults(handler=export_command)


def export_command(cmd: Command) -> int:
    from appliance.jobs.runs.export import export_run

    args = cmd.args
    bundle, version = parse_ref(args.ref)
    export = export_run(cmd.ctx, args.site, bundle, version, args.output, args.action)
    if args.json:
        cmd.env.print_json(export.to_json())
        return 0
    cmd.env.stdout.write(
        f"wrote {export.path}: {export.action} {export.bundle} {export.version} on site "
        f"{export.site}, {len(export.steps)} step(s)\n"
        f"run it: ansible-runner run {export.path} -p {export.playbook}\n"
        f"(credentials and passwords are not in it: see {export.path / 'README.md'})\n"
    )
    return 0
