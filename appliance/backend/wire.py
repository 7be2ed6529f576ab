"""cheroot, hardened where it meets the client: a deadline for request headers, one ``Host``,
and cheroot's own refusals as JSON.

cheroot hands a connection to a worker thread as soon as a byte arrives, and the worker then
waits for the rest of the headers with the one socket timeout that long-lived log streams also
live under: a client sending a header a byte at a time holds a worker for as long as it likes,
and 50 of them stall every request. Here a connection reaches a worker only once its request
line and headers have all arrived: until then a single gate thread watches it (epoll,
edge-triggered, peeking without consuming, so cheroot reads the request exactly as it would
have), and closes it with a 408 when ``HEADER_SECONDS`` pass first. Once a request reached a
worker the socket timeout is cheroot's as before, so streams keep theirs.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
from typing import Any

from cheroot import server as cheroot_server
from cheroot import wsgi

logger = logging.getLogger(__name__)

# Request line and headers must all arrive within this many seconds of the first byte.
HEADER_SECONDS = 5.0
# Request line plus headers, in bytes; cheroot answers 413 (414 for a request line) past it.
MAX_HEADER_BYTES = 32 * 1024
# Connections waiting for their headers at once; more are closed at once.
MAX_WAITING = 1024

_HINTS = {
    "400": "Send a well-formed HTTP/1.1 request (CRLF line ends, one Host header).",
    "405": "Use a method the route accepts.",
    "408": f"Send the request line and all headers within {HEADER_SECONDS:g} s.",
    "413": f"Send at most {MAX_HEADER_BYTES} bytes of request line and headers.",
    "414": f"Send at most {MAX_HEADER_BYTES} bytes of request line and headers.",
    "501": "Send the request without that Transfer-Encoding.",
    "503": "The server is busy; retry in a moment.",
    "505": "Use HTTP/1.0 or HTTP/1.1.",
}


# the page's words for these (ui/static/js/i18n_errors.js), by status
_CODES = {
    "400": "request.malformed",
    "405": "request.method",
    "413": "request.too_large",
    "414": "request.too_large",
    "501": "request.malformed",
    "505": "request.malformed",
}


def error_answer(protocol: str, status: str, message: str, close: bool) -> bytes:
    """A complete HTTP answer carrying ``{"error", "hint", "code", "params"}``."""
    code = status[:3]
    body = json.dumps(
        {
            "error": message or status[4:] or status,
            "hint": _HINTS.get(code, "Check the request and try again."),
            "code": _CODES.get(code, "request.failed"),
            "params": {},
        }
    ).encode()
    head = [
        f"{protocol} {status}",
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(body)}",
        "X-Content-Type-Options: nosniff",
    ]
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class _OneHostReader(cheroot_server.HeaderReader):
    """cheroot's header reader, refusing a second ``Host`` (one per request: it counts)."""

    def __init__(self) -> None:
        self._hosts = 0

    def __call__(self, rfile: Any, hdict: dict | None = None) -> dict:
        try:
            return super().__call__(rfile, hdict)
        except NameError:  # a continuation line before any header: cheroot trips on it
            raise ValueError("Illegal header line.") from None

    def _allow_header(self, key_name: bytes) -> bool:
        if key_name == b"Host":
            self._hosts += 1
            if self._hosts > 1:
                raise ValueError("the request has more than one Host header")
        return True


