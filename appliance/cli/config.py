"""appliance config show|set|import: a site's values for a bundle's declared configuration.

A password never comes from the command line (other users see it in the process list): name it
without ``=`` and it is read from stdin, one line per password in the order given (or typed on
the terminal); ``KEY=VALUE`` for a password item is refused.
"""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from appliance.cli.common import Command, typed_secret
from appliance.cli.credentials import key_passphrase
from appliance.errors import BadRequest
from appliance.jobs.sites import config
from appliance.jobs.sites import service as remote_sites
from appliance.validate import read_text_file

_MASK = "********"


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("config", help="a site's configuration values for a bundle")
    cmds = group.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)

    show = cmds.add_parser("show", help="the declared items, their values and what is missing")
    _common(show)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_config)

    put = cmds.add_parser(
        "set",
        help="set values: KEY=VALUE, or KEY alone for a password (read from stdin)",
        description="Set values. A password item is named without '=' and read from stdin "
        "(one line each, in the order given) or typed on the terminal; never KEY=VALUE. "
        "--reset KEY goes back to the default.",
    )
    _common(put)
    put.add_argument("values", nargs="*", metavar="KEY=VALUE")
    put.add_argument("--reset", action="append", default=[], metavar="KEY")
    put.add_argument("--json", action="store_true")
    put.set_defaults(handler=set_config)

    imp = cmds.add_parser("import", help="set values from a YAML file (name: value)")
    _common(imp)
    imp.add_argument("file", metavar="FILE.yml")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=import_config)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("site", metavar="SITE")
    parser.add_argument(
        "bundle",
        metavar="BUNDLE[@VERSION]",
        type=_bundle_ref,
        help="the bundle; @VERSION picks the declaration of that version (fill an upgrade's "
        "new items before it; default: the version the site runs, else the newest import)",
    )


def _bundle_ref(text: str) -> tuple[str, str | None]:
    name, _, version = text.partition("@")
    return name, version or None


def show_config(cmd: Command) -> int:
    args, env = cmd.args, cmd.env
    cmd.ctx  # noqa: B018 - opens the store
    answer = config.describe(args.site, *args.bundle)
    if args.json:
        env.print_json(answer)
        return 0
    _print(cmd, answer)
    return 0


def _print(cmd: Command, answer: dict[str, Any]) -> None:
    env = cmd.env
    env.stdout.write(f"site {answer['site']}: {answer['bundle']} {answer['version']}\n")
    rows = []
    for item in answer["items"]:
        if item["type"] == "password":
            value = _MASK if item["set"] else ""
        else:
            value = item.get("value")
            value = "" if value is None else str(value)
            value = value if len(value) <= 60 else value[:57] + "..."
        mark = "yes" if item["required"] else ""
        error = answer["errors"].get(item["name"], "")
        rows.append([item["name"], item["type"], mark, value, error])
    env.print_table(rows, ["NAME", "TYPE", "REQUIRED", "VALUE", "PROBLEM"])
    if answer["errors"]:
        env.stdout.write(f"runs are refused until fixed: {', '.join(answer['errors'])}\n")
    if answer.get("reconfigure"):
        env.stdout.write(f"changed since applied: {', '.join(answer['reconfigure'])}\n")


def set_config(cmd: Command) -> int:
    args = cmd.args
    ctx = cmd.ctx
    if not args.values and not args.reset:
        raise BadRequest("nothing to set", "Give KEY=VALUE, a password KEY, or --reset KEY.")
    declared = config.describe(args.site, *args.bundle)
    secret = {i["name"] for i in declared["items"] if i["type"] == "password"}
    values: dict[str, Any] = {}
    asked: list[str] = []
    for text in args.values:
        name, has_value, value = text.partition("=")
        if name in secret and has_value:
            raise BadRequest(
                f"{name} is a password: it is never taken from the command line",
                f"Name it alone (appliance config set SITE BUNDLE {name}) and give it on stdin "
                "or type it when asked.",
            )
        if not has_value:
            if name not in secret:
                raise BadRequest(
                    f"{text!r} is not KEY=VALUE", "Write each value as KEY=VALUE (no spaces)."
                )
            asked.append(name)
            continue
        values[name] = value
    for name in asked:
        values[name] = _read_secret(cmd, name)
    values.update(dict.fromkeys(args.reset))
    if any(values.get(k) is not None for k in secret):
        _unlock(cmd)
    # command-line text takes its item's type ("8080" is an int, "yes" a bool); one update, so
    # nothing is stored when one value is refused
    answer = config.update(ctx, args.site, args.bundle[0], values, args.bundle[1], from_text=True)
    return _done(cmd, answer)


def import_config(cmd: Command) -> int:
    args = cmd.args
    text = read_text_file(args.file, "the config file", 1_000_000)
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise BadRequest(
            f"{args.file} is not valid YAML: {' '.join(str(e).split())[:200]}",
            "Write one `name: value` line per item.",
        ) from None
    if not isinstance(values, dict):
        raise BadRequest(f"{args.file} must be a mapping of name: value", "Write name: value.")
    cmd.ctx  # noqa: B018 - opens the store
    declared = config.describe(args.site, *args.bundle)
    if any(i["type"] == "password" and i["name"] in values for i in declared["items"]):
        _unlock(cmd)
    return _done(cmd, config.update(cmd.ctx, args.site, args.bundle[0], values, args.bundle[1]))


def _read_secret(cmd: Command, name: str) -> str:
    stdin = cmd.env.stdin
    if stdin.isatty():
        return typed_secret(f"{name}", confirm=True)
    line = stdin.readline()
    if not line:
        raise BadRequest(
            f"{name}: expected a line on stdin", "Give one password per line on stdin."
        )
    return line.rstrip("\r\n")


def _unlock(cmd: Command) -> None:
    """A passphrase-protected credentials key is opened (typed) before a password is stored."""
    ctx = cmd.ctx
    if remote_sites.unlocked_key(ctx) is None:
        passphrase = key_passphrase(ctx.paths.root)
        if passphrase is not None:
            remote_sites.unlock_key(ctx, passphrase)


def _done(cmd: Command, answer: dict[str, Any]) -> int:
    if cmd.args.json:
        cmd.env.print_json(answer)
        return 0
    _print(cmd, answer)
    if answer.get("reconfigure"):
        cmd.env.stdout.write(
            f"apply with: appliance run {answer['site']} {answer['bundle']}@{answer['version']} "
            "--action reconfigure\n"
        )
    return 0
