"""The real window under Xvfb: `appliance` opens a pywebview (Qt) window on its server, the
page renders, and SIGTERM closes it cleanly (exit 0, server.json removed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.processes import appliance_cmd, child_env
from tests.ui.conftest import ARTIFACTS

pytestmark = pytest.mark.slow


def display_of(pid: int) -> dict[str, str]:
    env = dict(
        x.split("=", 1)
        for x in Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
        if "=" in x
    )
    return {k: env[k] for k in ("DISPLAY", "XAUTHORITY") if k in env}


def start_window(data_dir: Path, screen: str) -> subprocess.Popen:
    """The real window (`appliance` with no command) on a virtual X screen of that size."""
    extra = {"QTWEBENGINE_DISABLE_SANDBOX": "1"} if os.geteuid() == 0 else {}
    return subprocess.Popen(
        ["xvfb-run", "-a", "-s", f"-screen 0 {screen}", *appliance_cmd()],
        env=child_env(data_dir, APPLIANCE_OPEN_BROWSER="0", **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_window_shows_the_ui_and_closes_cleanly(data_dir: Path) -> None:
    for tool in ("xvfb-run", "import", "identify", "convert"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing: apt-get install xvfb xauth imagemagick")
    proc = start_window(data_dir, "1280x900x24")
    server_json = data_dir / "server.json"
    shot = ARTIFACTS / "window-xvfb.png"
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        deadline = time.monotonic() + 90
        while not server_json.exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the server never started"
            time.sleep(0.1)
        pid = json.loads(server_json.read_text())["pid"]
        env = {**os.environ, **display_of(pid)}
        colours = 0
        while colours <= 20:  # a blank or half-drawn screen has a handful of colours
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, f"the window never rendered ({colours} colours)"
            time.sleep(1)
            subprocess.run(
                ["import", "-window", "root", str(shot)],
                env=env,
                check=True,
                capture_output=True,
                timeout=30,
            )
            out = subprocess.run(
                ["identify", "-format", "%k", str(shot)],
                check=True,
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
            colours = int(out.strip() or 0)
        # the navigation bar exists only once the ES modules ran: its strip must not be blank
        nav = 1
        while nav <= 20:
            assert time.monotonic() < deadline, f"the page's script never rendered ({nav})"
            subprocess.run(
                ["import", "-window", "root", str(shot)],
                env=env,
                check=True,
                capture_output=True,
                timeout=30,
            )
            nav = int(
                subprocess.run(
                    [
                        "convert",
                        str(shot),
                        "-crop",
                        "600x40+300+8",
                        "+repage",
                        "-format",
                        "%k",
                        "info:",
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=30,
                ).stdout
            )
            time.sleep(0.5)
        os.kill(pid, signal.SIGTERM)
        code = proc.wait(60)
        output = proc.stdout.read().decode()
        assert code == 0, output
        assert "No window" not in output, output
        assert not server_json.exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        proc.stdout.close()


GEOMETRY = re.compile(r"window geometry (-?\d+),(-?\d+) (\d+)x(\d+); screen available area (\S+)")


def test_window_fits_a_laptop_screen(data_dir: Path) -> None:
    """On a 1366x768 screen with no window manager (where "maximized" means nothing) the window
    takes the screen's available area: Qt's own report and the X server's both inside it."""
    for tool in ("xvfb-run", "xwininfo", "import", "convert"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing: apt-get install xvfb xauth x11-utils imagemagick")
    proc = start_window(data_dir, "1366x768x24")
    log = data_dir / "logs" / "appliance.log"
    try:
        deadline = time.monotonic() + 90
        found = None
        while found is None:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the window never reported its geometry"
            time.sleep(0.2)
            found = GEOMETRY.search(log.read_text()) if log.exists() else None
        x, y, w, h = (int(v) for v in found.groups()[:4])
        assert found.group(5) == "0x0x1366x768"
        assert x >= 0 and y >= 0 and x + w <= 1366 and y + h <= 768, found.group(0)
        assert w == 1366 and h >= 700, found.group(0)  # the whole width, nearly all the height
        # the window may show before the server serves (it opens on the socket bound first)
        while not (data_dir / "server.json").exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the server never started"
            time.sleep(0.1)
        pid = json.loads((data_dir / "server.json").read_text())["pid"]
        env = {**os.environ, **display_of(pid)}
        tree = subprocess.run(
            ["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True, timeout=30
        ).stdout
        boxes = [
            tuple(int(v) for v in m.groups())
            for m in re.finditer(r'"Appliance".*?\s(\d+)x(\d+)\+(-?\d+)\+(-?\d+)', tree)
        ]
        assert boxes, tree
        for bw, bh, bx, by in boxes:
            assert bx >= 0 and by >= 0 and bx + bw <= 1366 and by + bh <= 768, tree
        # the navigation is drawn on the screen: its strip at the top has the links' colours
        shot = ARTIFACTS / "window-laptop-xvfb.png"
        ARTIFACTS.mkdir(exist_ok=True)
        nav = 1
        while nav <= 20:
            assert time.monotonic() < deadline, f"the navigation never showed ({nav} colours)"
            time.sleep(0.5)
            subprocess.run(
                ["import", "-window", "root", str(shot)],
                env=env,
                check=True,
                capture_output=True,
                timeout=30,
            )
            crop = ["convert", str(shot), "-crop", "600x40+300+8", "+repage", "-format", "%k"]
            nav = int(
                subprocess.run(
                    [*crop, "info:"], check=True, capture_output=True, text=True, timeout=30
                ).stdout
            )
        os.kill(pid, signal.SIGTERM)
        assert proc.wait(60) == 0, proc.stdout.read().decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        proc.stdout.close()


XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"]
FAILING_START = """
import os, sys, time
from appliance import desktop
from appliance.backend.listen import listen
from appliance.context import open_context
from appliance.errors import BadRequest
from appliance.settings import load_settings

ctx = open_context(load_settings(env=os.environ))
listener = listen("127.0.0.1", 0)

def start():
    time.sleep(float(sys.argv[1]))
    raise BadRequest("the services could not start", hint="none")

try:
    desktop.show_ui(ctx, start, lambda _stop: None, listener=listener)
except BadRequest as e:
    print("RAISED", e.message, flush=True)
    sys.exit(3)
print("RETURNED", flush=True)
"""


@pytest.mark.parametrize("fails_after", [0.0, 3.0])
def test_a_server_that_fails_behind_an_open_window_closes_it(
    data_dir: Path, fails_after: float
) -> None:
    """The window opens on the socket bound beforehand while the services start; when they
    fail (before the window shows, or after), the window closes and the error is the command's,
    not a browser fallback and not a window left waiting on nothing."""
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is missing: apt-get install xvfb xauth")
    extra = {"QTWEBENGINE_DISABLE_SANDBOX": "1"} if os.geteuid() == 0 else {}
    proc = subprocess.run(
        [*XVFB, sys.executable, "-c", FAILING_START, str(fails_after)],
        env=child_env(data_dir, APPLIANCE_OPEN_BROWSER="0", **extra),
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 3, output
    assert "RAISED the services could not start" in output
    assert "No window" not in output
    if fails_after:  # it was open, and closed by the failure
        log = (data_dir / "logs" / "appliance.log").read_text()
        assert "window shown" in log
        assert "the server did not start: closing the window" in log
