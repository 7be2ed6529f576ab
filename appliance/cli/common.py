"""What commands share: building the context from the global options, output helpers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from appliance.context import Context, open_context
from appliance.settings import load_settings


def fail_line(message: str, hint: str) -> None:
    sys.stderr.write(f"appliance: error: {message} (hint: {hint})\n")
    sys.stderr.flush()


def context_from(args: argparse.Namespace, **overrides: Any) -> Context:
    settings = load_settings(cli={"data_dir": getattr(args, "data_dir", None), **overrides})
    return open_context(settings)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def print_table(rows: list[list[str]], headers: list[str]) -> None:
    if not rows:
        return
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=False)]
    for row in [headers, *rows]:
        sys.stdout.write(
            "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)).rstrip() + "\n"
        )
