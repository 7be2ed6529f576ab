"""Slow-header clients (issue 19, item 4): ``/api/health`` on fresh connections while 200
connections drip their headers a byte at a time (each reopened as soon as the server closes it,
tests/support/slowloris.py in a process of its own), beside the same requests with no attack, on
the same in-process server in the same run. Target: p99 under 100 ms during the attack.

``python -m bench slowheaders``.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from appliance.backend.server import LocalServer
from appliance.backend.wire import HEADER_SECONDS
from appliance.context import open_context
from appliance.settings import load_settings

CLIENTS = 200
TARGET_MS = 100.0
REPO = Path(__file__).resolve().parents[1]


def _health_ms(port: int) -> float:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/api/health")
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
    finally:
        conn.close()
    return (time.perf_counter() - started) * 1000


def _samples(port: int, seconds: float) -> list[float]:
    out: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out.append(_health_ms(port))
        time.sleep(0.02)
    return sorted(out)


def _args(port: int, seconds: float) -> list[str]:
    return [str(port), str(CLIENTS), str(seconds)]


def _line(name: str, samples: list[float]) -> str:
    p99 = samples[max(0, int(len(samples) * 0.99) - 1)]
    return (
        f"  {name:<26} n={len(samples):4d}  p50 {samples[len(samples) // 2]:6.1f} ms  "
        f"p99 {p99:6.1f} ms  max {samples[-1]:6.1f} ms"
    )


def main() -> None:
    seconds = 2.5 * HEADER_SECONDS
    with tempfile.TemporaryDirectory(prefix="bench-slowheaders-") as tmp:
        settings = load_settings(cli={"data_dir": str(Path(tmp) / "data")}, env={})
        ctx = open_context(settings)
        try:
            server = LocalServer(ctx).start()
            ctx.services["http"] = server
            quiet = _samples(server.port, seconds - 2.0)
            attacker = subprocess.Popen(
                [sys.executable, "-m", "tests.support.slowloris", *_args(server.port, seconds)],
                cwd=REPO,
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(1.0)  # all connected and dripping
            attacked = _samples(server.port, seconds - 2.0)
            stats = json.loads(attacker.communicate(timeout=60)[0])
        finally:
            ctx.close()
    p99 = attacked[max(0, int(len(attacked) * 0.99) - 1)]
    print(f"/api/health on fresh connections, {CLIENTS} slow-header clients ({seconds:g} s)")
    print(_line("no attack (baseline)", quiet))
    print(_line(f"{CLIENTS} clients dripping", attacked))
    print(f"  attacker: {stats}")
    verdict = "OK" if p99 < TARGET_MS else "OVER"
    print(f"  p99 under attack {p99:.1f} ms (target: under {TARGET_MS:g} ms) {verdict}")


if __name__ == "__main__":
    main()
