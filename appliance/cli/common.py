"""What commands share: the environment a command runs in, the context it works on, output
helpers and the one NAME@VERSION parser."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TextIO

from appliance.context import Context, open_context
from appliance.errors import BadRequest
from appliance.settings import Settings, load_settings


@dataclass
class Environment:
    """The process around a command: its streams and environment variables (httpie's
    ``context.Environment``). The entry point passes the real ones; tests pass their own."""

    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    environ: Mapping[str, str]

    @classmethod
    def from_process(cls) -> Environment:
        return cls(sys.stdin, sys.stdout, sys.stderr, os.environ)

    def binary_stdout(self) -> BinaryIO:
        """stdout for bytes (a run's log is copied as bytes), after the text written so far."""
        self.stdout.flush()
        return self.stdout.buffer  # type: ignore[attr-defined]

    def fail_line(self, message: str, hint: str) -> None:
        self.stderr.write(f"appliance: error: {message} (hint: {hint})\n")
        self.stderr.flush()

    def print_json(self, value: Any) -> None:
        self.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")

    def print_table(self, rows: list[list[Any]], headers: list[str]) -> None:
        if not rows:
            return
        widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=False)]
        for row in [headers, *rows]:
            self.stdout.write(
                "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)).rstrip()
                + "\n"
            )


@dataclass
class Command:
    """One command being run: its arguments, its environment and the context it works on.

    :func:`appliance.cli.main.main` creates it and closes it; the context is opened on first
    use, so a command refused for bad input, or one that needs no data folder (``bundle
    keygen``), never creates or migrates one.
    """

    args: argparse.Namespace
    env: Environment
    _ctx: Context | None = field(default=None, repr=False)

    @property
    def ctx(self) -> Context:
        return self.context()

    def settings(self, **overrides: Any) -> Settings:
        """The settings from ``--data-dir``, the environment variables and ``overrides``
        (settings given on the command line, e.g. ``serve --port``)."""
        cli = {"data_dir": getattr(self.args, "data_dir", None), **overrides}
        return load_settings(cli=cli, env=self.env.environ)

    def context(self, **overrides: Any) -> Context:
        """The context, opened once from :meth:`settings`."""
        if self._ctx is None:
            self._ctx = open_context(self.settings(**overrides))
        return self._ctx

    def close(self) -> None:
        """Stop what the command started and close the store (idempotent)."""
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            ctx.close()


def parse_ref(text: str) -> tuple[str, str]:
    """``NAME@VERSION`` as (name, version); BadRequest (exit 2) for anything else."""
    name, found, version = text.partition("@")
    if not found or not name or not version:
        raise BadRequest(
            f"{text!r} is not BUNDLE@VERSION",
            "Write the bundle as NAME@VERSION, e.g. demo-platform@1.1.0 "
            "(appliance bundle list shows them).",
        )
    return name, version


def typed_secret(label: str, confirm: bool = False, other_way: str = "") -> str:
    """A passphrase typed on the terminal (getpass reads /dev/tty), twice with ``confirm``."""
    try:
        first = getpass.getpass(f"{label}: ")
        if confirm and getpass.getpass("Again: ") != first:
            raise BadRequest("the passphrases differ", "Type the same passphrase twice.")
    except (EOFError, OSError) as e:
        raise BadRequest(
            f"the {label.lower()} must be typed on a terminal",
            f"Run the command in a terminal{other_way}.",
        ) from e
    return first
