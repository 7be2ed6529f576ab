"""appliance data backup FILE | data restore FILE [--force]: the data folder in one archive, and
back into a new (empty) data folder, e.g. on a new laptop. The backup passphrase (it wraps the
credentials key) comes from stdin with --passphrase-stdin, else it is typed on the terminal."""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.cli.common import Command, typed_secret
from appliance.errors import BadRequest
from appliance.validate import id_arg


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="back up the data folder, or restore it into a new one")
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    backup = actions.add_parser(
        "backup",
        help="write one archive of the data folder (a consistent database snapshot, bundles, "
        "runs, reports, keys; the credentials key wrapped by a passphrase)",
    )
    backup.add_argument("file", type=Path, help="the archive to write")
    backup.add_argument("--passphrase-stdin", action="store_true", help="read the passphrase")
    backup.add_argument("--json", action="store_true", help="print the result as JSON")
    backup.set_defaults(handler=backup_command)
    restore = actions.add_parser(
        "restore",
        help="restore an archive into the data folder (--data-dir), which must be new or empty; "
        "or, with --snapshot N, the sites' records as they were before a run",
    )
    restore.add_argument("file", type=Path, nargs="?", help="the archive `data backup` wrote")
    restore.add_argument(
        "--snapshot",
        type=id_arg,
        metavar="N",
        help="put back the sites, hosts, credentials and installed versions of snapshot N "
        "(see `data snapshots`) in this data folder",
    )
    restore.add_argument("--passphrase-stdin", action="store_true", help="read the passphrase")
    restore.add_argument(
        "--force", action="store_true", help="move a non-empty data folder aside first"
    )
    restore.add_argument("--json", action="store_true", help="print the result as JSON")
    restore.set_defaults(handler=restore_command)
    snaps = actions.add_parser(
        "snapshots", help="the snapshots of the sites' records taken before each run"
    )
    snaps.add_argument("--json", action="store_true", help="print them as JSON")
    snaps.set_defaults(handler=snapshots_command)


def _passphrase(cmd: Command, confirm: bool) -> str:
    if cmd.args.passphrase_stdin:
        line = cmd.env.stdin.readline()
        if not line.strip():
            raise BadRequest("no passphrase on stdin", "Give the passphrase as one line.")
        return line.rstrip("\r\n")
    return typed_secret("Backup passphrase", confirm, ", or give it with --passphrase-stdin")


def backup_command(cmd: Command) -> int:
    from appliance.jobs.datafolder import backup, needs_passphrase

    passphrase = _passphrase(cmd, confirm=True) if needs_passphrase(cmd.ctx) else None
    done = backup(cmd.ctx, cmd.args.file, passphrase)
    if cmd.args.json:
        cmd.env.print_json(done)
        return 0
    key = {
        "wrapped": "the credentials key is in it, wrapped by your passphrase: keep the "
        "passphrase apart from the file",
        "passphrase": "the credentials key is derived from the credentials passphrase: the "
        "restored folder asks for it",
        "none": "no credentials are stored",
    }[done["key"]]
    cmd.env.stdout.write(
        f"wrote {done['path']}: {done['files']} files, {done['bytes']} bytes ({key})\n"
    )
    return 0


def restore_command(cmd: Command) -> int:
    from appliance.jobs.datafolder import read_manifest, restore

    if (cmd.args.file is None) == (cmd.args.snapshot is None):
        raise BadRequest(
            "restore needs a backup FILE or --snapshot N (one of the two)",
            "A backup goes into a new folder: data restore FILE --data-dir NEW; a snapshot "
            "into this one: data restore --snapshot N.",
        )
    if cmd.args.snapshot is not None:
        return _restore_snapshot(cmd)

    root = cmd.settings().data_path  # not opened: the folder is filled from the archive
    info = read_manifest(cmd.args.file)
    passphrase = _passphrase(cmd, confirm=False) if info.get("key") == "wrapped" else None
    done = restore(cmd.args.file, root, passphrase, force=cmd.args.force)
    if cmd.args.json:
        cmd.env.print_json(done)
        return 0
    aside = f"; the previous contents are in {done['moved_aside']}" if done["moved_aside"] else ""
    cmd.env.stdout.write(
        f"restored the backup of {done['created_at']} into {done['root']}{aside}\n"
        f"start the appliance with --data-dir {done['root']} (or APPLIANCE_DATA_DIR)\n"
    )
    return 0


def _restore_snapshot(cmd: Command) -> int:
    from appliance.store import site_snapshots

    done = site_snapshots.restore(cmd.ctx.store, cmd.ctx.paths.snapshots, cmd.args.snapshot)
    if cmd.args.json:
        cmd.env.print_json(done)
    else:
        cmd.env.stdout.write(
            f"restored snapshot {done['snapshot']}: {', '.join(done['sites']) or 'no sites'} "
            "(sites, hosts, credentials, installed versions; runs and schedules as they are)\n"
        )
    return 0


def snapshots_command(cmd: Command) -> int:
    from appliance.store import site_snapshots

    found = site_snapshots.list_snapshots(cmd.ctx.paths.snapshots)
    if cmd.args.json:
        cmd.env.print_json(found)
    elif not found:
        cmd.env.stdout.write(
            "no snapshots yet (one is taken before each run that changes a site)\n"
        )
    else:
        cmd.env.print_table(
            [[s["id"], s["taken_at"], s["reason"], ", ".join(s["sites"])] for s in found],
            ["ID", "TAKEN (UTC)", "REASON", "SITES"],
        )
    return 0
