"""Small helpers routes share: reading a bounded JSON body, query parameters, JSON answers."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bottle import BaseRequest

from appliance.errors import BadRequest, PayloadTooLarge
from appliance.validate import MAX_STRING_CHARS, SQLITE_INT_MAX, check_json_value

# A body that stops arriving (a Content-Length larger than what is sent) is answered 400 once
# this many seconds pass without a byte, instead of holding a worker until the socket timeout.
BODY_IDLE_SECONDS = 5.0


def content_length(request: BaseRequest) -> int | None:
    raw = request.environ.get("CONTENT_LENGTH") or ""
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError as e:
        raise BadRequest("Content-Length is not a number", "Send a valid request.") from e
    if value < 0:
        raise BadRequest("Content-Length is negative", "Send a valid request.")
    return value


# An oversized body up to this size is read and dropped before the 413 goes out: a client still
# sending would otherwise get a broken pipe instead of the answer and its hint.
DRAIN_LIMIT = 16 * 1024 * 1024


def discard(stream: Any, length: int) -> None:
    """Read and drop up to ``length`` bytes (at most DRAIN_LIMIT) of a refused body."""
    remaining = min(length, DRAIN_LIMIT)
    while remaining > 0:
        chunk = stream.read(min(65536, remaining))
        if not chunk:
            return
        remaining -= len(chunk)


def _client_socket(environ: dict) -> socket.socket | None:
    """cheroot's socket under ``wsgi.input`` (KnownLengthRFile -> StreamReader -> SocketIO)."""
    raw = getattr(getattr(environ.get("wsgi.input"), "rfile", None), "raw", None)
    sock = getattr(raw, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _stop_reading(environ: dict, sock: socket.socket) -> None:
    """After a body timed out: let the answer go out, then let the connection end. cheroot
    drains the rest of the body before answering, and a SocketIO that timed out refuses every
    later read: the client would get no answer at all. With reading shut down, the drain ends
    at once (whatever arrived is consumed), the answer goes out, and the connection closes."""
    raw = getattr(getattr(environ.get("wsgi.input"), "rfile", None), "raw", None)
    if hasattr(raw, "_timeout_occurred"):
        raw._timeout_occurred = False  # the next read sees the end below, not an error
    try:
        sock.shutdown(socket.SHUT_RD)  # keep-alive reads end: the connection closes
    except OSError:
        pass


@contextmanager
def body_deadline(environ: dict, seconds: float = BODY_IDLE_SECONDS) -> Iterator[None]:
    """While reading a body: a client silent for ``seconds`` gets a 400, not a stuck worker
    and a 500. Only the wait for the next byte is shortened; the socket's own timeout (which
    long-lived streams rely on) is put back afterwards."""
    sock = _client_socket(environ)
    before = sock.gettimeout() if sock is not None else None
    if sock is not None:
        sock.settimeout(seconds)
    try:
        yield
    except (TimeoutError, ConnectionError) as e:
        if sock is not None:
            _stop_reading(environ, sock)
        raise BadRequest(
            f"the request body stopped arriving (nothing for {seconds:g} s)",
            "Send as many bytes as Content-Length says.",
        ) from e
    finally:
        if sock is not None:
            try:
                sock.settimeout(before)
            except OSError:
                pass


def read_body(request: BaseRequest, max_bytes: int) -> bytes:
    """The request body, refusing more than ``max_bytes`` before reading it all."""
    length = content_length(request)
    too_big = PayloadTooLarge(
        f"request body is larger than {max_bytes} bytes", f"Send at most {max_bytes} bytes."
    )
    stream = request.environ["wsgi.input"]
    with body_deadline(request.environ):
        if length is not None and length > max_bytes:
            discard(stream, length)
            raise too_big
        data = stream.read(length if length is not None else max_bytes + 1)
    if len(data) > max_bytes:
        raise too_big
    if length is not None and len(data) < length:
        raise BadRequest(
            f"the request body ended after {len(data)} of {length} bytes",
            "Send as many bytes as Content-Length says.",
        )
    return data


def json_body(request: BaseRequest, max_bytes: int, max_string: int = MAX_STRING_CHARS) -> Any:
    """The body as JSON, bounded (see validate.check_json_value): at most ``max_bytes``, nested
    at most 64 deep, integers in SQLite's range, finite numbers, strings without lone
    surrogates and at most ``max_string`` characters."""
    ctype = request.environ.get("CONTENT_TYPE", "")
    if ctype and not ctype.split(";")[0].strip().lower().endswith("json"):
        raise BadRequest(
            f"Content-Type {ctype!r} is not JSON", "Send Content-Type: application/json."
        )
    data = read_body(request, max_bytes)
    if not data.strip():
        raise BadRequest("the request body is empty", "Send a JSON object.")
    try:
        # NaN and Infinity parse as floats so that check_json_value refuses them by where
        # they are ("the body.values.port is not a finite number")
        value = json.loads(data, parse_constant=float)
    except RecursionError as e:
        raise BadRequest("the body is nested too deeply", "Nest at most 64 levels.") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(
            f"the body is not valid JSON: {str(e)[:200]}", "Send a valid JSON object."
        ) from e
    check_json_value(value, "the body", max_string=max_string)
    return value


def query_int(
    request: BaseRequest,
    name: str,
    default: int,
    low: int = 0,
    high: int = SQLITE_INT_MAX,
    what: str = "",
) -> int:
    """An integer query parameter: ASCII digits (an optional '-'), within ``low..high``."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    text = raw.strip()
    digits = text[1:] if text[:1] == "-" else text
    unit = f" of {what}" if what else ""
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        raise BadRequest(
            f"query parameter {name}={raw[:40]!r} is not an integer",
            f"Send {name} as a whole number{unit} (ASCII digits).",
        )
    value = int(text)
    if not low <= value <= high:
        raise BadRequest(
            f"query parameter {name}={value} is out of range", f"Use {low}..{high}{unit}."
        )
    return value
