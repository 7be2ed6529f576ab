"""Showing the UI: the default browser where a display exists, else the URL printed.

(The pywebview window replaces the browser here once the desktop UI lands.)
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import webbrowser
from collections.abc import Callable

from appliance.backend.server import LocalServer
from appliance.context import Context

logger = logging.getLogger(__name__)


def has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def show_ui(ctx: Context, server: LocalServer, wait: Callable[[threading.Event], None]) -> None:
    opened = False
    if ctx.settings.open_browser and has_display():
        try:
            opened = webbrowser.open(server.login_url)
        except webbrowser.Error:
            logger.exception("could not open the browser")
    if not opened:
        sys.stdout.write("No display to open a window on; serving headless instead.\n")
    sys.stdout.write(f"Appliance serving at {server.login_url}\nPress Ctrl+C to stop.\n")
    sys.stdout.flush()
    wait(threading.Event())
