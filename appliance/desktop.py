"""Showing the UI: a pywebview window (Qt backend) on the local server; where no window can
start, the default browser, else the URL printed.

Qt and pywebview are imported here lazily, inside the functions that open the window, so
``appliance --version`` and ``appliance serve`` never load them.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from appliance.clock import process_age
from appliance.context import Context
from appliance.signals import StopSignals
from appliance.window_env import has_display, lean_qtpy, window_unavailable

if TYPE_CHECKING:
    from appliance.backend.listen import Listener
    from appliance.backend.server import LocalServer

logger = logging.getLogger(__name__)

TITLE = "Appliance"
KEEP_SERVING_TITLE = "Keep serving?"
# Below this the screens stop being usable (the widest tables and the navigation wrap).
MIN_SIZE = (1000, 600)
# Room left for a window manager's title bar: Qt sizes the client area, the frame comes on top.
FRAME_ALLOWANCE = 32
# Without a screen to ask (none reported), a size that fits a 1366x768 laptop.
FALLBACK_SIZE = (1280, 700)


def _count(value: Any) -> int:
    if callable(value):
        value = value()
    if value is None:
        return 0
    if isinstance(value, bool | int):
        return int(value)
    try:
        return len(value)
    except TypeError:
        return 1 if value else 0


def _first(service: Any, names: tuple[str, ...]) -> int | None:
    for name in names:
        if hasattr(service, name):
            try:
                return _count(getattr(service, name))
            except Exception:
                logger.exception("asking %r.%s failed", service, name)
                return None
    return None


def _schedules_pending(scheduler: Any) -> bool:
    pending = _first(scheduler, ("pending_count", "pending", "upcoming"))
    if pending is not None:
        return pending > 0
    listing = getattr(scheduler, "list", None)
    if callable(listing):  # the scheduler's own listing: schedules with a next fire time
        try:
            return any(item.get("next") for item in listing())
        except Exception:
            logger.exception("listing schedules failed")
    return False


def keep_serving_reasons(ctx: Context) -> list[str]:
    """What still needs the server: active runs, pending schedules. The run manager and the
    scheduler are duck-typed and may be absent (an older build, or not started)."""
    reasons = []
    runs = ctx.services.get("runs")
    if runs is not None:
        active = _first(runs, ("active_count", "active_runs", "active", "running", "busy"))
        if active:
            reasons.append("A run is in progress")
    scheduler = ctx.services.get("scheduler")
    if scheduler is not None and _schedules_pending(scheduler):
        reasons.append("schedules are pending")
    return reasons


def keep_serving_question(reasons: list[str]) -> str:
    return (
        " / ".join(reasons)
        + " — keep serving in the background?\n\nOK: close the window and keep serving "
        "(stop later with Ctrl+C or SIGTERM). Cancel: keep the window open."
    )


class SignalWatch:
    """SIGTERM/SIGINT while Qt's loop runs: Python handlers only run when the main thread runs
    Python code, which a C++ event loop may not do for a long time. The signal's byte on a
    wakeup fd is read by a thread that then closes the window from outside the loop."""

    def __init__(self, stop: threading.Event, on_signal: Callable[[], None]) -> None:
        self.stop = stop
        self.on_signal = on_signal
        self._rsock, self._wsock = socket.socketpair()
        self._wsock.setblocking(False)
        self._previous: dict[int, Any] = {}
        self._old_fd = -1
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="signal-watch", daemon=True)

    def __enter__(self) -> SignalWatch:
        def handler(signum: int, frame: object) -> None:
            # Nothing here: the wakeup fd wakes _watch, which sets stop from its own thread
            # (an Event.set() in a handler can deadlock, see appliance/signals.py).
            pass

        self._previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
        self._old_fd = signal.set_wakeup_fd(self._wsock.fileno(), warn_on_full_buffer=False)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._closed.is_set():
            ready, _, _ = select.select([self._rsock], [], [], 0.5)
            if ready and self._rsock.recv(64):
                logger.info("signal received: closing the window")
                self.stop.set()
                self.on_signal()
                return

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        signal.set_wakeup_fd(self._old_fd)
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._thread.join(2)
        self._rsock.close()
        self._wsock.close()


def startup_time(what: str) -> None:
    age = process_age()
    if age is not None:  # where a start-up's time goes (docs/architecture.md, "The window")
        logger.info("%s %.2f s after the process started", what, age)


def window_geometry(area: tuple[int, int, int, int] | None) -> dict[str, Any]:
    """The window's position, size and minimum from the screen's available area (x, y, w, h:
    the screen less panels and docks). "Maximized" is not used: without a window manager it is
    ignored and the window keeps its default size, off the bottom of a laptop's screen."""
    if area is None or area[2] <= 0 or area[3] <= 0:
        width, height = FALLBACK_SIZE
        return {"width": width, "height": height, "min_size": MIN_SIZE}
    x, y, w, h = area
    height = max(h - FRAME_ALLOWANCE, 1)
    return {
        "x": x,
        "y": y,
        "width": w,
        "height": height,
        # a minimum larger than the screen would push the window off it
        "min_size": (min(MIN_SIZE[0], w), min(MIN_SIZE[1], height)),
    }


