"""appliance site trust-keys SITE [--host H] [--replace] [--yes]: accept the SSH host keys a
site's hosts offer (trust on first use), after showing their fingerprints."""

from __future__ import annotations

import argparse

from appliance.cli.common import Command
from appliance.jobs.sites import trust


def register_site_commands(cmds: argparse._SubParsersAction) -> None:
    keys = cmds.add_parser(
        "trust-keys",
        help="accept the SSH host keys a site's hosts offer (shows the fingerprints first)",
    )
    keys.add_argument("name")
    keys.add_argument(
        "--host", action="append", default=[], help="only this host (repeat for more)"
    )
    keys.add_argument(
        "--replace",
        action="store_true",
        help="also accept a key that CHANGED since it was trusted (only if you know why)",
    )
    keys.add_argument("--yes", action="store_true", help="accept without asking")
    keys.add_argument("--json", action="store_true", help="print the result as JSON")
    keys.set_defaults(handler=trust_keys)


HEADERS = ["HOST", "TARGET", "TYPE", "FINGERPRINT", "NOW", "TRUSTED BEFORE"]


def _row(h: dict) -> list[str]:
    before = h["trusted"]["fingerprint"] if h["status"] == "changed" else ""
    return [h["host"], h["target"], h["type"] or "-", h["fingerprint"] or "-", h["status"], before]


def _confirmed(cmd: Command, question: str) -> bool:
    cmd.env.stdout.write(f"{question} [y/N] ")
    cmd.env.stdout.flush()
    answer = cmd.env.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def trust_keys(cmd: Command) -> int:
    args, env = cmd.args, cmd.env
    shown = trust.preview(cmd.ctx, args.name, args.host)
    if not args.json:
        env.print_table([_row(h) for h in shown["hosts"]], HEADERS)
    pending = {h["host"]: h["fingerprint"] for h in shown["hosts"] if h["status"] != "trusted"}
    if shown["hosts"] and not pending:
        env.stdout.write(f"site {shown['site']}: every host key is trusted already\n")
        return 0
    if pending and not args.yes:
        changed = any(h["status"] == "changed" for h in shown["hosts"])
        question = "Replace the CHANGED keys and trust the others?" if changed else "Trust them?"
        if not _confirmed(cmd, question):
            env.stdout.write("nothing trusted\n")
            return 1
    # what is accepted is what was shown: a key that changed meanwhile is refused
    done = trust.trust_keys(cmd.ctx, args.name, args.host, args.replace, pending)
    if args.json:
        env.print_json(done)
    else:
        accepted = [h["host"] for h in done["hosts"] if h["status"] != "trusted"]
        env.stdout.write(
            f"site {done['site']}: trusted the host keys of {', '.join(accepted) or 'no host'}\n"
        )
    return 0
