"""Parser, dispatch and the edge where errors become one line and an exit code."""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from enum import IntEnum
from functools import partial
from typing import IO, Any, NoReturn

from appliance import __version__
from appliance.cli.common import Command, Environment
from appliance.errors import ApplianceError
from appliance.store import DATABASE_ERRORS

logger = logging.getLogger(__name__)

# Each module adds its subcommands with register(subparsers); handlers are (Command) -> int.
# Imported by build_parser only: the desktop (no arguments at all) needs none of them before
# its window starts, and their imports (~0.2 s) then run beside Qt's (appliance.desktop).
COMMAND_MODULES = (
    "serve",
    "sites",
    "config",
    "bundles",
    "runs",
    "export",
    "reports",
    "history",
    "schedules",
    "data",
    "daytwo",
    "backups",
    "logs",
)


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
    for name in COMMAND_MODULES:
        importlib.import_module(f"appliance.cli.{name}").register(sub)
    return parser


def desktop_handler() -> Callable[[Command], int]:
    from appliance.cli.serve import desktop

    return desktop


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run one command and return its exit code. The context is opened at most once, on the
    command's first use of it, and closed here whatever happens."""
    env = env or Environment.from_process()
    words = list(sys.argv[1:] if argv is None else argv)
    if words:
        try:
            args = build_parser(env).parse_args(words)
        except SystemExit as e:  # --help, --version, a usage error (already written)
            return e.code if isinstance(e.code, int) else ExitStatus.OK
    else:  # the double-click: the desktop, without the parser's imports
        args = argparse.Namespace(data_dir=None, command=None)
    handler = getattr(args, "handler", None) or desktop_handler()
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
    except OSError as e:  # a path, a permission, an address: the user's to fix, not a bug
        logger.info("command failed: %s", e)
        env.fail_line(*os_error_line(e))
        return ExitStatus.USAGE
    except DATABASE_ERRORS as e:
        logger.info("command failed: database: %s", e)
        env.fail_line(*database_error_line(e))
        return ExitStatus.USAGE
    except Exception as e:  # the edge: log the traceback, show one line
        logger.exception("unexpected error")
        env.fail_line(
            f"internal error: {e}",
            "this is a bug; logs/appliance.log in the data folder has the details",
        )
        return ExitStatus.FAILED


_OS_HINTS = {
    errno.ENOENT: "check the path: a folder in it does not exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder; pick another path",
    errno.EEXIST: "a file is in the way (the data folder must be a folder); pick another path",
    errno.EISDIR: "the path is a folder; give a file",
    errno.EACCES: "this user may not use that path; pick another or fix its permissions",
    errno.EPERM: "this user may not use that path; pick another or fix its permissions",
    errno.EROFS: "the file system is read-only; pick a writable folder",
    errno.ENOSPC: "the disk is full; free some space",
    errno.EADDRINUSE: "the port is taken; pick another --port (0 picks a free one)",
    errno.EADDRNOTAVAIL: "that address is not this machine's; use --host 127.0.0.1",
}


def os_error_line(e: OSError) -> tuple[str, str]:
    """One line and a hint for an OSError (cheroot's bind failure carries its errno in text)."""
    code = e.errno
    if code is None:
        found = [n for n in (errno.EADDRINUSE, errno.EADDRNOTAVAIL) if f"[Errno {n}]" in str(e)]
        code = found[0] if found else None
    where = f": {e.filename}" if e.filename else ""
    message = f"{e.strerror}{where}" if e.strerror else str(e)
    hint = _OS_HINTS.get(code, "check the paths and addresses given (and --data-dir)")
    return message, hint


def database_error_line(e: Exception) -> tuple[str, str]:
    text = str(e)
    if "locked" in text or "unable to open" in text:
        hint = "another appliance may be using this data folder, or it is not writable"
    else:
        hint = (
            "appliance.db in the data folder is damaged: restore a backup (appliance data "
            "restore FILE --data-dir NEW_FOLDER) or move it aside, and start again"
        )
    return f"the database cannot be used: {text}", hint
