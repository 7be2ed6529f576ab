"""The local HTTP server: cheroot on loopback, a thread pool sized for streams, server.json."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from appliance.backend.app import WebApp, create_app
from appliance.backend.listen import BACKLOG, Links, Listener, new_token
from appliance.backend.security import check_bind_address
from appliance.backend.wire import ApplianceServer
from appliance.context import Context

logger = logging.getLogger(__name__)


def write_private_json(path: Path, payload: dict) -> None:
    """Write ``payload`` readable by this user only, atomically (tmp + os.replace)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class LocalServer(Links):
    """``listener``: a socket bound and listening already, with the token (the desktop makes
    them first: appliance/backend/listen.py); else the server binds (host, port) itself."""

    def __init__(
        self,
        ctx: Context,
        host: str | None = None,
        port: int | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.ctx = ctx
        self.host = listener.host if listener else host or ctx.settings.host
        self.warning = check_bind_address(self.host, ctx.settings.allow_remote)
        if self.warning:
            logger.warning("%s", self.warning)
        if listener is not None:
            self.requested_port = listener.port
        else:
            self.requested_port = ctx.settings.port if port is None else port
        self.token = listener.token if listener else new_token()
        self.app: WebApp = create_app(ctx, self.token)
        threads = ctx.settings.server_threads
        self._server = ApplianceServer(
            (self.host, self.requested_port),
            self.app,
            numthreads=threads,
            max=threads,
            server_name="appliance",
            request_queue_size=BACKLOG,
            shutdown_timeout=2,
            listening=listener.sock if listener else None,
        )
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> LocalServer:
        self._server.prepare()  # binds; port 0 becomes a real port here
        self.port = self._server.socket.getsockname()[1]
        self.app.origins.set_address(self.host, self.port)
        self._thread = threading.Thread(target=self._server.serve, name="http-server", daemon=True)
        self._thread.start()
        write_private_json(
            self.ctx.paths.server_json,
            {"url": self.url, "port": self.port, "token": self.token, "pid": os.getpid()},
        )
        logger.info("serving at %s (pid %d)", self.url, os.getpid())
        return self

    def stop(self) -> None:
        try:
            self._server.stop()
        finally:
            if self._thread is not None:
                self._thread.join(5)
            try:
                info = json.loads(self.ctx.paths.server_json.read_text())
                if info.get("pid") == os.getpid() and info.get("port") == self.port:
                    self.ctx.paths.server_json.unlink()
            except (OSError, ValueError):
                pass
            logger.info("server stopped")
