"""The one binary as shipped: size, cold start of ``--version``, time until ``serve`` answers
``/api/health``, time until the window has drawn the page (under Xvfb). Medians of 5 runs, in the
environment of a laptop with no Python (see tests/frozen/support.py). Builds nothing: measures
dist/appliance (``make binary``) and says so when it is missing.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path

from tests.frozen.support import (
    BINARY,
    FrozenServer,
    FrozenWindow,
    binary_is_fresh,
    clean_env,
    http_json,
)

RUNS = 5
TARGETS = {"version": 1.5, "health": 3.0, "window": 5.0}


def _median(fn: Callable[[int], float], runs: int = RUNS) -> tuple[float, list[float]]:
    times = [fn(i) for i in range(runs)]
    return statistics.median(times), times


def _command(env: dict[str, str], *args: str, cpu: list[float]) -> Callable[[int], float]:
    """Wall time of one run of the binary; its CPU time (both processes of the onefile: the
    unpacking parent and the Python child) is appended to ``cpu``: the wall time on a busy
    machine says little, the CPU time says what the start costs."""

    def once(_: int) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        subprocess.run([str(BINARY), *args], env=env, check=True, capture_output=True)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        return wall

    return once


def _health(env: dict[str, str], base: Path) -> Callable[[int], float]:
    def once(i: int) -> float:
        server = FrozenServer(env, base / f"serve-{i}.out")
        try:
            while True:
                try:
                    if http_json(f"{server.url}/api/health", timeout=2)[0] == 200:
                        return time.monotonic() - server.started
                except (OSError, urllib.error.URLError):
                    time.sleep(0.01)
        finally:
            server.stop()

    return once


def _window(env: dict[str, str], base: Path) -> Callable[[int], float]:
    def once(i: int) -> float:
        window = FrozenWindow(env, base)
        try:
            seconds = window.wait_rendered(base / f"window-{i}.png", timeout=120)
            window.terminate()
            return seconds
        finally:
            window.kill()

    return once


def _line(name: str, median: float, times: list[float], target: float | None) -> None:
    verdict = "" if target is None else ("  ok" if median < target else "  OVER TARGET")
    goal = "" if target is None else f"  (target < {target:.1f} s)"
    runs = " ".join(f"{t:.2f}" for t in times)
    print(f"{name:<22}{median:6.2f} s{goal}{verdict}   runs: {runs}")


def main() -> None:
    if not BINARY.is_file():
        print(f"{BINARY} is missing: build it with `make binary` (this bench builds nothing)")
        return
    if not binary_is_fresh():
        print("note: dist/appliance is older than its sources (make binary rebuilds it)")
    print(
        f"binary size           {BINARY.stat().st_size / 1e6:6.0f} MB (archive stored uncompressed)"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average          {load} on {os.cpu_count()} cores (wall times suffer above 1)")
    base = Path(tempfile.mkdtemp(prefix="bench-binary-"))
    try:
        env = clean_env(base)
        for name, args, target in (
            ("--version", ["--version"], TARGETS["version"]),
            # the python face doing nothing: unpacking + interpreter start, no appliance imports
            ("-c pass (unpack+init)", ["-c", "pass"], None),
        ):
            cpu: list[float] = []
            _line(name, *_median(_command(env, *args, cpu=cpu)), target)
            print(f"{'':22}cpu {statistics.median(cpu):5.2f} s (user+sys, median)")
        _health(env, base)(-1)  # first start imports the carried bundles: not measured
        _line("/api/health answers", *_median(_health(env, base)), TARGETS["health"])
        if shutil.which("xvfb-run") and shutil.which("import"):
            _window(env, base)(-1)  # first window creates the web profile: not measured
            _line("window rendered", *_median(_window(env, base)), TARGETS["window"])
        else:
            print("window rendered       skipped: xvfb-run or ImageMagick import missing")
    finally:
        shutil.rmtree(base, ignore_errors=True)
