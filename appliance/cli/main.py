"""Parser, dispatch and the edge where errors become one line and an exit code."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from enum import IntEnum
from functools import partial
from typing import IO, Any, NoReturn

from appliance import __version__
from appliance.cli import (
    bundles,
    data,
    export,
    history,
    reports,
    runs,
    schedules,
    serve,
    sites,
)
from appliance.cli.common import Command, Environment
from appliance.errors import ApplianceError

logger = logging.getLogger(__name__)

# Each module adds its subcommands with register(subparsers); handlers are (Command) -> int.
COMMAND_MODULES = (serve, sites, bundles, runs, export, reports, history, schedules, data)


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1  # the thing asked for was tried and did not succeed
    USAGE = 2  # bad input: nothing was done
    INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """argparse writing to the command's streams (help, --version, usage errors) instead of
    sys.stdout/sys.stderr, as httpie's parser does; its exits are caught by :func:`main`."""

    def __init__(self, *args: Any, env: Environment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env = env

    def add_subparsers(self, **kwargs: Any) -> argparse._SubParsersAction:
        kwargs.setdefault("parser_class", partial(Parser, env=self.env))
        return super().add_subparsers(**kwargs)

    def _print_message(self, message: str, file: IO[str] | None = None) -> None:
        if message:
            (self.env.stdout if file is sys.stdout else self.env.stderr).write(message)

    def error(self, message: str) -> NoReturn:
        self.env.fail_line(f"{message}", f"run `{self.prog} --help` for the usage")
        self.exit(ExitStatus.USAGE)


def build_parser(env: Environment | None = None) -> Parser:
    parser = Parser(
        prog="appliance",
        description="Offline installer and upgrade appliance. "
        "Without a command it opens the desktop window.",
        env=env or Environment.from_process(),
    )
    parser.add_argument("--version", action="version", version=f"appliance {__version__}")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="data folder (default: $APPLIANCE_DATA_DIR or the user data folder)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run one command and return its exit code. The context is opened at most once, on the
    command's first use of it, and closed here whatever happens."""
    env = env or Environment.from_process()
    try:
        args = build_parser(env).parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:  # --help, --version, a usage error (already written)
        return e.code if isinstance(e.code, int) else ExitStatus.OK
    handler = getattr(args, "handler", None) or serve.desktop
    command = Command(args, env)
    try:
        try:
            return int(handler(command))
        finally:
            command.close()
    except ApplianceError as e:
        if e.status >= 500:
            logger.exception("command failed")
        env.fail_line(e.message, e.hint)
        return ExitStatus.USAGE if 400 <= e.status < 500 else ExitStatus.FAILED
    except KeyboardInterrupt:
        env.fail_line("interrupted", "run the command again when ready")
        return ExitStatus.INTERRUPTED
    except Exception as e:  # the edge: log the traceback, show one line
        logger.exception("unexpected error")
        env.fail_line(
            f"internal error: {e}",
            "this is a bug; logs/appliance.log in the data folder has the details",
        )
        return ExitStatus.FAILED
