"""The command line: ``main(argv) -> exit code``. Errors are one line on stderr with a hint."""

from appliance.cli.main import main

__all__ = ["main"]
