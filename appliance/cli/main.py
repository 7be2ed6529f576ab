"""Parser, dispatch and the edge where errors become one line and an exit code."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from enum import IntEnum
from typing import NoReturn

from appliance import __version__
from appliance.cli import (
    bundles,
    common,
    export,
    history,
    reports,
    runs,
    schedules,
    serve,
    sites,
)
from appliance.errors import ApplianceError

logger = logging.getLogger(__name__)

# Each module adds its subcommands with register(subparsers); handlers are (args) -> int.
COMMAND_MODULES = (serve, sites, bundles, runs, export, reports, history, schedules)


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1  # the thing asked for was tried and did not succeed
    USAGE = 2  # bad input: nothing was done
    INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        common.fail_line(f"{message}", f"run `{self.prog} --help` for the usage")
        sys.exit(ExitStatus.USAGE)


def build_parser() -> Parser:
    parser = Parser(
        prog="appliance",
        description="Offline installer and upgrade appliance. "
        "Without a command it opens the desktop window.",
    )
    parser.add_argument("--version", action="version", version=f"appliance {__version__}")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="data folder (default: $APPLIANCE_DATA_DIR or the user data folder)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    handler = getattr(args, "handler", None) or serve.desktop
    try:
        return int(handler(args))
    except ApplianceError as e:
        if e.status >= 500:
            logger.exception("command failed")
        common.fail_line(e.message, e.hint)
        return ExitStatus.USAGE if 400 <= e.status < 500 else ExitStatus.FAILED
    except KeyboardInterrupt:
        common.fail_line("interrupted", "run the command again when ready")
        return ExitStatus.INTERRUPTED
    except Exception as e:  # the edge: log the traceback, show one line
        logger.exception("unexpected error")
        common.fail_line(
            f"internal error: {e}",
            "this is a bug; logs/appliance.log in the data folder has the details",
        )
        return ExitStatus.FAILED
