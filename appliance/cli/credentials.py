"""appliance site credentials SITE --ssh-key FILE | --password-stdin [--become-password-stdin]

Secrets never come from the command line (other users see it in the process list): the key from
a file, passwords from stdin (one line each: the SSH password first, then the become password),
the credentials passphrase typed on the terminal.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from appliance.cli.common import Command, typed_secret
from appliance.errors import BadRequest
from appliance.jobs.sites import service as remote_sites
from appliance.store import credential_key
from appliance.validate import read_text_file


def register_site_commands(cmds: argparse._SubParsersAction) -> None:
    cred = cmds.add_parser(
        "credentials",
        help="set a site's SSH key / passwords (stored encrypted)",
        description="Set a site's credentials. Passwords are read from stdin, one per line "
        "(SSH password first, then the become password); never give a secret as an argument.",
    )
    cred.add_argument("name", metavar="SITE")
    cred.add_argument("--ssh-key", metavar="FILE", help="private key file (no passphrase)")
    cred.add_argument("--password-stdin", action="store_true", help="read the SSH password")
    cred.add_argument(
        "--become-password-stdin", action="store_true", help="read the sudo (become) password"
    )
    cred.add_argument(
        "--clear",
        action="append",
        default=[],
        choices=["ssh_key", "password", "become_password"],
        help="remove a stored kind (repeat for more)",
    )
    cred.add_argument(
        "--key-source",
        choices=credential_key.SOURCES,
        default="auto",
        help="where the encryption key lives, chosen when the first credentials are stored "
        "(auto: the OS keyring if usable, else a 0600 key file in the data folder)",
    )
    cred.add_argument("--json", action="store_true")
    cred.set_defaults(handler=set_credentials)


def passphrase_prompt(confirm: bool = False) -> str:
    """The credentials passphrase, typed on the terminal."""
    return typed_secret("Credentials passphrase", confirm)


def key_passphrase(root: Path, source: str = "auto") -> str | None:
    """Ask for the passphrase when the key is (or is about to be) passphrase-protected."""
    info = credential_key.key_info(root)
    if info is None:
        return passphrase_prompt(confirm=True) if source == "passphrase" else None
    return passphrase_prompt() if info["source"] == "passphrase" else None


def _stdin_lines(stdin: TextIO, count: int) -> list[str]:
    lines = []
    for _ in range(count):
        line = stdin.readline()
        if not line:
            raise BadRequest(
                f"expected {count} line(s) on stdin, got {len(lines)}",
                "Give one password per line on stdin (SSH password first).",
            )
        lines.append(line.rstrip("\r\n"))
    return lines


def set_credentials(cmd: Command) -> int:
    args, env = cmd.args, cmd.env
    data: dict[str, str] = {}
    if args.ssh_key:
        data["ssh_key"] = read_text_file(args.ssh_key, "--ssh-key", 64 * 1024)
    wanted = [
        k
        for k, on in (
            ("password", args.password_stdin),
            ("become_password", args.become_password_stdin),
        )
        if on
    ]
    data.update(zip(wanted, _stdin_lines(env.stdin, len(wanted)), strict=True))
    if not data and not args.clear:
        raise BadRequest(
            "nothing to set",
            "Give --ssh-key FILE, --password-stdin, --become-password-stdin or --clear KIND.",
        )
    ctx = cmd.ctx
    passphrase = key_passphrase(ctx.paths.root, args.key_source) if data else None
    result = remote_sites.set_site_credentials(
        ctx, args.name, data, args.clear, args.key_source, passphrase
    )
    if args.json:
        env.print_json(result)
    else:
        kinds = ", ".join(result["credentials"]) or "none"
        env.stdout.write(f"site {result['site']}: credentials set: {kinds}\n")
    return 0
