"""appliance site add|list|show|export|check|rm (trust-keys: cli/hostkeys.py)"""

from __future__ import annotations

import argparse
from typing import Any

from appliance.cli import credentials, daytwo, hostkeys
from appliance.cli.common import Command
from appliance.errors import BadRequest
from appliance.jobs import removal
from appliance.jobs.sites import inventory_io
from appliance.jobs.sites import service as remote_sites
from appliance.store import sites
from appliance.validate import read_text_file


def register(sub: argparse._SubParsersAction) -> None:
    site = sub.add_parser("site", help="customer sites and their hosts")
    cmds = site.add_subparsers(dest="site_command", metavar="SUBCOMMAND", required=True)

    add = cmds.add_parser("add", help="create a site")
    add.add_argument("name")
    add.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME=ADDRESS[:PORT]",
        help="a host of the site (repeat for more)",
    )
    add.add_argument("--user", help="SSH user for every host")
    add.add_argument("--group", action="append", default=[], help="group for every host")
    add.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a site variable (repeat for more)",
    )
    add.add_argument(
        "--inventory",
        metavar="FILE",
        help="create the site from an Ansible inventory (INI or YAML) instead of --host",
    )
    add.add_argument(
        "--timezone",
        metavar="ZONE",
        help="the site's IANA time zone, e.g. Asia/Shanghai (default: this system's zone)",
    )
    add.add_argument("--json", action="store_true", help="print the site as JSON")
    add.set_defaults(handler=add_site)

    edit = cmds.add_parser("edit", help="change a site's settings")
    edit.add_argument("name")
    edit.add_argument(
        "--timezone",
        metavar="ZONE",
        required=True,
        help="the site's IANA time zone (its reports and the default of its schedules)",
    )
    edit.add_argument("--json", action="store_true", help="print the site as JSON")
    edit.set_defaults(handler=edit_site)

    lst = cmds.add_parser("list", help="list sites")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=list_sites)

    show = cmds.add_parser("show", help="show a site, its hosts and installed versions")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_site)

    export = cmds.add_parser("export", help="print a site as an Ansible INI inventory")
    export.add_argument("name")
    export.set_defaults(handler=export_site)

    check = cmds.add_parser(
        "check", help="check login, Python and sudo on every host of a site (over SSH)"
    )
    check.add_argument("name")
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=check_site)

    rm = cmds.add_parser(
        "rm", help="delete a site (refused while a run is in progress or a schedule targets it)"
    )
    rm.add_argument("name")
    rm.set_defaults(handler=remove_site)

    credentials.register_site_commands(cmds)
    daytwo.register_site_commands(cmds)
    hostkeys.register_site_commands(cmds)


def _split(text: str, sep: str, what: str, example: str) -> tuple[str, str]:
    left, found, right = text.partition(sep)
    if not found or not left or not right:
        raise BadRequest(f"{what} {text!r} is not in the form {example}", f"Write it as {example}.")
    return left, right


def parse_host(text: str, user: str | None, groups: list[str]) -> dict[str, Any]:
    name, address = _split(text, "=", "--host", "NAME=ADDRESS[:PORT]")
    host: dict[str, Any] = {"name": name, "address": address}
    if address.count(":") == 1:  # host:port (an IPv6 address has more colons)
        host["address"], port = address.split(":")
        if not port.isdigit():
            raise BadRequest(
                f"--host {text!r}: port {port!r} is not a number",
                "Write it as NAME=ADDRESS:PORT with a numeric port.",
            )
        host["port"] = int(port)
    if user:
        host["user"] = user
    if groups:
        host["groups"] = groups
    return host


def add_site(cmd: Command) -> int:
    args = cmd.args
    if args.inventory:
        return _add_from_inventory(cmd)
    spec = sites.parse_site(
        {
            "name": args.name,
            "vars": dict(_split(v, "=", "--var", "KEY=VALUE") for v in args.var),
            "hosts": [parse_host(h, args.user, args.group) for h in args.host],
            "timezone": args.timezone,
        }
    )
    return _create(cmd, spec)


def edit_site(cmd: Command) -> int:
    cmd.context()  # the store the change goes to
    site = sites.set_site_timezone(cmd.ctx.store, cmd.args.name, cmd.args.timezone)
    if cmd.args.json:
        cmd.env.print_json(site)
    else:
        cmd.env.stdout.write(f"site {site['name']}: time zone {site['timezone']}\n")
    return 0


