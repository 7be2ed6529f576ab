"""Running the appliance as a real process: the command line and `appliance serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.client import Api

REPO = Path(__file__).resolve().parents[2]


def appliance_cmd() -> list[str]:
    return [sys.executable, "-m", "appliance"]


def child_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env["APPLIANCE_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_cli(
    data_dir: Path, *args: str, input: str | None = None, timeout: float = 120, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*appliance_cmd(), *args],
        env=child_env(data_dir, **extra_env),
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        cwd=str(REPO),
    )


class ServerProcess:
    """`appliance serve` in its own process group, found through server.json."""

    def __init__(self, data_dir: Path, *extra_args: str, **extra_env: str) -> None:
        self.data_dir = Path(data_dir)
        self.log = open(self.data_dir.parent / f"serve-{self.data_dir.name}.out", "a+b")  # noqa: SIM115
        server_json = self.data_dir / "server.json"
        server_json.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [*appliance_cmd(), "serve", *extra_args],
            env=child_env(self.data_dir, **extra_env),
            cwd=str(REPO),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                info = json.loads(server_json.read_text())
                if info["pid"] == self.proc.pid:
                    break
            except (OSError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"server did not start: {self.output()}")
            time.sleep(0.05)
        self.info = info
        self.url = info["url"]
        self.api = Api(self.url, info["token"])

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def terminate(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.log.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()
