"""appliance bundle keygen|build|verify|import|list|show|rm, appliance key add|list|rm"""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.bundle import generate_keypair
from appliance.cli.common import Command, parse_ref
from appliance.errors import BadRequest
from appliance.jobs import bundles as service
from appliance.jobs import keys, removal


def register(sub: argparse._SubParsersAction) -> None:
    bundle = sub.add_parser("bundle", help="signed offline bundles")
    cmds = bundle.add_subparsers(dest="bundle_command", metavar="SUBCOMMAND", required=True)

    keygen = cmds.add_parser("keygen", help="make a signing key pair PREFIX.key / PREFIX.pub")
    keygen.add_argument("prefix", type=Path)
    keygen.set_defaults(handler=keygen_command)

    build = cmds.add_parser("build", help="hash, sign and pack a bundle source folder")
    build.add_argument("src", type=Path, metavar="SRC_DIR")
    build.add_argument("--key", type=Path, required=True, help="private signing key (.key)")
    build.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("."),
        help="output file or folder (default: current folder)",
    )
    build.set_defaults(handler=build_command)

    verify = cmds.add_parser(
        "verify", help="check a bundle's signature and every file (FILE, or NAME@VERSION imported)"
    )
    verify.add_argument("file", type=Path, metavar="FILE|NAME@VERSION")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(handler=verify_command)

    imp = cmds.add_parser("import", help="verify and import a bundle into the data folder")
    imp.add_argument("file", type=Path)
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=import_command)

    lst = cmds.add_parser("list", help="list imported bundles")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=list_command)

    show = cmds.add_parser("show", help="a bundle, its components and upgrade paths")
    show.add_argument("ref", metavar="NAME@VERSION")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_command)

    rm = cmds.add_parser("rm", help="delete an imported bundle no run, schedule or site refers to")
    rm.add_argument("ref", metavar="NAME@VERSION")
    rm.set_defaults(handler=rm_command)

    key = sub.add_parser("key", help="vendor public keys trusted for bundles")
    kcmds = key.add_subparsers(dest="key_command", metavar="SUBCOMMAND", required=True)
    add = kcmds.add_parser("add", help="trust a vendor public key (.pub)")
    add.add_argument("pubfile", type=Path)
    add.set_defaults(handler=key_add_command)
    klist = kcmds.add_parser("list", help="list trusted keys")
    klist.add_argument("--json", action="store_true")
    klist.set_defaults(handler=key_list_command)
    krm = kcmds.add_parser(
        "rm", help="stop trusting an added key (refused while imported bundles are signed by it)"
    )
    krm.add_argument("key_id", metavar="KEY")
    krm.set_defaults(handler=key_rm_command)


def _existing_file(path: Path) -> Path:
    if not path.is_file():
        raise BadRequest(f"no file {path}", "Give the path of a .bundle file.")
    return path


def keygen_command(cmd: Command) -> int:
    private, public = generate_keypair(cmd.args.prefix)
    cmd.env.stdout.write(
        f"private key: {private} (keep it secret)\npublic key:  {public} "
        "(give it to sites: appliance key add)\n"
    )
    return 0


def build_command(cmd: Command) -> int:
    args = cmd.args
    if not args.src.is_dir():
        raise BadRequest(f"no folder {args.src}", "Give the bundle's source folder.")
    out = service.build_file(
        args.src, _existing_file(args.key), args.output, cmd.settings().data_path
    )
    cmd.env.stdout.write(f"{out}\n")
    return 0


def verify_command(cmd: Command) -> int:
    env, args = cmd.env, cmd.args
    if not args.file.exists() and "@" in args.file.name:  # an imported bundle
        checked = service.verify_imported(cmd.ctx, *parse_ref(str(args.file)))
    else:
        checked = service.verify_file(cmd.ctx, _existing_file(args.file))
    if args.json:
        env.print_json(checked)
    else:
        env.stdout.write(
            f"OK {checked['name']} {checked['version']}: signed by key "
            f"{checked['key_id']}, {len(checked['manifest']['files'])} files "
            "verified\n"
        )
    return 0


def import_command(cmd: Command) -> int:
    env = cmd.env
    bundle, created = service.import_file(cmd.ctx, _existing_file(cmd.args.file))
    if cmd.args.json:
        env.print_json(bundle)
    else:
        what = "imported" if created else "already imported"
        env.stdout.write(f"{what}: {bundle['name']} {bundle['version']} (key {bundle['key_id']})\n")
    return 0


def list_command(cmd: Command) -> int:
    env = cmd.env
    cmd.context()  # the store the query reads
    found = service.rows.list_bundles(limit=1_000_000)
    if cmd.args.json:
        env.print_json(found)
    elif not found:
        env.stdout.write("no bundles imported (appliance bundle import FILE)\n")
    else:
        env.print_table(
            [
                [
                    b["name"],
                    b["version"],
                    ",".join(b["upgrade_from"]) or "-",
                    " ".join(f"{c['name']}={c['version']}" for c in b["components"]),
                ]
                for b in found
            ],
            ["NAME", "VERSION", "UPGRADES FROM", "COMPONENTS"],
        )
    return 0


def show_command(cmd: Command) -> int:
    env = cmd.env
    name, version = parse_ref(cmd.args.ref)
    cmd.context()  # the store the query reads
    detail = service.bundle_detail(name, version)
    if cmd.args.json:
        env.print_json(detail)
        return 0
    env.stdout.write(f"{detail['name']} {detail['version']}  {detail['description']}\n")
    for c in detail["components"]:
        env.stdout.write(f"  component {c['name']} {c['version']}\n")
    for s in detail["sites"]:
        verdict = "yes" if s["allowed"] else "no"
        env.stdout.write(
            f"  site {s['site']}: {s['action']} from {s['installed'] or '-'}: "
            f"{verdict} ({s['reason']})\n"
        )
    return 0


def rm_command(cmd: Command) -> int:
    name, version = parse_ref(cmd.args.ref)
    removal.delete_bundle(cmd.ctx, name, version)
    cmd.env.stdout.write(f"deleted bundle {name} {version}\n")
    return 0


def key_add_command(cmd: Command) -> int:
    key = keys.add_key(cmd.ctx, _existing_file(cmd.args.pubfile))
    cmd.env.stdout.write(
        f"trusted key {key['id']} ({key['name']}; fingerprint {key['fingerprint']})\n"
    )
    return 0


def key_list_command(cmd: Command) -> int:
    found = keys.list_keys(cmd.ctx)
    if cmd.args.json:
        cmd.env.print_json(found)
    else:
        cmd.env.print_table(
            [[k["id"], k["name"], k["source"], ", ".join(k["bundles"]) or "-"] for k in found],
            ["KEY", "NAME", "SOURCE", "BUNDLES SIGNED"],
        )
    return 0


def key_rm_command(cmd: Command) -> int:
    gone = keys.remove_key(cmd.ctx, cmd.args.key_id)
    cmd.env.stdout.write(f"removed key {gone['id']} ({gone['name']})\n")
    return 0