def _create(cmd: Command, spec: dict[str, Any], origin: str = "", how: str = "") -> int:
    """Store the parsed site and say so (as JSON with --json)."""
    env = cmd.env
    site = sites.create_site(cmd.ctx.store, spec)
    if cmd.args.json:
        env.print_json(site)
    else:
        env.stdout.write(
            f"site {site['name']} created{origin} ({how}id {site['id']}, "
            f"{len(site['hosts'])} host(s))\n"
        )
    return 0


def list_sites(cmd: Command) -> int:
    env = cmd.env
    cmd.context()  # the store the query reads
    found = sites.list_sites(limit=1_000_000)
    if cmd.args.json:
        env.print_json(found)
    elif not found:
        env.stdout.write("no sites yet (add one with `appliance site add NAME --host ...`)\n")
    else:
        env.print_table(
            [
                [
                    s["id"],
                    s["name"],
                    len(s["hosts"]),
                    ", ".join(f"{c}={v['version']}" for c, v in s["installed"].items()) or "-",
                ]
                for s in found
            ],
            ["ID", "NAME", "HOSTS", "INSTALLED"],
        )
    return 0


def show_site(cmd: Command) -> int:
    env = cmd.env
    cmd.context()  # the store the query reads
    site = sites.get_site(cmd.args.name)
    if cmd.args.json:
        env.print_json(site)
        return 0
    env.stdout.write(f"site {site['name']} (id {site['id']}, time zone {site['timezone']})\n")
    env.print_table(
        [
            [h["name"], h["address"], h["port"], h["user"] or "-", ",".join(h["groups"]) or "-"]
            for h in site["hosts"]
        ],
        ["HOST", "ADDRESS", "PORT", "USER", "GROUPS"],
    )
    for comp, info in site["installed"].items():
        env.stdout.write(
            f"installed {comp} {info['version']} "
            f"(bundle {info['bundle']} {info['bundle_version']})\n"
        )
    return 0


def _add_from_inventory(cmd: Command) -> int:
    args = cmd.args
    if args.host or args.user or args.group or args.var:
        raise BadRequest(
            "--inventory cannot be combined with --host, --user, --group or --var",
            "Put everything in the inventory file.",
        )
    text = read_text_file(args.inventory, "--inventory", inventory_io.MAX_TEXT)
    fmt = inventory_io.guess_format(args.inventory, text)
    imported = inventory_io.import_inventory(args.name, fmt, text)
    spec = sites.parse_site({**imported, "timezone": args.timezone})
    return _create(cmd, spec, f" from {args.inventory}", f"{fmt}; ")


def export_site(cmd: Command) -> int:
    cmd.context()  # the store the query reads
    cmd.env.stdout.write(remote_sites.export_site(cmd.args.name))
    return 0


def check_site(cmd: Command) -> int:
    env = cmd.env
    ctx = cmd.ctx
    passphrase = credentials.key_passphrase(ctx.paths.root)
    result = remote_sites.check_site(ctx, cmd.args.name, passphrase)
    if cmd.args.json:
        env.print_json(result)
    else:
        env.print_table(
            [
                [
                    h["host"],
                    f"{h['user'] + '@' if h['user'] else ''}{h['address']}:{h['port']}",
                    "yes" if h["reachable"] else "NO",
                    ":".join(filter(None, (h.get("python_version"), h["python"]))) or "-",
                    "yes" if h["modules"] else "no",
                    h["sudo"] or "-",
                    _host_key(h.get("host_key")),
                    h["error"] or "",
                ]
                for h in result["hosts"]
            ],
            ["HOST", "TARGET", "LOGIN", "PYTHON", "MODULES", "SUDO", "HOST KEY", "PROBLEM"],
        )
        notes: dict[str, list[str]] = {}  # a carried core outside Ansible's published range
        for h in result["hosts"]:
            if h.get("ansible_core_note"):
                notes.setdefault(h["ansible_core_note"], []).append(h["host"])
        for note, names in notes.items():
            env.stdout.write(f"note ({', '.join(names)}): {note}\n")
        verdict = "all hosts ready" if result["ok"] else "some hosts are NOT ready"
        env.stdout.write(f"site {result['site']}: {verdict}\n")
    return 0 if result["ok"] else 1


def _host_key(key: dict[str, Any] | None) -> str:
    """type, fingerprint and whether it is trusted (- for a host on this machine)."""
    if not key:
        return "-"
    if not key["fingerprint"]:
        return "not read"
    return f"{key['type']} {key['fingerprint']} ({key['status']})"


def remove_site(cmd: Command) -> int:
    gone = removal.delete_site(cmd.ctx, cmd.args.name)
    cmd.env.stdout.write(f"deleted site {gone['site']} ({len(gone['runs'])} runs in its history)\n")
    return 0
