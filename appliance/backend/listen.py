"""The server's listening socket and token, made before the server: the desktop binds first,
so the window can open on the login URL while the services start (appliance/desktop.py). A
browser's request waits in the socket's backlog until the server accepts it. Only the standard
library here: this runs before the server's own imports."""

from __future__ import annotations

import errno
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

BACKLOG = 64  # as LocalServer's request_queue_size


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Links:
    """The server's URL and login link, from ``host``, ``port`` and ``token``."""

    host: str
    port: int
    token: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def login_url(self) -> str:
        return f"{self.url}?token={self.token}"


@dataclass
class Listener(Links):
    sock: socket.socket
    host: str
    token: str = field(default_factory=new_token)

    @property
    def port(self) -> int:  # type: ignore[override]
        return int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()


def listen(host: str, port: int) -> Listener:
    """Bind and listen on (host, port), port 0 for a free one; OSError as bind() raises it."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return Listener(sock, host)


def listen_again(host: str, port: int, remembered: Path) -> Listener:
    """The desktop's listener: with ``port`` 0 (any), the port its last run had, kept in
    ``remembered``, when it is free. The page's origin (http://host:port) then stays the same
    between launches, and with it what the page keeps there (localStorage: the language
    chosen). Taken by something else: a free port, and the next launch tries that one."""
    if port == 0:
        try:
            last = int(remembered.read_text().strip())
        except (OSError, ValueError):
            last = 0
        if 0 < last < 65536:
            try:
                return _remember(listen(host, last), remembered)
            except OSError as e:
                if e.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                    raise
                logger.info("port %d of the last run is taken (%s): another one", last, e)
    return _remember(listen(host, port), remembered)


def _remember(listener: Listener, remembered: Path) -> Listener:
    try:
        remembered.parent.mkdir(parents=True, exist_ok=True)
        tmp = remembered.with_name(f".{remembered.name}.{os.getpid()}")
        tmp.write_text(f"{listener.port}\n")
        os.replace(tmp, remembered)
    except OSError as e:  # the next launch then takes a free port: nothing else is lost
        logger.warning("could not keep the port in %s: %s", remembered, e)
    return listener
