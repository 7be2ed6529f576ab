"""Writer throughput and ack latency under 8 threads, beside naive peewee in the same run.

Ours: 8 threads each submit one-row writes to the single writer and wait for the ack.
Baseline: a plain peewee SqliteDatabase (default rollback journal, default settings) where 8
threads each run read-then-insert transactions on their own connections, counting
"database is locked" errors (the write upgrade of a read transaction fails at once).
Target: >= 5,000 acknowledged rows/s, p99 < 5 ms, 0 lock errors. A third row writes the same
rows with raw SQL: the writer's own capacity, without peewee's query building (~130 us a row,
the larger part of the cost of the first row on this class of machine).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

import peewee

from appliance.store import Store
from appliance.store.models import Site

THREADS = 8
SECONDS = 3.0


def _percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def ours(folder: Path, raw_sql: bool = False) -> dict:
    store = Store(folder / f"ours-{raw_sql}.db").open()
    latencies: list[list[float]] = [[] for _ in range(THREADS)]
    errors = [0] * THREADS
    stop = time.monotonic() + SECONDS

    def insert(name: str) -> None:
        if raw_sql:  # the writer's own capacity, without peewee's query building
            store.db.execute_sql(
                "INSERT INTO site (name, vars, created_at) VALUES (?, '{}', 'bench')", (name,)
            )
        else:
            Site.create(name=name, vars={}, created_at="bench")

    def worker(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                store.write(insert, f"w{n}-{i}")
            except Exception:
                errors[n] += 1
            latencies[n].append(time.perf_counter() - t0)
            i += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    rows = Site.select().count()
    integrity = store.integrity_check()
    store.close()
    flat = [x for xs in latencies for x in xs]
    return {
        "rows_per_s": rows / elapsed,
        "p50_ms": statistics.median(flat) * 1000,
        "p99_ms": _percentile(flat, 0.99) * 1000,
        "errors": sum(errors),
        "rows": rows,
        "integrity": integrity,
    }


def baseline(folder: Path) -> dict:
    db = peewee.SqliteDatabase(str(folder / "naive.db"))  # peewee defaults: rollback journal

    class Item(peewee.Model):
        name = peewee.CharField(unique=True)

        class Meta:
            database = db

    db.create_tables([Item])
    latencies: list[float] = []
    locked = [0] * THREADS
    other = [0] * THREADS
    stop = time.monotonic() + SECONDS
    lock = threading.Lock()

    def worker(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                with db.atomic():  # read, then write: the classic naive transaction
                    Item.select().where(Item.name == f"b{n}-{i}").exists()
                    Item.create(name=f"b{n}-{i}")
                with lock:
                    latencies.append(time.perf_counter() - t0)
            except peewee.OperationalError as e:
                if "locked" in str(e):
                    locked[n] += 1
                else:
                    other[n] += 1
            i += 1
        db.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    rows = Item.select().count()
    db.close()
    return {
        "rows_per_s": rows / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": _percentile(latencies, 0.99) * 1000 if latencies else float("nan"),
        "errors": sum(locked) + sum(other),
        "locked": sum(locked),
        "rows": rows,
    }


def _median_run(measure, folder: Path, runs: int = 3) -> dict:
    results = []
    for i in range(runs):
        (folder / str(i)).mkdir(parents=True)
        results.append(measure(folder / str(i)))
    results.sort(key=lambda r: r["rows_per_s"])
    return results[len(results) // 2]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        a = _median_run(ours, root / "a")
        c = _median_run(lambda f: ours(f, raw_sql=True), root / "c")
        b = _median_run(baseline, root / "b")
    print(f"{THREADS} threads, {SECONDS:.0f} s each, median of 3 runs")
    print(f"{'':34}{'rows/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>9}")
    print(
        f"{'single writer (WAL), peewee insert':34}{a['rows_per_s']:>10.0f}{a['p50_ms']:>9.2f}"
        f"{a['p99_ms']:>9.2f}{a['errors']:>9}"
    )
    print(
        f"{'single writer (WAL), raw SQL':34}{c['rows_per_s']:>10.0f}{c['p50_ms']:>9.2f}"
        f"{c['p99_ms']:>9.2f}{c['errors']:>9}"
    )
    print(
        f"{'baseline: naive peewee read+insert':34}{b['rows_per_s']:>10.0f}{b['p50_ms']:>9.2f}"
        f"{b['p99_ms']:>9.2f}{b['errors']:>9}  ({b['locked']} 'database is locked')"
    )
    met = a["rows_per_s"] >= 5000 and a["p99_ms"] < 5 and a["errors"] == 0
    print(
        f"integrity_check: {a['integrity']}; targets (peewee insert): >= 5000 rows/s, "
        f"p99 < 5 ms, 0 errors -> {'MET' if met else 'NOT MET'}"
    )