def available_area() -> tuple[int, int, int, int] | None:
    """The primary screen's available geometry as Qt reports it, its position relative to the
    screen (pywebview places a window relative to the screen); None when there is no screen."""
    # QtWebEngine must be loaded before the QApplication exists; pywebview reuses this one.
    import PyQt6.QtWebEngineWidgets  # noqa: F401
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    screen = app.primaryScreen()  # type: ignore[union-attr]
    if screen is None:
        return None
    g, full = screen.availableGeometry(), screen.geometry()
    return g.x() - full.x(), g.y() - full.y(), g.width(), g.height()


class LoginBridge:
    """What the page may ask its window (pywebview's JS API, ``window.pywebview.api``): the
    login link of the server that runs now, from server.json, so a page whose server restarted
    reloads itself with the new token (static/js/connection.js, Reconnect)."""

    def __init__(self, server_json: Any) -> None:
        self._server_json = server_json

    def login_url(self) -> str | None:
        try:
            info = json.loads(self._server_json.read_text())
            return f"{info['url']}?token={info['token']}"
        except (OSError, ValueError, KeyError, TypeError):
            return None  # no server now: the page keeps saying so


class ServerStart(threading.Thread):
    """The services and the server, started on a thread while Qt loads and makes its
    application on the main thread (one used to wait for the other). ``result()`` gives the
    server or raises what its start raised; ``on_failure`` runs on this thread after a failed
    start (the window, open on a socket bound beforehand, closes)."""

    def __init__(self, start: Callable[[], LocalServer]) -> None:
        super().__init__(name="server-start", daemon=True)
        self._start_server = start
        self.server: LocalServer | None = None
        self.error: BaseException | None = None
        self.on_failure: Callable[[], None] = lambda: None
        self.start()

    def run(self) -> None:
        try:
            self.server = self._start_server()
            startup_time("server serving")
        except BaseException as e:  # handed to the main thread by result()
            self.error = e
            self.on_failure()

    def result(self) -> LocalServer:
        self.join()
        if self.error is not None:
            raise self.error
        assert self.server is not None
        return self.server


