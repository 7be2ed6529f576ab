"""Snapshots of the sites' own records (sites, hosts, credentials as ciphertext, installed
versions; never run events) taken before each run that changes a site, and their restore.

A snapshot is a small SQLite file ``snapshots/<n>.db`` copied in one read transaction from its
own connection (so it is one commit's state). Restoring puts each snapshot site's row, hosts,
credentials and installed versions back exactly as they were, in one writer unit; runs and
schedules stay (deleting a site row would take its runs with it), and sites made after the
snapshot are left as they are.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from appliance.errors import Conflict, NotFound
from appliance.states import ACTIVE
from appliance.store import Store
from appliance.store.models import Run

# the site's own records, the site's row first
TABLES = ("site", "host", "credential", "installed_component")
CHILDREN = TABLES[1:]


def take(db_path: Path, folder: Path, reason: str, keep: int) -> int:
    """Write the next snapshot (its number is returned) and drop all but the newest ``keep``."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    number = max((_number(p) for p in folder.glob("*.db")), default=0) + 1
    target = folder / f"{number}.db"
    partial = folder / f".{number}.db.tmp"
    partial.unlink(missing_ok=True)
    # its own connection (only read from: the writer's lock is never taken), in autocommit mode
    source = sqlite3.connect(db_path, isolation_level=None)
    try:
        source.execute("ATTACH DATABASE ? AS snap", (str(partial),))
        source.execute("BEGIN")  # one read transaction: one commit's state of every table
        for table in TABLES:
            source.execute(f"CREATE TABLE snap.{table} AS SELECT * FROM main.{table}")
        source.execute(
            "CREATE TABLE snap.about AS SELECT ? AS reason, datetime('now') AS taken_at",
            (reason,),
        )
        source.execute("COMMIT")
        source.execute("DETACH DATABASE snap")
    finally:
        source.close()
    partial.chmod(0o600)
    partial.replace(target)
    for old in sorted(folder.glob("*.db"), key=_number)[:-keep]:
        old.unlink(missing_ok=True)
    return number


def list_snapshots(folder: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(folder.glob("*.db"), key=_number, reverse=True):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            reason, taken_at = db.execute("SELECT reason, taken_at FROM about").fetchone()
            names = [r[0] for r in db.execute("SELECT name FROM site ORDER BY id")]
        finally:
            db.close()
        found.append({"id": _number(path), "reason": reason, "taken_at": taken_at, "sites": names})
    return found


def restore(store: Store, folder: Path, number: int) -> dict[str, Any]:
    """Put the snapshot's sites' records back (one writer unit); Conflict while a run is active
    on one of them."""
    path = folder / f"{number}.db"
    if not path.is_file():
        raise NotFound(f"no snapshot {number}", "List them with `appliance data snapshots`.")
    saved = _read(path)  # small tables, read first: the writer's unit only writes
    site_ids = [row["id"] for row in saved["site"]]

    def write() -> dict[str, Any]:
        db = Run._meta.database
        busy = Run.select(Run.id).where(Run.site.in_(site_ids) & Run.state.in_(ACTIVE)).scalar()
        if busy is not None:
            raise Conflict(
                f"run {busy} is active on a site of snapshot {number}",
                f"Wait for run {busy} to end (or cancel it), then restore.",
            )
        for table in TABLES:
            live = [r[1] for r in db.execute_sql(f"PRAGMA table_info({table})")]
            rows = [{c: row[c] for c in live if c in row} for row in saved[table]]
            if table == "site":
                for row in rows:  # in place: a deleted site row would take its runs along
                    cols = list(row)
                    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id")
                    db.execute_sql(
                        f"INSERT INTO site ({', '.join(cols)}) VALUES "
                        f"({', '.join('?' for _ in cols)}) ON CONFLICT(id) DO UPDATE SET {updates}",
                        list(row.values()),
                    )
                continue
            marks = ", ".join("?" for _ in site_ids) or "NULL"
            db.execute_sql(f"DELETE FROM {table} WHERE site_id IN ({marks})", site_ids)
            for row in rows:  # a snapshot taken before a migration lacks newer columns
                cols = list(row)
                db.execute_sql(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                    f"({', '.join('?' for _ in cols)})",
                    list(row.values()),
                )
        return {"snapshot": number, "sites": [row["name"] for row in saved["site"]]}

    return store.write(write)


def _read(path: Path) -> dict[str, list[dict[str, Any]]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return {t: [dict(r) for r in db.execute(f"SELECT * FROM {t} ORDER BY id")] for t in TABLES}
    finally:
        db.close()


def _number(path: Path) -> int:
    stem = path.name.split(".")[0]
    return int(stem) if stem.isdigit() else 0
