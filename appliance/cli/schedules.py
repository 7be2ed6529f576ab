"""appliance schedule add|edit|list|rm|enable|disable|ack

The command works on the database directly; a running `appliance serve` picks the change up
within a minute (its scheduler re-reads the schedules at least that often) and starts the runs.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from appliance.cli.common import Command, parse_ref
from appliance.clock import local_zone_name
from appliance.errors import BadRequest, NotFound
from appliance.jobs.schedules.requests import ACTIONS
from appliance.jobs.schedules.service import Scheduler
from appliance.jobs.schedules.triggers import ScheduleSpecError, load_zone
from appliance.store.sites import find_site, site_zone
from appliance.validate import id_arg


def register(sub: argparse._SubParsersAction) -> None:
    schedule = sub.add_parser("schedule", help="unattended runs in maintenance windows")
    cmds = schedule.add_subparsers(dest="schedule_command", metavar="SUBCOMMAND", required=True)

    add = cmds.add_parser("add", help="schedule a run of a bundle version on a site")
    add.add_argument("site", help="site name or id")
    add.add_argument("bundle", metavar="BUNDLE@VERSION", help="e.g. demo-platform@1.1.0")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--at",
        metavar="TIME",
        help='once, at a local time in --tz ("2026-12-01 02:00") or ISO-8601 with an offset',
    )
    when.add_argument(
        "--cron", metavar="EXPR", help='repeating, crontab fields in --tz ("0 2 * * 6")'
    )
    add.add_argument(
        "--tz",
        metavar="ZONE",
        help="IANA time zone of --at/--cron, e.g. Asia/Shanghai (default: the site's zone)",
    )
    add.add_argument(
        "--window",
        type=int,
        required=True,
        metavar="MINUTES",
        help="how long after the fire time the run may still start",
    )
    add.add_argument("--action", choices=ACTIONS, default="upgrade")
    add.add_argument("--disabled", action="store_true", help="store it disabled")
    add.add_argument("--json", action="store_true", help="print the schedule as JSON")
    add.set_defaults(handler=add_schedule)

    edit = cmds.add_parser(
        "edit", help="change a schedule (the options given; checked like a new one)"
    )
    edit.add_argument("id", type=id_arg)
    edit.add_argument("--site", help="another site (name or id)")
    edit.add_argument("--bundle", metavar="BUNDLE@VERSION", help="another bundle version")
    when = edit.add_mutually_exclusive_group()
    when.add_argument("--at", metavar="TIME", help="once, at a local time in --tz (or ISO)")
    when.add_argument("--cron", metavar="EXPR", help="repeating, crontab fields in --tz")
    edit.add_argument("--tz", metavar="ZONE", help="IANA time zone (default: unchanged)")
    edit.add_argument("--window", type=int, metavar="MINUTES")
    edit.add_argument("--action", choices=ACTIONS)
    edit.add_argument("--json", action="store_true", help="print the schedule as JSON")
    edit.set_defaults(handler=edit_schedule)

    lst = cmds.add_parser("list", help="list schedules, their next fire times and misses")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=list_schedules)

    rm = cmds.add_parser("rm", help="delete a schedule (a run it started keeps going)")
    rm.add_argument("id", type=id_arg)
    rm.set_defaults(handler=remove_schedule)

    for name, enabled in (("enable", True), ("disable", False)):
        cmd = cmds.add_parser(name, help=f"{name} a schedule")
        cmd.add_argument("id", type=id_arg)
        cmd.set_defaults(handler=toggle_schedule, enabled=enabled)

    ack = cmds.add_parser("ack", help="acknowledge missed occurrences (all, or the ids given)")
    ack.add_argument("ids", type=id_arg, nargs="*", metavar="OCCURRENCE")
    ack.set_defaults(handler=acknowledge)


def site_zone_of(ref: str) -> str:
    """The zone a site's schedules default to (this system's when the site is unknown: the plan
    check then says so)."""
    try:
        return site_zone(find_site(ref))
    except NotFound:
        return local_zone_name()


def at_to_iso(text: str, zone_name: str) -> str:
    """A local wall time in ``zone_name`` (or an ISO time with offset) as ISO with offset."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise BadRequest(
            f"--at {text!r} is not a time",
            'Write it as "YYYY-MM-DD HH:MM" (local in --tz) or ISO-8601 with an offset.',
        ) from e
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=load_zone(zone_name))
        except ScheduleSpecError as e:
            raise BadRequest(
                f"--tz: {e}", "Use an IANA zone name such as Europe/Berlin or UTC."
            ) from e
    return moment.isoformat()


def build_spec(args: argparse.Namespace, zone_name: str) -> dict[str, Any]:
    name, version = parse_ref(args.bundle)
    spec: dict[str, Any] = {
        "site": args.site,
        "bundle": name,
        "version": version,
        "action": args.action,
        "window_minutes": args.window,
        "timezone": zone_name,
        "enabled": not args.disabled,
    }
    if args.at is not None:
        spec["at"] = at_to_iso(args.at, zone_name)
    else:
        spec["cron"] = args.cron
    return spec


def _wall(text: str, naive_only: bool = False) -> datetime | None:
    """The wall-clock part of a time (None for a time typed with an offset if naive_only)."""
    moment = datetime.fromisoformat(text.strip())
    if naive_only and moment.tzinfo is not None:
        return None
    return moment.replace(tzinfo=None, second=0, microsecond=0)


