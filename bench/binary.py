"""The one binary as shipped: size, the first launch (it unpacks into the per-user cache) and
later launches (they start from the cache): ``--version``, time until ``serve`` answers
``/api/health``, and the window (under Xvfb, read from its framebuffer): its first paint, and
the page drawn (the screen settled). Medians of 5 runs (3 for first launches, each with an empty
cache), in the environment of a laptop with no Python (see
tests/frozen/support.py). Builds nothing: measures dist/appliance (``make binary``) and says so
when it is missing.
"""

from __future__ import annotations

import os
import re
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
FIRST_RUNS = 3
# Later launches (issue 22); the onefile PyInstaller build took 0.69 / 0.90 / 2.5-3 s.
TARGETS = {"version": 0.5, "health": 0.7, "window": 1.0}


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


def _first_launch(env: dict[str, str], base: Path, cpu: list[float]) -> Callable[[int], float]:
    """``--version`` with an empty cache: the launch that unpacks."""

    def once(i: int) -> float:
        cache = base / f"first-cache-{i}"
        try:
            return _command({**env, "XDG_CACHE_HOME": str(cache)}, "--version", cpu=cpu)(i)
        finally:
            shutil.rmtree(cache, ignore_errors=True)

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


def _window(env: dict[str, str], base: Path, paints: list[float]) -> Callable[[int], float]:
    """Seconds until the page is drawn (the screen settled); the first paint (the page's
    "Loading…" shell) is appended to ``paints``."""

    def once(i: int) -> float:
        window = FrozenWindow(env, base)
        try:
            paint, drawn = window.wait_drawn(base / f"window-{i}.png", timeout=120)
            window.terminate()
            paints.append(paint)
            return drawn
        finally:
            window.kill()

    return once


def _phases(log: Path, skip_chars: int) -> None:
    """The window's start-up phases as the appliance logged them (appliance/desktop.py
    ``startup_time``), medians over the measured launches: where the time goes."""
    try:
        text = log.read_text(errors="replace")[skip_chars:]
    except OSError:
        return
    found: dict[str, list[float]] = {}
    for m in re.finditer(r"appliance\.desktop: (.+?) ([\d.]+) s after the process started", text):
        found.setdefault(m.group(1), []).append(float(m.group(2)))
    for name, times in sorted(found.items(), key=lambda item: statistics.median(item[1])):
        print(f"  {statistics.median(times):5.2f} s  {name}")


def _line(name: str, median: float, times: list[float], target: float | None) -> None:
    verdict = "" if target is None else ("  ok" if median < target else "  OVER TARGET")
    goal = "" if target is None else f"  (target < {target:.1f} s)"
    runs = " ".join(f"{t:.2f}" for t in times)
    print(f"{name:<22}{median:6.2f} s{goal}{verdict}   runs: {runs}")


def binary_ready() -> bool:
    """Whether dist/appliance is there to measure (benches build nothing); says so when not,
    and when it is older than its sources."""
    if not BINARY.is_file():
        print(f"{BINARY} is missing: build it with `make binary` (this bench builds nothing)")
        return False
    if not binary_is_fresh():
        print("note: dist/appliance is older than its sources (make binary rebuilds it)")
    return True


def main() -> None:
    if not binary_ready():
        return
    print(
        f"binary size           {BINARY.stat().st_size / 1e6:6.0f} MB (one file: launcher + the "
        "onedir build, stored)"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average          {load} on {os.cpu_count()} cores (wall times suffer above 1)")
    base = Path(tempfile.mkdtemp(prefix="bench-binary-"))
    try:
        env = clean_env(base)
        cpu: list[float] = []
        first = _median(_first_launch(env, base, cpu), FIRST_RUNS)
        _line("first launch --version", *first, None)
        print(
            f"{'':22}cpu {statistics.median(cpu):5.2f} s (unpacks into the cache; once per build)"
        )
        print("later launches (start from the cache):")
        _command(env, "--version", cpu=[])(-1)  # unpacks into this HOME's cache: not measured
        for name, args, target in (
            ("--version", ["--version"], TARGETS["version"]),
            # the python face doing nothing: cache check + interpreter start, no appliance imports
            ("-c pass (check+init)", ["-c", "pass"], None),
        ):
            cpu: list[float] = []
            _line(name, *_median(_command(env, *args, cpu=cpu)), target)
            print(f"{'':22}cpu {statistics.median(cpu):5.2f} s (user+sys, median)")
        _health(env, base)(-1)  # first start imports the carried bundles: not measured
        _line("/api/health answers", *_median(_health(env, base)), TARGETS["health"])
        if shutil.which("xvfb-run") and shutil.which("import"):
            _window(env, base, [])(-1)  # first window creates the web profile: not measured
            log = Path(env["APPLIANCE_DATA_DIR"]) / "logs" / "appliance.log"
            seen = len(log.read_text(errors="replace")) if log.exists() else 0
            paints: list[float] = []
            drawn = _median(_window(env, base, paints))
            _line("window first paint", statistics.median(paints), paints, None)
            print(f'{"":22}(the page\'s "Loading…" shell: more than 20 colours on screen)')
            _line("window page drawn", *drawn, TARGETS["window"])
            print(f"{'':22}(the Sites screen: the last change before 1.5 s without one)")
            print(f"{'':22}phases, median (appliance.log):")
            _phases(log, seen)
        else:
            print("window page drawn     skipped: xvfb-run or ImageMagick import missing")
    finally:
        shutil.rmtree(base, ignore_errors=True)