class JsonRequest(cheroot_server.HTTPRequest):
    """cheroot's request, answering its own refusals as ``{"error", "hint"}``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_reader = _OneHostReader()

    def simple_response(self, status: Any, msg: Any = "") -> None:
        status = str(status)
        if isinstance(msg, bytes):
            msg = msg.decode("latin-1")
        if status[:3] in {"413", "414"}:
            self.close_connection = True
        close = self.close_connection or status[:1] != "2"
        data = error_answer(self.server.protocol, status, str(msg), close)
        try:
            self.conn.wfile.write(data)
        except OSError as ex:
            if ex.args[0] not in cheroot_server.errors.socket_errors_to_ignore:
                raise


class JsonConnection(cheroot_server.HTTPConnection):
    RequestHandlerClass = JsonRequest


_HUNG_UP = (
    getattr(select, "EPOLLRDHUP", 0)
    | getattr(select, "EPOLLHUP", 0)
    | getattr(select, "EPOLLERR", 0)
)


def _headers_complete(data: bytes) -> bool:
    return b"\r\n\r\n" in data or b"\n\n" in data


def _answer_and_close(conn: Any, answer: bytes) -> None:
    """Best effort, never blocking: read what was sent (closing with unread bytes would reset
    the connection and lose the answer), send the answer, end the connection."""
    sock = conn.socket
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
    try:
        sock.send(answer)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    conn.close()


class HeaderGate:
    """Holds connections until their request line and headers have arrived (Linux: epoll)."""

    def __init__(self, dispatch: Any, timeout: float, seconds: float = HEADER_SECONDS) -> None:
        self._dispatch = dispatch  # hands a connection to cheroot's workers
        self._timeout = timeout  # the socket timeout cheroot set, put back on dispatch
        self.seconds = seconds
        self._epoll = select.epoll()
        self._lock = threading.Lock()
        # fd -> (connection, deadline, bytes of it already in cheroot's read buffer)
        self._waiting: dict[int, tuple[Any, float, bytes]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="http-headers", daemon=True)

    @staticmethod
    def available() -> bool:
        return hasattr(select, "epoll") and hasattr(select, "EPOLLRDHUP")

    def start(self) -> None:
        self._thread.start()

    def add(self, conn: Any, buffered: bytes = b"") -> None:
        try:
            fd = conn.socket.fileno()
        except OSError:
            conn.close()
            return
        with self._lock:
            full = len(self._waiting) >= MAX_WAITING or self._stop.is_set()
            if not full:
                self._waiting[fd] = (conn, time.monotonic() + self.seconds, buffered)
        if full:
            conn.close()
            return
        try:
            conn.socket.settimeout(0)  # peeks never block; only the gate touches it now
            # Edge-triggered: an event for what is there now, then one per new arrival.
            self._epoll.register(fd, select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET)
        except (OSError, ValueError):
            with self._lock:
                self._waiting.pop(fd, None)
            conn.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                events = self._epoll.poll(0.25)
            except OSError:
                return  # closed by stop()
            for fd, mask in events:
                self._check(fd, hung_up=bool(mask & _HUNG_UP))
            self._expire()

    def _check(self, fd: int, hung_up: bool = False) -> None:
        with self._lock:
            item = self._waiting.get(fd)
        if item is None:
            return
        conn, _, buffered = item
        try:
            data = conn.socket.recv(MAX_HEADER_BYTES + 1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data and not buffered:  # the client left (or broke off) before a request
            self._forget(fd)
            conn.close()
            return
        hung_up = hung_up or not data
        data = buffered + data
        if _headers_complete(data) or len(data) > MAX_HEADER_BYTES or hung_up:
            # Past the size, cheroot reads what is there and answers 413/414 at once; a client
            # that stopped sending half-way gets cheroot's answer to what it sent, at once.
            self._forget(fd)
            try:
                conn.socket.settimeout(self._timeout)
            except OSError:
                conn.close()
                return
            self._dispatch(conn)

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [fd for fd, (_, deadline, _) in self._waiting.items() if deadline <= now]
        for fd in late:
            conn = self._forget(fd)
            if conn is None:
                continue
            answer = error_answer(
                "HTTP/1.1",
                "408 Request Timeout",
                f"the request line and headers did not arrive within {self.seconds:g} s",
                close=True,
            )
            _answer_and_close(conn, answer)

    def _forget(self, fd: int) -> Any:
        with self._lock:
            item = self._waiting.pop(fd, None)
        if item is not None:
            try:
                self._epoll.unregister(fd)
            except (OSError, ValueError):
                pass
        return item[0] if item is not None else None

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        with self._lock:
            waiting = list(self._waiting)
        for fd in waiting:
            conn = self._forget(fd)
            if conn is not None:
                conn.close()
        self._epoll.close()


class ApplianceServer(wsgi.Server):
    """cheroot's WSGI server with the header gate and JSON refusals."""

    ConnectionClass = JsonConnection

    def __init__(
        self,
        *args: Any,
        header_seconds: float = HEADER_SECONDS,
        listening: socket.socket | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.listening = listening  # bound and listening already (appliance/backend/listen.py)
        self.max_request_header_size = MAX_HEADER_BYTES
        self.gate: HeaderGate | None = None
        if HeaderGate.available():
            self.gate = HeaderGate(super().process_conn, self.timeout, header_seconds)
        else:  # no epoll: cheroot's own behaviour (the socket timeout bounds each wait)
            logger.info("no epoll here: request headers are read without a deadline of their own")

    def bind(self, family: Any, type: Any, proto: Any = 0) -> socket.socket:
        if self.listening is None:
            return super().bind(family, type, proto)
        self.socket = self.listening  # cheroot's prepare() then sets its timeout and listens
        self.bind_addr = self.resolve_real_bind_addr(self.socket)
        return self.socket

    def prepare(self) -> None:
        super().prepare()
        if self.gate is not None:
            self.gate.start()

    def process_conn(self, conn: Any) -> None:
        if self.gate is None:
            super().process_conn(conn)
            return
        # A request pipelined behind the last one may already sit in cheroot's read buffer
        # (peek(0) returns just that, never reading the socket).
        buffered = bytes(conn.rfile.peek(0)) if conn.rfile.has_data() else b""
        if _headers_complete(buffered) or len(buffered) > MAX_HEADER_BYTES:
            super().process_conn(conn)
        else:
            self.gate.add(conn, buffered)

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self.gate is not None:
                self.gate.stop()
