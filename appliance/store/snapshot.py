"""A consistent copy of the database while the appliance runs (SQLite's online backup API).

The copy is taken from a connection of its own in one step, inside one read transaction, so it
is the database as of one commit: writers (the run engine's event batches) go on meanwhile
under WAL and are simply not in it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def snapshot(db_path: Path, target: Path) -> int:
    """Copy the database at ``db_path`` to ``target`` (a new file); returns its schema
    version."""
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # pages=-1: every page in one step, one read transaction
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            return copy.execute("PRAGMA user_version").fetchone()[0]
        finally:
            copy.close()
    finally:
        source.close()