def run_window(
    ctx: Context, starting: ServerStart, listener: Listener | None = None
) -> tuple[bool, threading.Event]:
    """Show the window until it closes. Returns (keep serving?, the stop event a signal sets).
    Qt starts while ``starting`` starts the server; the window opens on its login URL, at once
    when ``listener`` (the server's socket, bound beforehand) gives it, else once it serves. A
    server that fails to start closes the window, and its error is raised here."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium refuses to sandbox as root; only then is the sandbox turned off.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    lean_qtpy()
    import webview

    stop = threading.Event()
    keep = threading.Event()
    area = available_area()
    startup_time("Qt application made")
    geometry = window_geometry(area)
    bridge = LoginBridge(ctx.paths.server_json)
    url = listener.login_url if listener else starting.result().login_url
    window = webview.create_window(TITLE, url, js_api=bridge, text_select=True, **geometry)
    closing = threading.Lock()
    shown = threading.Event()
    closed = threading.Event()

    def close_window() -> None:
        with closing:
            if closed.is_set():
                return
            closed.set()
        try:
            window.destroy()
        except Exception:
            logger.exception("closing the window failed")

    def failed() -> None:  # the server-start thread, after its error is set
        logger.info("the server did not start: closing the window")
        if listener is not None:
            listener.close()  # the page's waiting request ends now
        if shown.is_set():
            close_window()

    starting.on_failure = failed
    if starting.error is not None:  # it failed before the hook was in place
        raise starting.error

    def on_shown() -> None:
        shown.set()
        if starting.error is not None:  # failed before the window was there to close
            close_window()
            return
        startup_time("window shown")
        # what Qt reports once the window is on screen (the window test reads this line)
        logger.info(
            "window geometry %s,%s %sx%s; screen available area %s",
            window.x,
            window.y,
            window.width,
            window.height,
            "x".join(map(str, area)) if area else "unknown",
        )

    window.events.shown += on_shown
    window.events.loaded += lambda: startup_time("page loaded")

    def on_closing() -> bool:
        if stop.is_set():
            return True
        reasons = keep_serving_reasons(ctx)
        if not reasons:
            return True
        if window.create_confirmation_dialog(KEEP_SERVING_TITLE, keep_serving_question(reasons)):
            keep.set()
            return True
        return False  # cancel: the window stays open

    window.events.closing += on_closing

    storage = ctx.paths.root / "webview"
    storage.mkdir(parents=True, exist_ok=True)
    with SignalWatch(stop, close_window):
        # not private: the page keeps its language choice (localStorage) between launches, its
        # origin too (the desktop takes its last port again: backend/listen.listen_again)
        webview.start(gui="qt", private_mode=False, storage_path=str(storage))
    starting.join()  # a window closed at once: the services finish starting before the exit
    if starting.error is not None:
        raise starting.error
    return keep.is_set() and not stop.is_set(), stop


def serve_while_needed(ctx: Context, stop: threading.Event) -> None:
    """After the window closed with work pending: serve until a signal, or until nothing
    needs the server any more."""
    sys.stdout.write("Window closed; still serving in the background. Ctrl+C or SIGTERM stops.\n")
    sys.stdout.flush()

    def nothing_needs_us() -> bool:
        if keep_serving_reasons(ctx):
            return False
        logger.info("nothing needs the server any more: stopping")
        return True

    with StopSignals(stop) as signals:
        signals.wait(every=1.0, done=nothing_needs_us)


def open_browser_or_print(
    ctx: Context, server: LocalServer, wait: Callable[[threading.Event], None]
) -> None:
    opened = False
    if ctx.settings.open_browser and has_display():
        try:
            opened = webbrowser.open(server.login_url)
        except webbrowser.Error:
            logger.exception("could not open the browser")
    if not opened:
        sys.stdout.write("No browser to open; open the URL below yourself.\n")
    sys.stdout.write(f"Appliance serving at {server.login_url}\nPress Ctrl+C to stop.\n")
    sys.stdout.flush()
    wait(threading.Event())


def show_ui(
    ctx: Context,
    start: Callable[[], LocalServer],
    wait: Callable[[threading.Event], None],
    listener: Listener | None = None,
) -> None:
    """The window where one can start, else the browser or the URL. ``start`` starts the
    services and the server, on a thread while Qt starts; what it raises is raised here.
    ``listener``: the server's socket, bound already: the window need not wait for the server."""
    startup_time("desktop start (the appliance's modules loaded)")
    starting = ServerStart(start)
    why = window_unavailable()
    if why is None:
        try:
            keep, stop = run_window(ctx, starting, listener)
        except Exception as e:  # the GUI edge: any failure to start falls back to the browser
            if e is starting.error:
                raise  # the server's own failure: the command fails, as without a window
            logger.exception("the window could not start")
            why = f"the window could not start: {e}".splitlines()[0]
        else:
            if keep:
                serve_while_needed(ctx, stop)
            return
    server = starting.result()
    sys.stdout.write(f"No window: {why}; using the browser instead.\n")
    sys.stdout.flush()
    open_browser_or_print(ctx, server, wait)
