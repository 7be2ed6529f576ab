"""The command line in this process: ``appliance.cli.main(argv, env)`` with the test's own
streams and environment variables, answering like ``subprocess.run`` (returncode, stdout,
stderr). A few tests keep the real process (tests/support/processes.py) for the entry point,
signals and exit codes."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from appliance.cli import main
from appliance.cli.common import Environment


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def _stream() -> io.TextIOWrapper:
    # A text stream over bytes, like a process's stdout: `appliance log` copies bytes.
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    return stream.buffer.getvalue().decode("utf-8", errors="replace")  # type: ignore[attr-defined]


def run_cli(data_dir: Path, *args: str, input: str | None = None, **extra_env: str) -> Result:
    """``appliance ARGS`` with APPLIANCE_DATA_DIR=data_dir (and ``extra_env``), stdin ``input``."""
    env = Environment(
        stdin=io.StringIO(input or ""),
        stdout=_stream(),
        stderr=_stream(),
        environ={"APPLIANCE_DATA_DIR": str(data_dir), **extra_env},
    )
    code = main(list(args), env)
    return Result(code, _text(env.stdout), _text(env.stderr))
