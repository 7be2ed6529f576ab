"""Years of history: 10,000 runs and 5M events, before and after retention.

Prints the runs list, a run's detail and an old run's events (p50 of repeated reads), the
database size, and a live run's event ingestion (ack latency of one 100-event batch, the run
engine's unit) while retention runs, beside the same ingestion on an idle writer measured in the
same run. The history is generated once through the store (a new database, so incremental
vacuum is on) and cached outside the repository; each bench run works on a copy.

Scale with APPLIANCE_BENCH_RUNS / APPLIANCE_BENCH_EVENTS_PER_RUN (defaults 10,000 and 500).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance.clock import iso
from appliance.context import Context, open_context
from appliance.jobs.retention import prune
from appliance.settings import load_settings
from appliance.store import events, runs
from appliance.store.migrations import LATEST

RUNS = int(os.environ.get("APPLIANCE_BENCH_RUNS", "10000"))
EVENTS_PER_RUN = int(os.environ.get("APPLIANCE_BENCH_EVENTS_PER_RUN", "500"))
SITES = 10
CACHE = Path.home() / ".cache" / "appliance-bench"
OLD = datetime(2024, 1, 1, tzinfo=UTC)


def _generate(db_dir: Path) -> None:
    ctx = open_context(load_settings(cli={"data_dir": str(db_dir)}, env={}))
    store = ctx.store
    now = iso(OLD)

    def base() -> None:
        db = store.db
        for s in range(SITES):
            db.execute_sql(
                "INSERT INTO site (name, vars, created_at) VALUES (?, '{}', ?)", (f"s{s}", now)
            )
        db.execute_sql(
            "INSERT INTO bundle (name, version, sha256, key_id, path, manifest, imported_at) "
            "VALUES ('demo', '1.0.0', ?, 'k', ?, '{}', ?)",
            ("0" * 64, str(db_dir), now),
        )

    store.write(base)
    stdout = "ok: [host-{h}] => (item=task {i}) " + "x" * 60

    def chunk(first: int, last: int) -> None:
        db = store.db
        for r in range(first, last):
            at = iso(OLD + timedelta(minutes=r))
            db.execute_sql(
                'INSERT INTO run (id, site_id, bundle_id, action, state, plan, "trigger", '
                "created_at, started_at, finished_at, installed_before) "
                "VALUES (?, ?, 1, 'upgrade', 'succeeded', '[]', 'manual', ?, ?, ?, '{}')",
                (r, r % SITES + 1, at, at, at),
            )
            for idx in (1, 2):
                db.execute_sql(
                    "INSERT INTO run_step (run_id, idx, name, kind, playbook, state) "
                    "VALUES (?, ?, ?, 'stage', 'p.yml', 'succeeded')",
                    (r, idx, f"step{idx}"),
                )
            db.cursor().executemany(
                "INSERT INTO run_event (run_id, step_id, counter, event, host, task, status, "
                "changed, duration, stdout, created_at) "
                "VALUES (?, (SELECT id FROM run_step WHERE run_id = ? AND idx = 2), ?, "
                "'runner_on_ok', ?, ?, 'ok', 0, 0.01, ?, ?)",
                [
                    (r, r, i, f"host-{i % 20}", f"task {i}", stdout.format(h=i % 20, i=i), at)
                    for i in range(EVENTS_PER_RUN)
                ],
            )

    step = max(1, 50_000 // EVENTS_PER_RUN)
    for first in range(1, RUNS + 1, step):
        store.write(chunk, first, min(RUNS + 1, first + step))
    ctx.close()


def _history(folder: Path) -> Path:
    # named by the schema it was made with: a newer schema makes it again
    cached = CACHE / f"history-{RUNS}x{EVENTS_PER_RUN}-schema{LATEST}"
    if not (cached / "done").exists():
        shutil.rmtree(cached, ignore_errors=True)
        cached.mkdir(parents=True)
        print(f"  generating {RUNS:,} runs x {EVENTS_PER_RUN} events into {cached} (once)")
        _generate(cached)
        (cached / "done").write_text("ok")
    work = folder / "data"
    shutil.copytree(cached, work)
    return work


def _p50(fn, n: int = 20) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _reads(ctx: Context) -> dict:
    return {
        "list": _p50(lambda: runs.list_runs(limit=100)),
        "detail": _p50(lambda: runs.get_run(1)),  # the oldest run (pruned by the pass)
        "events": _p50(lambda: events.list_events(RUNS - 1, limit=1000)),  # a kept run's
        "bytes": ctx.paths.db.stat().st_size,
    }


def _ingest(ctx: Context, stop: threading.Event, latencies: list[float], run_id: int) -> None:
    counter = 0
    while not stop.is_set():
        batch = [
            {
                "run": run_id,
                "step": None,
                "counter": counter + i,
                "event": "runner_on_ok",
                "host": "live",
                "task": "t",
                "status": "ok",
                "changed": False,
                "duration": 0.01,
                "stdout": "ok: [live]",
                "created_at": iso(datetime.now(UTC)),
            }
            for i in range(100)
        ]
        counter += 100
        t0 = time.perf_counter()
        ctx.store.write(events.insert_events, batch)
        latencies.append(time.perf_counter() - t0)
        stop.wait(0.05)


def _ingestion(ctx: Context, during: threading.Thread | None, seconds: float) -> dict:
    stop, latencies = threading.Event(), []
    live = threading.Thread(target=_ingest, args=(ctx, stop, latencies, RUNS))
    live.start()
    if during is not None:
        during.start()
        during.join()
    else:
        time.sleep(seconds)
    stop.set()
    live.join()
    ordered = sorted(latencies)
    return {
        "batches": len(latencies),
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        data = _history(Path(tmp))
        settings = load_settings(
            cli={"data_dir": str(data), "keep_runs_per_site": 10, "keep_days": 30}, env={}
        )
        ctx = open_context(settings)
        try:
            before = _reads(ctx)
            idle = _ingestion(ctx, None, 5.0)
            result: dict = {}
            pass_ = threading.Thread(target=lambda: result.update(prune(ctx)))
            t0 = time.monotonic()
            busy = _ingestion(ctx, pass_, 0)
            took = time.monotonic() - t0
            after = _reads(ctx)
        finally:
            ctx.close()
    mb = 1024 * 1024
    print(f"  history: {RUNS:,} runs, {RUNS * EVENTS_PER_RUN:,} events, {SITES} sites")
    print(
        f"  retention pass: {len(result['runs']):,} runs pruned, "
        f"{result['events_deleted']:,} events removed in {took:.1f} s"
    )
    print(f"  {'':28} {'before':>10} {'after':>10}")
    print(f"  {'runs list (100) p50 ms':28} {before['list']:>10.2f} {after['list']:>10.2f}")
    print(f"  {'run detail p50 ms':28} {before['detail']:>10.2f} {after['detail']:>10.2f}")
    print(f"  {'a run events (1000) p50 ms':28} {before['events']:>10.2f} {after['events']:>10.2f}")
    print(f"  {'database MB':28} {before['bytes'] / mb:>10.1f} {after['bytes'] / mb:>10.1f}")
    print(
        f"  live ingestion, 100-event batch ack: idle p50 {idle['p50']:.2f} ms p99 "
        f"{idle['p99']:.2f} ms ({idle['batches']} batches); during retention p50 "
        f"{busy['p50']:.2f} ms p99 {busy['p99']:.2f} ms ({busy['batches']} batches); "
        f"target: p99 during < 10x idle p99 and < 250 ms "
        f"({'met' if busy['p99'] < max(10 * idle['p99'], 1) and busy['p99'] < 250 else 'NOT met'})"
    )
