"""appliance site status SITE [--refresh] [--json] ; appliance service start|stop|restart SITE
COMPONENT [--host H]"""

from __future__ import annotations

import argparse
from typing import Any

from appliance.bundle.manifest import OPERATIONS
from appliance.cli.common import Command


def register_site_commands(cmds: argparse._SubParsersAction) -> None:
    status = cmds.add_parser(
        "status",
        help="a site's last status (--refresh: run its status playbooks now); "
        "exit 0 only when healthy",
    )
    status.add_argument("name")
    status.add_argument("--refresh", action="store_true", help="run the status playbooks now")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=status_command)


def register(sub: argparse._SubParsersAction) -> None:
    service = sub.add_parser(
        "service", help="start, stop or restart a component of a site (a run, action operate)"
    )
    ops = service.add_subparsers(dest="operation", metavar="OPERATION", required=True)
    for name in OPERATIONS:
        op = ops.add_parser(name, help=f"{name} a component (as its bundle declares)")
        op.add_argument("site")
        op.add_argument("component")
        op.add_argument(
            "--host", action="append", default=[], help="only this host (repeat for more)"
        )
        op.set_defaults(handler=service_command)


def status_command(cmd: Command) -> int:
    from appliance.jobs.daytwo import status

    args, env = cmd.args, cmd.env
    ctx = cmd.ctx
    result = status.refresh(ctx, args.name) if args.refresh else status.current(args.name)
    if args.json:
        env.print_json(result)
    else:
        write_status(env.stdout, result)
    return 0 if result["overall"] == "healthy" and result["attention"] is None else 1


def write_status(out: Any, result: dict[str, Any]) -> None:
    out.write(
        f"site {result['site']}: {result['overall']} (checked {result['checked_at'] or 'never'})\n"
    )
    if result["attention"]:
        attention = result["attention"]
        out.write(f"needs attention: {attention['reason']} (run {attention['run']})\n")
    for component in result["components"]:
        for host in component["hosts"]:
            out.write(
                f"  {component['component']} {component['installed_version']} on "
                f"{host['host']}: {host['state']}"
                f"{' ' + host['version'] if host['version'] else ''}"
                f"{' - ' + host['detail'] if host['detail'] else ''}\n"
            )


def service_command(cmd: Command) -> int:
    from appliance.cli.runs import _follow_run, _manager
    from appliance.jobs.daytwo import operations

    args = cmd.args
    manager = _manager(cmd)
    body = {"component": args.component, "operation": args.operation}
    if args.host:
        body["hosts"] = args.host
    run = operations.start_operation(manager, args.site, body)
    return _follow_run(cmd, manager, run["id"])
