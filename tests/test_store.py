"""The store: schema versioning, WAL, the single writer and its guarantees."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import peewee
import pytest

from appliance.errors import ConfigError
from appliance.store import Store
from appliance.store.migrations import LATEST
from appliance.store.models import Site


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "a.db").open()
    yield s
    s.close()


def _add(name: str) -> int:
    return Site.create(name=name, vars={}, created_at="t").id


def test_schema_version_wal_and_foreign_keys(store: Store, tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "a.db")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == LATEST
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    raw.close()
    assert store.found_schema == 0


def test_reopen_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as s:
        s.write(_add, "kept")
    with Store(tmp_path / "a.db") as s:
        assert s.found_schema == LATEST
        assert [x.name for x in Site.select()] == ["kept"]


def test_newer_schema_is_refused_with_a_hint(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "a.db")
    raw.execute(f"PRAGMA user_version = {LATEST + 1}")
    raw.close()
    with pytest.raises(ConfigError) as err:
        Store(tmp_path / "a.db").open()
    assert "newer" in err.value.message and err.value.hint


def test_readers_cannot_write(store: Store) -> None:
    with pytest.raises(peewee.OperationalError, match="readonly"):
        _add("sneaky")
    assert Site.select().count() == 0


def test_failing_unit_fails_alone_within_a_batch(store: Store) -> None:
    gate = threading.Event()
    blocker = store.submit(gate.wait, 10)  # hold the writer so the next units share a batch
    good1 = store.submit(_add, "a")
    bad = store.submit(_add, "a")  # unique violation
    good2 = store.submit(_add, "b")
    gate.set()
    blocker.result(10)
    assert good1.result(10) and good2.result(10)
    with pytest.raises(peewee.IntegrityError):
        bad.result(10)
    assert sorted(x.name for x in Site.select()) == ["a", "b"]


def test_fire_and_forget_then_flush(store: Store) -> None:
    for i in range(100):
        store.fire(_add, f"s{i}")
    store.writer.flush()
    assert Site.select().count() == 100


def test_read_modify_write_in_one_unit_has_no_lost_updates(store: Store) -> None:
    store.write(_add, "counter")

    def bump() -> None:
        site = Site.get(Site.name == "counter")
        site.vars = {"n": site.vars.get("n", 0) + 1}
        site.save()

    def worker() -> None:
        for _ in range(200):
            store.write(bump)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Site.get(Site.name == "counter").vars == {"n": 1600}
    assert store.integrity_check() == "ok"


def test_write_from_the_writer_thread_runs_inline(store: Store) -> None:
    def outer() -> int:
        return store.write(_add, "nested")  # must not deadlock

    assert store.write(outer) > 0


def test_stop_commits_what_was_queued(tmp_path: Path) -> None:
    s = Store(tmp_path / "a.db").open()
    futures = [s.submit(_add, f"q{i}") for i in range(500)]
    s.close()
    assert all(f.done() for f in futures)
    with Store(tmp_path / "a.db"):
        assert Site.select().count() == 500
