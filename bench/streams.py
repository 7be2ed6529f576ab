"""Log streams: replay speed, live latency, idle cost, API latency beside open streams, memory.

Ours: `appliance serve` in a subprocess (so its CPU and RSS are its own), streaming
GET /api/runs/<id>/log. Baseline: the published algorithm (800-byte chunks, 50 ms sleep after
each) as a tiny WSGI app on cheroot in this process, measured for a bounded sample and
extrapolated (its rate is fixed by the sleeps, so extrapolating is exact enough).
Targets: 1M lines (~80 MB) < 1 s (> 1,000x the baseline); live p99 < 20 ms; 10 idle streams
< 2 % CPU; GET p50 < 10 ms with 50 streams open; RSS growth < 20 MB during the 1M replay.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from cheroot import wsgi

from appliance.context import Context, open_context
from appliance.settings import load_settings
from appliance.store.models import Bundle, Run, Site

LINE_BYTES = 80
BASELINE_CHUNK = 800
BASELINE_SLEEP = 0.05
BASELINE_SAMPLE = 2.0
IDLE_STREAMS = 10
IDLE_SECONDS = 5.0
OPEN_STREAMS = 50
LIVE_LINES = 300


def _line(i: int) -> bytes:
    text = f"{i:08d} TASK [app : configure] ok: [host-{i % 7}] changed=false ✓ "
    raw = text.encode()
    return raw + b"." * (LINE_BYTES - 1 - len(raw)) + b"\n"


def write_log(path: Path, lines: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for start in range(0, lines, 10_000):
            f.write(b"".join(_line(i) for i in range(start, min(lines, start + 10_000))))
    return path.stat().st_size


def make_runs(ctx: Context, states: list[str], first: int = 0) -> list[int]:
    def create() -> list[int]:
        now = ctx.store.now()
        ids = []
        for n, state in enumerate(states, start=first):
            site = Site.create(name=f"bench-{n}", vars={}, created_at=now)
            bundle = Bundle.create(
                name=f"bench-{n}",
                version="1",
                sha256="0" * 64,
                key_id="b",
                path="/none",
                manifest={},
                imported_at=now,
            )
            ids.append(
                Run.create(
                    site=site, bundle=bundle, action="install", state=state, created_at=now
                ).id
            )
        return ids

    return ctx.store.write(create)


class Server:
    def __init__(self, data_dir: Path, max_streams: int) -> None:
        env = dict(
            os.environ,
            APPLIANCE_DATA_DIR=str(data_dir),
            APPLIANCE_MAX_STREAMS=str(max_streams),
            APPLIANCE_LOG_LEVEL="WARNING",
            APPLIANCE_SERVER_THREADS=str(max_streams + 16),  # streams never take every worker
        )
        env.pop("DISPLAY", None)
        info_file = data_dir / "server.json"
        info_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "appliance", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                info = json.loads(info_file.read_text())
                if info["pid"] == self.proc.pid:
                    break
            except (OSError, ValueError, KeyError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        self.port = info["port"]
        self.headers = {"Authorization": f"Bearer {info['token']}"}

    def connect(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def open_stream(server: Server, path: str) -> tuple[http.client.HTTPConnection, object]:
    conn = server.connect()
    conn.request("GET", path, headers=server.headers)
    resp = conn.getresponse()
    assert resp.status == 200, resp.status
    return conn, resp


def replay(server: Server, run_id: int, size: int) -> float:
    started = time.perf_counter()
    conn, resp = open_stream(server, f"/api/runs/{run_id}/log")
    got = 0
    while chunk := resp.read1(1 << 20):
        got += len(chunk)
    elapsed = time.perf_counter() - started
    conn.close()
    assert got == size, (got, size)
    return elapsed


def baseline_rate(path: Path) -> float:
    """Bytes/s of the published algorithm, served by cheroot, over a bounded sample."""

    def app(environ: dict, start_response) -> object:
        start_response("200 OK", [("Content-Type", "text/plain")])

        def chunks():
            with open(path, "rb") as f:
                while chunk := f.read(BASELINE_CHUNK):
                    yield chunk
                    time.sleep(BASELINE_SLEEP)  # the algorithm under comparison

        return chunks()

    srv = wsgi.Server(("127.0.0.1", 0), app, numthreads=4)
    srv.prepare()
    thread = threading.Thread(target=srv.serve, daemon=True)
    thread.start()
    conn = http.client.HTTPConnection("127.0.0.1", srv.socket.getsockname()[1], timeout=10)
    conn.request("GET", "/")
    resp = conn.getresponse()
    got, started = 0, time.perf_counter()
    while time.perf_counter() - started < BASELINE_SAMPLE:
        got += len(resp.read1(1 << 16))
    rate = got / (time.perf_counter() - started)
    conn.close()
    srv.stop()
    return rate


def cpu_percent(server: Server) -> float:
    before, started = server.cpu_seconds(), time.monotonic()
    time.sleep(IDLE_SECONDS)  # the measurement window
    return 100 * (server.cpu_seconds() - before) / (time.monotonic() - started)


def idle_cpu(server: Server, run_ids: list[int]) -> float:
    streams = [open_stream(server, f"/api/runs/{r}/log") for r in run_ids]
    for _conn, resp in streams:
        resp.read1(1 << 16)  # the one line there is; then idle at the end of the log
    time.sleep(0.5)  # let the streams reach their wait
    percent = cpu_percent(server)
    for conn, _resp in streams:
        conn.close()
    return percent


def get_latencies(server: Server, count: int = 200) -> list[float]:
    conn = server.connect()
    out = []
    for _ in range(count):
        started = time.perf_counter()
        conn.request("GET", "/api/sites", headers=server.headers)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        out.append((time.perf_counter() - started) * 1000)
    conn.close()
    return out


def live_latency(server: Server, ctx: Context, run_id: int) -> list[float]:
    path = ctx.paths.run_log(run_id)
    conn, resp = open_stream(server, f"/api/runs/{run_id}/log")
    resp.read1(1 << 16)
    latencies: list[float] = []

    def writer() -> None:
        with open(path, "ab", buffering=0) as f:
            for i in range(LIVE_LINES):
                f.write(f"t={time.perf_counter_ns()} {i}\n".encode())
                time.sleep(0.01)  # the pace of the writer under test

    t = threading.Thread(target=writer)
    t.start()
    pending = b""
    while len(latencies) < LIVE_LINES:
        chunk = resp.read1(1 << 16)
        if not chunk:
            raise RuntimeError("the live stream ended early")
        pending += chunk
        now = time.perf_counter_ns()
        *lines, pending = pending.split(b"\n")
        for line in lines:
            sent = int(line.split()[0][2:])
            latencies.append((now - sent) / 1e6)
    t.join()
    conn.close()
    return latencies


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-streams-") as tmp:
        data = Path(tmp) / "data"
        ctx = open_context(load_settings(cli={"data_dir": str(data)}, env={}))
        try:
            r100k, r1m = make_runs(ctx, ["succeeded", "succeeded"])
            size100k = write_log(ctx.paths.run_log(r100k), 100_000)
            size1m = write_log(ctx.paths.run_log(r1m), 1_000_000)
            server = Server(data, max_streams=OPEN_STREAMS + 10)
            # Running runs are made once the server is up: at start-up it marks runs left
            # "running" by a dead appliance as interrupted.
            live, *idle = make_runs(ctx, ["running"] * (1 + IDLE_STREAMS), first=2)
            for r in [live, *idle]:
                write_log(ctx.paths.run_log(r), 1)
            try:
                report(server, ctx, r100k, size100k, r1m, size1m, live, idle)
            finally:
                server.stop()
        finally:
            ctx.close()


def report(
    server: Server,
    ctx: Context,
    r100k: int,
    size100k: int,
    r1m: int,
    size1m: int,
    live: int,
    idle: list[int],
) -> None:
    base = baseline_rate(ctx.paths.run_log(r1m))
    print(
        f"baseline (800 B + 50 ms sleep per chunk): {base / 1024:.1f} KiB/s measured over "
        f"{BASELINE_SAMPLE:.0f} s; replay times below are extrapolated from that rate"
    )
    replay(server, r100k, size100k)  # warm the page cache and the server's code paths
    t100k = replay(server, r100k, size100k)
    rss_before = server.rss_mb()
    peak = [rss_before]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            peak[0] = max(peak[0], server.rss_mb())
            time.sleep(0.005)  # sampling period

    sampler = threading.Thread(target=sample)
    sampler.start()
    t1m = replay(server, r1m, size1m)
    sampling.set()
    sampler.join()
    print(f"{'replay':<34}{'ours':>12}{'baseline (extrap.)':>22}{'speed-up':>12}")
    for label, t, size in (("100k lines", t100k, size100k), ("1M lines", t1m, size1m)):
        b = size / base
        print(f"  {label + f' ({size / 1e6:.0f} MB)':<32}{t:>10.3f} s{b:>20.0f} s{b / t:>11.0f}x")
    print(f"  1M-line throughput: {size1m / t1m / 1e6:.0f} MB/s   target: 1M lines < 1 s")
    print(
        f"server RSS growth during the 1M replay: {peak[0] - rss_before:+.1f} MB "
        f"({rss_before:.0f} -> {peak[0]:.0f} MB)   target < 20 MB"
    )

    lat = live_latency(server, ctx, live)
    print(
        f"live latency (file append -> client), {len(lat)} lines: p50 {pct(lat, 0.5):.2f} ms, "
        f"p99 {pct(lat, 0.99):.2f} ms, max {max(lat):.2f} ms   target p99 < 20 ms"
    )

    cpu = idle_cpu(server, idle)
    alone = cpu_percent(server)
    print(
        f"server CPU over {IDLE_SECONDS:.0f} s: {cpu:.2f} % with {len(idle)} idle streams, "
        f"{alone:.2f} % with none   target < 2 %"
    )

    quiet = get_latencies(server)
    streams = [
        open_stream(server, f"/api/runs/{idle[i % len(idle)]}/log") for i in range(OPEN_STREAMS)
    ]
    for _conn, resp in streams:
        resp.read1(1 << 16)
    loaded = get_latencies(server)
    for conn, _resp in streams:
        conn.close()
    print(
        f"GET /api/sites p50/p99: {statistics.median(quiet):.2f}/{pct(quiet, 0.99):.2f} ms "
        f"with no stream, {statistics.median(loaded):.2f}/{pct(loaded, 0.99):.2f} ms with "
        f"{OPEN_STREAMS} streams open   target p50 < 10 ms"
    )
