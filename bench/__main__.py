"""Run the benchmarks named on the command line (default: all)."""

from __future__ import annotations

import importlib
import sys

BENCHES = [
    "writer",
    "ui",
    "runs",
    "manyhosts",
    "frozenhosts",
    "binary",
    "streams",
    "bundles",
    "history",
    "status",
    "slowheaders",
]


def main(argv: list[str]) -> int:
    names = argv or BENCHES
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        sys.stderr.write(f"bench: unknown benchmark(s) {unknown}; choose from {BENCHES}\n")
        return 2
    for name in names:
        print(f"== {name}")
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