def _when(item: dict[str, Any]) -> str:
    if item["trigger"] == "once":
        return f"once {item['at_local']}"
    return f"cron '{item['cron']}' {item['timezone']}"


def add_schedule(cmd: Command) -> int:
    args, out = cmd.args, cmd.env.stdout
    cmd.context()  # the store the site is read from
    zone_name = args.tz or site_zone_of(args.site)
    spec = build_spec(args, zone_name)
    created = Scheduler(cmd.ctx, None).add(spec)
    if args.json:
        cmd.env.print_json(created)
        return 0
    zone_note = (
        ""
        if args.tz
        else f" (time zone {zone_name}: the site's, by default this system's; set --tz to change)"
    )
    nxt = created["next"][0] if created["next"] else None
    out.write(
        f"schedule {created['id']} added: {created['action']} {created['site']['name']} to "
        f"{created['bundle']['name']} {created['bundle']['version']}, {_when(created)}, "
        f"window {created['window_minutes']} min{zone_note}\n"
    )
    if args.at is not None and _wall(args.at, naive_only=True) not in (
        None,
        _wall(created["at_local"]),
    ):
        out.write(
            f"note: {args.at} does not exist in {zone_name} (a DST change skips it); "
            f"it runs at {created['at_local']}\n"
        )
    if nxt:
        out.write(f"next run: {nxt['local']} ({nxt['utc']} UTC)\n")
    if not created["enabled"]:
        out.write(f"disabled; enable it with `appliance schedule enable {created['id']}`\n")
    return 0


def edit_schedule(cmd: Command) -> int:
    args = cmd.args
    scheduler = Scheduler(cmd.ctx, None)
    current = scheduler.get(args.id)
    changes: dict[str, Any] = {}
    if args.site is not None:
        changes["site"] = args.site
    if args.bundle is not None:
        changes["bundle"], changes["version"] = parse_ref(args.bundle)
    if args.tz is not None:
        changes["timezone"] = args.tz
    zone_name = args.tz or current["timezone"]
    if args.at is not None:
        changes["at"] = at_to_iso(args.at, zone_name)
    if args.cron is not None:
        changes["cron"] = args.cron
    if args.window is not None:
        changes["window_minutes"] = args.window
    if args.action is not None:
        changes["action"] = args.action
    if not changes:
        raise BadRequest(
            "nothing to change",
            "Give what changes, e.g. `appliance schedule edit ID --cron '0 3 * * 6'`.",
        )
    edited = scheduler.edit(args.id, changes)
    if args.json:
        cmd.env.print_json(edited)
        return 0
    nxt = edited["next_fire"]
    cmd.env.stdout.write(
        f"schedule {edited['id']} changed: {edited['action']} {edited['site']['name']} to "
        f"{edited['bundle']['name']} {edited['bundle']['version']}, {_when(edited)}, "
        f"window {edited['window_minutes']} min\n"
    )
    if nxt:
        cmd.env.stdout.write(f"next run: {nxt['local']} {nxt['zone']} ({nxt['utc']} UTC)\n")
    return 0


def list_schedules(cmd: Command) -> int:
    env, out = cmd.env, cmd.env.stdout
    overview = Scheduler(cmd.ctx, None).overview()
    if cmd.args.json:
        env.print_json(overview)
        return 0
    found, missed = overview["schedules"], overview["missed"]
    if not found:
        out.write("no schedules (add one with `appliance schedule add ...`)\n")
    env.print_table(
        [
            [
                s["id"],
                s["site"]["name"],
                f"{s['bundle']['name']}@{s['bundle']['version']}",
                s["action"],
                _when(s),
                s["window_minutes"],
                "yes" if s["enabled"] else "no",
                f"{s['next_fire']['local']} {s['timezone']}" if s["next_fire"] else "-",
                s["occurrences"][0]["state"] if s["occurrences"] else "-",
            ]
            for s in found
        ],
        ["ID", "SITE", "BUNDLE", "ACTION", "WHEN", "WINDOW", "ENABLED", "NEXT", "LAST"],
    )
    if missed:
        out.write(f"\n{len(missed)} MISSED or SKIPPED (not yet acknowledged):\n")
        for m in missed:
            out.write(
                f"  [{m['id']}] schedule {m['schedule']} {m['site']} {m['bundle']} at "
                f"{m['fire_time_local']}: {m['state']}: {m['detail']}\n"
            )
        out.write("acknowledge with `appliance schedule ack [OCCURRENCE ...]`\n")
    return 0


def remove_schedule(cmd: Command) -> int:
    Scheduler(cmd.ctx, None).delete(cmd.args.id)
    cmd.env.stdout.write(f"schedule {cmd.args.id} deleted\n")
    return 0


def toggle_schedule(cmd: Command) -> int:
    args = cmd.args
    Scheduler(cmd.ctx, None).set_enabled(args.id, args.enabled)
    cmd.env.stdout.write(f"schedule {args.id} {'enabled' if args.enabled else 'disabled'}\n")
    return 0


def acknowledge(cmd: Command) -> int:
    done = Scheduler(cmd.ctx, None).acknowledge(cmd.args.ids or None)["acknowledged"]
    cmd.env.stdout.write(f"{len(done)} occurrence(s) acknowledged\n")
    return 0
