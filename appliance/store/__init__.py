"""The store: SQLite in WAL mode, one writer thread, readers on their own connections."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import peewee
from peewee import SqliteDatabase

from appliance.clock import Clock, SystemClock, iso
from appliance.errors import ConfigError
from appliance.store.migrations import migrate
from appliance.store.models import database
from appliance.store.writer import Writer

logger = logging.getLogger(__name__)
T = TypeVar("T")

PRAGMAS = {
    # Before anything else: a new database gives pages back in steps (retention), an old one
    # (made before this) is unchanged and reuses its free pages instead.
    "auto_vacuum": "incremental",
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,  # only another process (a CLI command) can hold the lock
    "synchronous": "normal",  # WAL + NORMAL survives a killed process; only power loss can cost
    "query_only": 1,  # readers cannot write; the writer lifts this on its own connection
}

_open_lock = threading.Lock()

# What a database problem raises, from SQLite itself or through peewee: the command line's edge
# turns these into one line (it imports nothing of the database itself).
DATABASE_ERRORS = (sqlite3.DatabaseError, peewee.DatabaseError)


class DamagedDatabase(ConfigError):
    """The database file cannot be used: not a database, truncated, damaged pages, a folder."""

    def __init__(self, path: Path, cause: BaseException) -> None:
        super().__init__(
            f"the database {path} is damaged or unreadable ({cause}); the appliance will not "
            "use it",
            "Restore the data folder from a backup (appliance data restore FILE --data-dir "
            "NEW_FOLDER), or move the damaged file away to start with an empty database "
            "(the bundles, logs and reports beside it are kept).",
        )


def _checked_migrate(db: SqliteDatabase) -> int:
    """Before anything is written: the schema is readable and SQLite finds no damage
    (``quick_check``: every page and index entry, without comparing index contents)."""
    problems = [row[0] for row in db.execute_sql("PRAGMA quick_check(5)").fetchall()]
    if problems != ["ok"]:
        raise sqlite3.DatabaseError("; ".join(problems))
    return migrate(db)


class Store:
    """Owns the database file, its migrations and its writer thread."""

    def __init__(self, path: Path, clock: Clock | None = None) -> None:
        self.path = Path(path)
        self.clock = clock or SystemClock()
        self.db: SqliteDatabase | None = None
        self.writer: Writer | None = None
        self.found_schema: int | None = None

    def open(self) -> Store:
        """Open (creating or migrating) the database; a damaged or unreadable one is refused
        with a ConfigError that says how to get the data back (nothing is written to it)."""
        with _open_lock:
            try:
                self._open()
            except (OSError, *DATABASE_ERRORS) as e:
                self.close()
                raise DamagedDatabase(self.path, e) from e
        logger.info("store open at %s (schema found: %s)", self.path, self.found_schema)
        return self

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A new database is private from the start; SQLite gives its -wal and -shm files the
        # database file's mode.
        self.path.touch(mode=0o600)
        self.db = SqliteDatabase(str(self.path), pragmas=PRAGMAS, check_same_thread=False)
        # A fresh database object gives every thread fresh connections to this file.
        database.initialize(self.db)
        self.writer = Writer(self.db, on_open=_checked_migrate)
        self.found_schema = self.writer.start()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.stop()
        if self.db is not None:
            self.db.close()  # this thread's reader connection, if any

    def __enter__(self) -> Store:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Writes ----------------------------------------------------------------------------------
    def write(self, fn: Callable[..., T], *args: Any) -> T:
        assert self.writer is not None, "store is not open"
        return self.writer.call(fn, *args)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        assert self.writer is not None, "store is not open"
        return self.writer.submit(fn, *args)

    def fire(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self.writer is not None, "store is not open"
        self.writer.fire(fn, *args)

    def now(self) -> str:
        return iso(self.clock.now())

    # Reads -----------------------------------------------------------------------------------
    def reader(self):
        """A read transaction on this thread's own connection (a consistent snapshot)."""
        assert self.db is not None, "store is not open"
        return self.db.atomic()

    def integrity_check(self) -> str:
        assert self.db is not None
        return self.db.execute_sql("PRAGMA integrity_check").fetchone()[0]
