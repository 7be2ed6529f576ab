#!/usr/bin/env python3
"""demo-platform database tool: create and migrate the SQLite database, back it up.

Stdlib only, Python 3.8+. Run as a script (no __file__ needed: a frozen interpreter may run it).

  migrate.py migrate --db PATH --target N [--check]
        bring the schema to version N (PRAGMA user_version); --check only says what it would do
  migrate.py backup --data DIR --out DIR    consistent copy of a data directory (SQLite backup API)

`migrate` prints "migrated ..." only when it changed the database (playbooks key `changed_when`
on that word) and refuses to go backwards: a newer schema than the target needs a restore.
"""

import argparse
import filecmp
import os
import pathlib
import shutil
import sqlite3
import sys

# Schema version -> statements. Migrations only ever add: the previous app release keeps working
# against the new schema while the upgrade runs (db is migrated before the app is replaced).
MIGRATIONS = {
    1: [
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    ],
}

SKIP_SUFFIXES = ("-wal", "-shm", "-journal")


def schema_of(con):
    return con.execute("PRAGMA user_version").fetchone()[0]


def migrate(db, target, check=False):
    latest = max(MIGRATIONS)
    if not 1 <= target <= latest:
        print("error: this tool knows schemas 1..%d, not %d" % (latest, target), file=sys.stderr)
        return 2
    created = not os.path.exists(db)
    if check and created:
        print("would create and migrate %s schema 0 -> %d" % (db, target))
        return 0
    if check:
        uri = pathlib.Path(os.path.abspath(db)).as_uri() + "?mode=ro"
        con = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    else:
        con = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        current = schema_of(con)
        if current > target:
            print(
                "error: %s is at schema %d, newer than this bundle's schema %d. "
                "Restore the backup taken before the upgrade (rollback) or use a newer bundle."
                % (db, current, target),
                file=sys.stderr,
            )
            return 3
        if current == target:
            print("schema %d is current in %s; nothing to do" % (current, db))
            return 0
        if check:
            print("would migrate %s schema %d -> %d" % (db, current, target))
            return 0
        for version in range(current + 1, target + 1):
            con.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[version]:
                    con.execute(statement)
                con.execute("PRAGMA user_version = %d" % version)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        print(
            "%smigrated %s schema %d -> %d"
            % ("created and " if created else "", db, current, target)
        )
        return 0
    finally:
        con.close()


def _backup_db(src, dest):
    source = sqlite3.connect(src, timeout=30)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def backup(data, out):
    """Copy every file of `data` into `out`; *.db through SQLite, so a live db copies whole."""
    if not os.path.isdir(data):
        print("nothing to back up: %s does not exist" % data)
        return 0
    copied = unchanged = 0
    for root, _dirs, files in os.walk(data):
        rel = os.path.relpath(root, data)
        dest_dir = os.path.normpath(os.path.join(out, rel))
        os.makedirs(dest_dir, exist_ok=True)
        for name in sorted(files):
            if name.endswith(SKIP_SUFFIXES):
                continue
            src = os.path.join(root, name)
            dest = os.path.join(dest_dir, name)
            tmp = dest + ".tmp"
            if name.endswith(".db"):
                if os.path.exists(tmp):
                    os.unlink(tmp)
                _backup_db(src, tmp)
            else:
                shutil.copy2(src, tmp)
            if os.path.exists(dest) and filecmp.cmp(tmp, dest, shallow=False):
                os.unlink(tmp)
                unchanged += 1
            else:
                os.replace(tmp, dest)
                copied += 1
    if copied:
        print("backed up %d file(s) of %s to %s (%d unchanged)" % (copied, data, out, unchanged))
    else:
        print("backup of %s in %s is up to date (%d file(s))" % (data, out, unchanged))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description="demo-platform database tool")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("migrate", help="create or migrate the database to a schema version")
    p.add_argument("--db", required=True)
    p.add_argument("--target", type=int, required=True)
    p.add_argument("--check", action="store_true", help="say what would change, change nothing")
    p = sub.add_parser("backup", help="copy a data directory consistently")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "migrate":
        return migrate(args.db, args.target, args.check)
    return backup(args.data, args.out)


if __name__ == "__main__":
    sys.exit(main())
