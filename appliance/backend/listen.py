"""The server's listening socket and token, made before the server: the desktop binds first,
so the window can open on the login URL while the services start (appliance/desktop.py). A
browser's request waits in the socket's backlog until the server accepts it. Only the standard
library here: this runs before the server's own imports."""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass, field

BACKLOG = 64  # as LocalServer's request_queue_size


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class Listener:
    sock: socket.socket
    host: str
    token: str = field(default_factory=new_token)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def login_url(self) -> str:
        return f"{self.url}?token={self.token}"

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
