"""Follow a run's log from a running server over HTTP, stdlib only (a client of
``GET /api/runs/<id>/log``; the tests' reader of that route). ``appliance log --follow`` does not
use it: it reads the data folder with the route's own tail (``streams.tail.tail_log``).

``follow_log(url, token, run_id, offset, write)`` calls ``write(bytes)`` for every block as it
arrives and returns the byte offset reached once the run ended and every byte arrived. A dropped
connection resumes from the bytes already received; a 503 (too many streams) and a server that
went away for a moment are retried with backoff. Other errors raise the server's
``{"error", "hint"}`` as an ApplianceError subclass carrying the same status.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from appliance import errors

logger = logging.getLogger(__name__)

BACKOFF_START = 0.25
BACKOFF_MAX = 5.0
READ_SIZE = 256 * 1024
_BY_STATUS = {
    cls.status: cls
    for cls in (
        errors.BadRequest,
        errors.Unauthorized,
        errors.Forbidden,
        errors.NotFound,
        errors.RangeNotSatisfiable,
    )
}


def _error(status: int, body: bytes) -> errors.ApplianceError:
    try:
        payload = json.loads(body)
        message, hint = payload["error"], payload.get("hint")
    except (ValueError, KeyError, TypeError):
        message, hint = f"the server answered HTTP {status}", None
    return _BY_STATUS.get(status, errors.ApplianceError)(message, hint)


def follow_log(
    url: str,
    token: str,
    run_id: int,
    offset: int = 0,
    write: Callable[[bytes], object] = lambda data: None,
    *,
    follow: bool = True,
    timeout: float = 60.0,
    give_up_after: float = 60.0,
) -> int:
    """Stream the log of ``run_id`` from byte ``offset`` into ``write``; return the end offset.

    ``url`` and ``token`` come from ``<data-dir>/server.json``. ``give_up_after`` bounds how
    long the server may stay unreachable (or busy) before the last error is raised.
    """
    parts = urlsplit(url)
    backoff = BACKOFF_START
    failing_since: float | None = None
    while True:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        progressed = False
        try:
            conn.request(
                "GET",
                f"/api/runs/{run_id}/log?offset={offset}&follow={int(follow)}",
                headers={"Authorization": f"Bearer {token}"},
            )
            resp = conn.getresponse()
            if resp.status == 200:
                while chunk := resp.read1(READ_SIZE):
                    offset += len(chunk)
                    progressed = True
                    write(chunk)
                return offset
            body = resp.read()
            if resp.status != 503:
                raise _error(resp.status, body)
            problem = "the server is busy (503)"
        except (OSError, http.client.HTTPException) as e:
            problem = f"{type(e).__name__}: {e}"  # dropped or refused: resume from offset
        finally:
            conn.close()
        now = time.monotonic()
        if progressed or failing_since is None:
            failing_since, backoff = now, BACKOFF_START
        elif now - failing_since > give_up_after:
            raise errors.ServiceUnavailable(
                f"cannot follow the log of run {run_id}: {problem}",
                "Check that the appliance is running (server.json), then try again.",
            )
        logger.info("log of run %s interrupted at byte %d (%s); retrying", run_id, offset, problem)
        time.sleep(backoff)  # retry backoff
        backoff = min(backoff * 2, BACKOFF_MAX)
