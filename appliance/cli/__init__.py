"""The command line: ``main(argv, env) -> exit code`` (env: the streams and environment
variables, :class:`~appliance.cli.common.Environment`). Errors are one line on stderr with a
hint."""

from appliance.cli.main import main

__all__ = ["main"]
