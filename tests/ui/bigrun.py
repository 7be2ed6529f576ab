"""A finished run whose output.log has a million lines (ANSI colours, a few errors), made
directly in the store: the log view's scale test and the UI bench share it."""

from __future__ import annotations

from appliance.context import Context
from tests.ui.helpers import make_run

COLOURS = ("\x1b[0;32m", "\x1b[0;33m", "\x1b[1;35m", "\x1b[0;36m", "\x1b[0;91m")


def big_log_line(i: int) -> str:
    n = i + 1
    if n % 250_000 == 0:
        return f"\x1b[0;31mfatal: [host{n % 7}]: FAILED! => line {n}\x1b[0m"
    if n % 10 == 0:
        return f"{COLOURS[n % 5]}changed: [host{n % 7}] => item {n}\x1b[0m"
    return f"ok: [host{n % 7}] => task output line {n}"


def make_big_run(ctx: Context, lines: int = 1_000_000) -> int:
    run_id = make_run(ctx, site="big", state="failed")
    path = ctx.paths.run_log(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        block = 10_000
        for start in range(0, lines, block):
            f.write("\n".join(big_log_line(i) for i in range(start, min(lines, start + block))))
            f.write("\n")
    return run_id
