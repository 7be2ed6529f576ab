"""appliance serve (headless) and appliance with no command (the desktop)."""

from __future__ import annotations

import argparse
import logging
import os
import pwd
import socket
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from appliance.cli.common import Command
from appliance.context import Context
from appliance.signals import StopSignals

if TYPE_CHECKING:
    from appliance.backend.listen import Listener
    from appliance.backend.server import LocalServer

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the local server headless (unattended mode)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 0: a free port)")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        default=None,
        help="let --host be an address beyond this machine (prefer an SSH tunnel)",
    )
    serve.set_defaults(handler=serve_command)


def start_server(
    ctx: Context, host: str | None = None, port: int | None = None, listener: Listener | None = None
) -> LocalServer:
    """Start everything a running appliance needs, then the HTTP server last. Its imports are
    here: the desktop runs this on a thread while Qt starts (appliance.desktop)."""
    from appliance.backend.security import check_bind_address
    from appliance.backend.server import LocalServer
    from appliance.jobs.schedules.service import Scheduler

    check_bind_address(host or ctx.settings.host, ctx.settings.allow_remote)  # before anything
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
    # Day two: status after every run (listens to the run manager) and on an interval.
    from appliance.jobs.daytwo.service import StatusService

    ctx.services["status"] = StatusService(ctx, ctx.services.get("runs")).start()
    server = LocalServer(ctx, host=host, port=port, listener=listener).start()
    ctx.services["http"] = server
    return server


def serve_command(cmd: Command) -> int:
    # The stop handlers stay installed until the shutdown is done: a second SIGTERM (systemd,
    # make forwarding it, a second Ctrl+C) is recorded, never fatal halfway through.
    out = cmd.env.stdout
    with StopSignals(threading.Event()) as signals:
        try:
            ctx = cmd.context(
                host=cmd.args.host, port=cmd.args.port, allow_remote=cmd.args.allow_remote
            )
            server = start_server(ctx)
            if server.warning:
                cmd.env.stderr.write(server.warning + "\n")
            out.write(f"Appliance serving at {server.login_url}\n")
            hint = tunnel_hint(cmd.env.environ, server.host, server.port, server.token)
            if hint:
                out.write(hint)
            out.write("Press Ctrl+C to stop.\n")
            out.flush()
            signals.wait()
        finally:
            cmd.close()
    return 0


def on_desktop(environ: Mapping[str, str]) -> bool:
    """A display here and not an SSH session: the engineer sits at this machine."""
    display = environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
    return bool(display) and not environ.get("SSH_CONNECTION")


def tunnel_hint(environ: Mapping[str, str], host: str, port: int, token: str) -> str | None:
    """Off a desktop (a jump host, an SSH session): the exact ``ssh -L`` to run on the laptop
    (Windows 10+ ships OpenSSH) and the login URL to open there, through the tunnel."""
    if on_desktop(environ):
        return None
    if environ.get("WSL_DISTRO_NAME") and not environ.get("SSH_CONNECTION"):
        # WSL2 forwards the Linux side's localhost ports to Windows: no tunnel to open.
        return f"On Windows, open http://127.0.0.1:{port}/?token={token} in the browser\n"
    user = environ.get("USER") or environ.get("LOGNAME") or pwd.getpwuid(os.getuid()).pw_name
    # SSH_CONNECTION: "client_ip client_port server_ip server_port": the address the engineer
    # already reached this machine at; else its name.
    fields = environ.get("SSH_CONNECTION", "").split()
    here = fields[2] if len(fields) == 4 else socket.gethostname()
    target = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    target = f"[{target}]" if ":" in target else target
    return (
        "No desktop here: on your laptop, open a tunnel (keep it open) with\n"
        f"  ssh -N -L {port}:{target}:{port} {user}@{here}\n"
        f"then open http://127.0.0.1:{port}/?token={token}\n"
    )


def desktop(cmd: Command) -> int:
    """The window where a display exists; otherwise the browser, or the URL printed."""
    from appliance.backend.listen import listen_again
    from appliance.backend.security import check_bind_address
    from appliance.desktop import show_ui

    with StopSignals(threading.Event()) as signals:  # held through the shutdown, as above
        try:
            ctx = cmd.ctx
            # Bound first: the window opens on the login URL while the services start.
            check_bind_address(ctx.settings.host, ctx.settings.allow_remote)
            remembered = ctx.paths.root / "webview" / "port"  # beside the page's storage
            listener = listen_again(ctx.settings.host, ctx.settings.port, remembered)
            try:
                show_ui(
                    ctx,
                    lambda: start_server(ctx, listener=listener),
                    lambda _stop: signals.wait(),
                    listener=listener,
                )
            finally:
                listener.close()  # the server closed it when it ran; else nobody will
        finally:
            cmd.close()
    return 0
