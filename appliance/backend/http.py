"""Small helpers routes share: reading a bounded JSON body, query parameters, JSON answers."""

from __future__ import annotations

import json
from typing import Any

from bottle import BaseRequest

from appliance.errors import BadRequest, PayloadTooLarge


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


def read_body(request: BaseRequest, max_bytes: int) -> bytes:
    """The request body, refusing more than ``max_bytes`` before reading it all."""
    length = content_length(request)
    too_big = PayloadTooLarge(
        f"request body is larger than {max_bytes} bytes", f"Send at most {max_bytes} bytes."
    )
    stream = request.environ["wsgi.input"]
    if length is not None and length > max_bytes:
        discard(stream, length)
        raise too_big
    data = stream.read(length if length is not None else max_bytes + 1)
    if len(data) > max_bytes:
        raise too_big
    return data


def json_body(request: BaseRequest, max_bytes: int) -> Any:
    ctype = request.environ.get("CONTENT_TYPE", "")
    if ctype and not ctype.split(";")[0].strip().lower().endswith("json"):
        raise BadRequest(
            f"Content-Type {ctype!r} is not JSON", "Send Content-Type: application/json."
        )
    data = read_body(request, max_bytes)
    if not data.strip():
        raise BadRequest("the request body is empty", "Send a JSON object.")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"the body is not valid JSON: {e}", "Send a valid JSON object.") from e


def query_int(
    request: BaseRequest, name: str, default: int, low: int = 0, high: int = 10**12
) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise BadRequest(
            f"query parameter {name}={raw!r} is not an integer", f"Send {name} as a whole number."
        ) from e
    if not low <= value <= high:
        raise BadRequest(f"query parameter {name}={value} is out of range", f"Use {low}..{high}.")
    return value
