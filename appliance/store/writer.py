"""The single writer: one thread owns every write to SQLite.

Callers submit a unit of work (a function run on the writer thread) and wait on a future, or
fire and forget (run events). The writer takes whatever is queued and commits it in one
transaction, each unit inside its own savepoint so one failing unit fails alone. A future is
resolved only after its transaction committed: an acknowledged write is durable.
Reader connections are opened with ``PRAGMA query_only=1``; only this thread lifts it, so a
write from any other thread fails loudly instead of ever racing for the lock.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from peewee import Database

logger = logging.getLogger(__name__)

T = TypeVar("T")
_STOP = object()
MAX_BATCH = 2000


class _Unit:
    __slots__ = ("args", "fn", "future")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], future: Future | None):
        self.fn = fn
        self.args = args
        self.future = future


class Writer:
    def __init__(self, db: Database, on_open: Callable[[Database], Any] | None = None) -> None:
        self._db = db
        self._on_open = on_open
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="db-writer", daemon=True)
        self._ready: Future[Any] = Future()
        self._stopped = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Any:
        """Start the thread; returns what ``on_open`` returned (e.g. the migration result)."""
        self._thread.start()
        return self._ready.result()

    def stop(self, timeout: float = 30.0) -> None:
        """Commit everything already queued, then stop the thread."""
        if not self._thread.is_alive():
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    # -- submitting work -----------------------------------------------------------------------
    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        if self._stopped.is_set():
            raise RuntimeError("the database writer has stopped")
        future: Future[T] = Future()
        self._queue.put(_Unit(fn, args, future))
        return future

    def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = 60.0) -> T:
        """Run ``fn(*args)`` on the writer in a transaction and return its result once committed."""
        if threading.current_thread() is self._thread:
            return fn(*args)  # already inside the writer's transaction
        return self.submit(fn, *args).result(timeout)

    def fire(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue a write nobody waits for; a failure is logged."""
        if self._stopped.is_set():
            logger.error("write after the writer stopped was dropped: %s", fn)
            return
        self._queue.put(_Unit(fn, args, None))

    def flush(self, timeout: float | None = 60.0) -> None:
        """Wait until everything queued before this call is committed."""
        self.call(lambda: None, timeout=timeout)

    # -- the thread ----------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            self._db.connect(reuse_if_open=True)
            self._db.execute_sql("PRAGMA query_only = 0")
            result = None
            if self._on_open is not None:
                with self._db.atomic("IMMEDIATE"):
                    result = self._on_open(self._db)
            self._ready.set_result(result)
        except BaseException as e:  # the opener waits on _ready: hand it the error
            self._stopped.set()
            self._ready.set_exception(e)
            self._close()
            return
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    break
                batch = [first]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    batch.append(item)
                self._commit(batch)
                if stop:
                    break
        finally:
            self._stopped.set()
            self._drain_after_stop()
            self._close()

    def _commit(self, batch: list[_Unit]) -> None:
        outcomes: list[tuple[_Unit, bool, Any]] = []
        try:
            with self._db.atomic("IMMEDIATE"):
                cursor = self._db.cursor()
                for unit in batch:
                    # A raw savepoint per unit (cheaper than peewee's nested atomic()): a unit
                    # that raises is rolled back alone and the rest of the batch commits.
                    cursor.execute("SAVEPOINT unit")
                    try:
                        value = unit.fn(*unit.args)
                    except Exception as e:
                        cursor.execute("ROLLBACK TO unit")
                        cursor.execute("RELEASE unit")
                        if unit.future is None:
                            logger.exception("fire-and-forget write failed: %s", unit.fn)
                        outcomes.append((unit, False, e))
                    else:
                        cursor.execute("RELEASE unit")
                        outcomes.append((unit, True, value))
        except Exception as e:  # the commit itself failed: nothing of the batch is durable
            logger.exception("database commit failed for %d writes", len(batch))
            for unit in batch:
                if unit.future is not None and not unit.future.done():
                    unit.future.set_exception(e)
            return
        for unit, ok, value in outcomes:
            if unit.future is None:
                continue
            if ok:
                unit.future.set_result(value)
            else:
                unit.future.set_exception(value)

    def _drain_after_stop(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP and item.future is not None:
                item.future.set_exception(RuntimeError("the database writer has stopped"))

    def _close(self) -> None:
        try:
            self._db.close()
        except Exception:
            logger.exception("closing the write connection failed")
