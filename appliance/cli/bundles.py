"""appliance bundle keygen|build|verify|import|list|show, appliance key add|list"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from appliance.bundle import generate_keypair
from appliance.cli.common import context_from, print_json, print_table
from appliance.errors import BadRequest
from appliance.jobs import bundles as service
from appliance.settings import load_settings


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

    key = sub.add_parser("key", help="vendor public keys trusted for bundles")
    kcmds = key.add_subparsers(dest="key_command", metavar="SUBCOMMAND", required=True)
    add = kcmds.add_parser("add", help="trust a vendor public key (.pub)")
    add.add_argument("pubfile", type=Path)
    add.set_defaults(handler=key_add_command)
    klist = kcmds.add_parser("list", help="list trusted keys")
    klist.add_argument("--json", action="store_true")
    klist.set_defaults(handler=key_list_command)


def split_ref(ref: str) -> tuple[str, str]:
    name, at, version = ref.partition("@")
    if not at or not name or not version:
        raise BadRequest(f"{ref!r} is not NAME@VERSION", "Write e.g. demo-platform@1.1.0.")
    return name, version


def _existing_file(path: Path) -> Path:
    if not path.is_file():
        raise BadRequest(f"no file {path}", "Give the path of a .bundle file.")
    return path


def keygen_command(args: argparse.Namespace) -> int:
    private, public = generate_keypair(args.prefix)
    sys.stdout.write(
        f"private key: {private} (keep it secret)\npublic key:  {public} "
        "(give it to sites: appliance key add)\n"
    )
    return 0


def build_command(args: argparse.Namespace) -> int:
    if not args.src.is_dir():
        raise BadRequest(f"no folder {args.src}", "Give the bundle's source folder.")
    data_dir = load_settings(cli={"data_dir": getattr(args, "data_dir", None)}).data_path
    out = service.build_file(args.src, _existing_file(args.key), args.output, data_dir)
    sys.stdout.write(f"{out}\n")
    return 0


def verify_command(args: argparse.Namespace) -> int:
    ctx = context_from(args)
    try:
        if not args.file.exists() and "@" in args.file.name:  # an imported bundle
            checked = service.verify_imported(ctx, *split_ref(str(args.file)))
        else:
            checked = service.verify_file(ctx, _existing_file(args.file))
    finally:
        ctx.close()
    if args.json:
        print_json(checked)
    else:
        sys.stdout.write(
            f"OK {checked['name']} {checked['version']}: signed by key "
            f"{checked['key_id']}, {len(checked['manifest']['files'])} files "
            "verified\n"
        )
    return 0


def import_command(args: argparse.Namespace) -> int:
    ctx = context_from(args)
    try:
        bundle, created = service.import_file(ctx, _existing_file(args.file))
    finally:
        ctx.close()
    if args.json:
        print_json(bundle)
    else:
        what = "imported" if created else "already imported"
        sys.stdout.write(f"{what}: {bundle['name']} {bundle['version']} (key {bundle['key_id']})\n")
    return 0


def list_command(args: argparse.Namespace) -> int:
    ctx = context_from(args)
    try:
        found = service.rows.list_bundles(limit=1_000_000)
    finally:
        ctx.close()
    if args.json:
        print_json(found)
    elif not found:
        sys.stdout.write("no bundles imported (appliance bundle import FILE)\n")
    else:
        print_table(
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


def show_command(args: argparse.Namespace) -> int:
    name, version = split_ref(args.ref)
    ctx = context_from(args)
    try:
        detail = service.bundle_detail(name, version)
    finally:
        ctx.close()
    if args.json:
        print_json(detail)
        return 0
    sys.stdout.write(f"{detail['name']} {detail['version']}  {detail['description']}\n")
    for c in detail["components"]:
        sys.stdout.write(f"  component {c['name']} {c['version']}\n")
    for s in detail["sites"]:
        verdict = "yes" if s["allowed"] else "no"
        sys.stdout.write(
            f"  site {s['site']}: {s['action']} from {s['installed'] or '-'}: "
            f"{verdict} ({s['reason']})\n"
        )
    return 0


def key_add_command(args: argparse.Namespace) -> int:
    ctx = context_from(args)
    try:
        key = service.add_key(ctx, _existing_file(args.pubfile))
    finally:
        ctx.close()
    sys.stdout.write(f"trusted key {key.key_id}\n")
    return 0


def key_list_command(args: argparse.Namespace) -> int:
    ctx = context_from(args)
    try:
        keys = service.trusted_keys(ctx)
    finally:
        ctx.close()
    found = [{"key_id": k.key_id, "source": str(k.source)} for k in keys]
    if args.json:
        print_json(found)
    else:
        print_table([[k["key_id"], k["source"]] for k in found], ["KEY", "FILE"])
    return 0
