"""The desktop edge without a display: what keeps the server, the fallback, lazy Qt imports."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from appliance import desktop
from appliance.context import Context
from appliance.errors import BadRequest
from tests.support.processes import REPO


class Runs:
    def __init__(self, active: list[int]) -> None:
        self.active = active

    def active_runs(self) -> list[int]:
        return self.active


class Scheduler:
    def __init__(self, items: list[dict]) -> None:
        self.items = items

    def list(self) -> list[dict]:
        return self.items


def test_keep_serving_reasons_are_duck_typed(ctx: Context) -> None:
    assert desktop.keep_serving_reasons(ctx) == []  # no services at all
    ctx.services["runs"] = Runs([])
    ctx.services["scheduler"] = Scheduler([{"id": 1, "next": []}])
    assert desktop.keep_serving_reasons(ctx) == []
    ctx.services["runs"] = Runs([7])
    ctx.services["scheduler"] = Scheduler([{"id": 1, "next": [{"utc": "2030-01-01"}]}])
    reasons = desktop.keep_serving_reasons(ctx)
    assert reasons == ["A run is in progress", "schedules are pending"]
    question = desktop.keep_serving_question(reasons)
    assert question.startswith("A run is in progress / schedules are pending")
    assert "keep serving in the background?" in question
    ctx.services["runs"] = object()  # an unknown shape is tolerated, not a crash
    ctx.services.pop("scheduler")
    assert desktop.keep_serving_reasons(ctx) == []
    ctx.services.clear()


def test_no_display_falls_back_to_the_url(
    ctx: Context, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert desktop.window_unavailable() == "no display (DISPLAY/WAYLAND_DISPLAY unset)"

    class Server:
        login_url = "http://127.0.0.1:1/?token=t"

    waited: list[threading.Event] = []
    desktop.show_ui(ctx, Server, waited.append)  # type: ignore[arg-type]
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "No window: no display (DISPLAY/WAYLAND_DISPLAY unset); using the browser instead."
    )
    assert "Appliance serving at http://127.0.0.1:1/?token=t" in out
    assert len(waited) == 1


def test_a_server_that_cannot_start_fails_the_command(
    ctx: Context, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server starts on a thread (beside Qt); its error still reaches the command line,
    never a browser opened on nothing."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)

    def start() -> None:
        raise BadRequest("port 1 is taken", hint="choose another port")

    with pytest.raises(BadRequest, match="port 1 is taken"):
        desktop.show_ui(ctx, start, lambda _stop: None)  # type: ignore[arg-type]
    assert "serving" not in capsys.readouterr().out


def test_server_start_hands_back_its_server_or_error() -> None:
    assert desktop.ServerStart(lambda: "server").result() == "server"  # type: ignore[arg-type,return-value]
    failing = desktop.ServerStart(lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    with pytest.raises(ZeroDivisionError):
        failing.result()
    assert isinstance(failing.error, ZeroDivisionError)


def test_version_and_serve_do_not_import_qt() -> None:
    code = (
        "import sys\n"
        "from appliance.cli.main import build_parser\n"
        "import appliance.desktop, appliance.cli.serve\n"
        "build_parser()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PyQt6', 'webview', 'qtpy')]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_window_geometry_follows_the_available_area() -> None:
    laptop = desktop.window_geometry((0, 0, 1366, 768))
    assert laptop == {"x": 0, "y": 0, "width": 1366, "height": 736, "min_size": (1000, 600)}
    # a panel on the left and a small screen: placed beside the panel, minimum within the screen
    small = desktop.window_geometry((64, 0, 900, 560))
    assert (small["x"], small["width"], small["min_size"]) == (64, 900, (900, 528))
    assert desktop.window_geometry(None) == {"width": 1280, "height": 700, "min_size": (1000, 600)}


def test_the_window_bridge_gives_the_current_login_link(ctx: Context) -> None:
    """Reconnect in the window asks for the login link of the server running now."""
    bridge = desktop.LoginBridge(ctx.paths.server_json)
    assert bridge.login_url() is None  # no server: nothing to reconnect to
    ctx.paths.server_json.write_text('{"url": "http://127.0.0.1:5/", "token": "t2", "pid": 1}')
    assert bridge.login_url() == "http://127.0.0.1:5/?token=t2"
    ctx.paths.server_json.write_text("{broken")
    assert bridge.login_url() is None
