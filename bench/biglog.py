"""The huge log of the UI bench: ~80-byte Ansible-like lines (colours, an error every 250,000
lines), generated once and cached outside the repository, in ~/.cache/appliance-bench/.
``APPLIANCE_BENCH_LINES`` sets the number of lines (default 25,000,000: about 2 GB)."""

from __future__ import annotations

import os
import time
from pathlib import Path

LINES = int(os.environ.get("APPLIANCE_BENCH_LINES", "25000000"))
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "appliance-bench"
COLOURS = ("\x1b[0;32m", "\x1b[0;33m", "\x1b[1;35m", "\x1b[0;36m", "\x1b[0;91m")
PAD = "msg='verbose module output' rc=0 t=0.01"


def line(i: int) -> str:
    n = i + 1
    if n % 250_000 == 0:
        return f"\x1b[0;31mfatal: [host{n % 7}]: FAILED! => {PAD} line {n}\x1b[0m"
    if n % 10 == 0:
        return f"{COLOURS[n % 5]}changed: [host{n % 7}] => {PAD} item {n}\x1b[0m"
    return f"ok: [host{n % 7}] => {PAD} task output line {n}"


def last_text(lines: int = LINES) -> str:
    """What the page shows of the last line (no escape codes)."""
    n = lines
    return f"item {n}" if n % 10 == 0 and n % 250_000 else f"line {n}"


def cached_log(lines: int = LINES) -> Path:
    """The log of ``lines`` lines, written once (to a .tmp, then moved into place)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"log-{lines}.log"
    if path.exists():
        return path
    t = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        block = 50_000
        for start in range(0, lines, block):
            f.write("\n".join(line(i) for i in range(start, min(lines, start + block))))
            f.write("\n")
    os.replace(tmp, path)
    print(
        f"generated {path} ({lines:,} lines, {path.stat().st_size / 1e9:.2f} GB) in "
        f"{time.perf_counter() - t:.0f} s"
    )
    return path


def place(log: Path, target: Path) -> None:
    """Put the cached log at a run's output.log without copying it (hard link, else symlink)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(log, target)
    except OSError:
        target.symlink_to(log)
