"""appliance serve (headless) and appliance with no command (the desktop)."""

from __future__ import annotations

import argparse
import logging
import threading

from appliance.backend.server import LocalServer
from appliance.cli.common import Command
from appliance.context import Context
from appliance.jobs.schedules.service import Scheduler
from appliance.signals import StopSignals

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the local server headless (unattended mode)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 0: a free port)")
    serve.set_defaults(handler=serve_command)


def start_server(ctx: Context, host: str | None = None, port: int | None = None) -> LocalServer:
    """Start everything a running appliance needs, then the HTTP server last."""
    from appliance.jobs.bundles import import_carried

    import_carried(ctx)  # the signed bundles inside the appliance; idempotent
    # The run manager first: it recovers runs a dead appliance left behind, and services stop
    # in reverse order, so it stops (interrupting its runs) after the HTTP server.
    from appliance.jobs.runs.manager import RunManager

    ctx.services["runs"] = RunManager(ctx).start()
    # The scheduler comes right after the run manager (it starts runs through it).
    ctx.services["scheduler"] = Scheduler(ctx, ctx.services.get("runs")).start()
    # Retention in the background: at start, then hourly (short writer units; runs go on).
    from appliance.jobs.retention import Retention

    ctx.services["retention"] = Retention(ctx).start()
    server = LocalServer(ctx, host=host, port=port).start()
    ctx.services["http"] = server
    return server


def serve_command(cmd: Command) -> int:
    # The stop handlers stay installed until the shutdown is done: a second SIGTERM (systemd,
    # make forwarding it, a second Ctrl+C) is recorded, never fatal halfway through.
    out = cmd.env.stdout
    with StopSignals(threading.Event()) as signals:
        try:
            server = start_server(cmd.context(host=cmd.args.host, port=cmd.args.port))
            out.write(f"Appliance serving at {server.login_url}\n")
            out.write("Press Ctrl+C to stop.\n")
            out.flush()
            signals.wait()
        finally:
            cmd.close()
    return 0


def desktop(cmd: Command) -> int:
    """The window where a display exists; otherwise the browser, or the URL printed."""
    from appliance.desktop import show_ui

    with StopSignals(threading.Event()) as signals:  # held through the shutdown, as above
        try:
            ctx = cmd.ctx
            show_ui(ctx, start_server(ctx), lambda _stop: signals.wait())
        finally:
            cmd.close()
    return 0
