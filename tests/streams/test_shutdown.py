"""`appliance serve` stops promptly and cleanly while streams are open and idle."""

from __future__ import annotations

import http.client
import time

from appliance.context import Context
from tests.streams.helpers import Stream, append, make_run
from tests.support.processes import ServerProcess


def test_sigterm_with_open_idle_streams(ctx: Context) -> None:
    server = ServerProcess(ctx.paths.root)
    try:
        # made after start-up: the server's recovery interrupts runs left running before it
        run_id = make_run(ctx, "running")
        append(ctx.paths.run_log(run_id), b"waiting...\n")
        token = server.info["token"]
        log = Stream(server.url, token, f"/api/runs/{run_id}/log")
        events = Stream(server.url, token, f"/api/runs/{run_id}/events")
        log.read_until(lambda b: b == b"waiting...\n")
        assert events.read_some() == b"\n"
        started = time.monotonic()
    finally:
        code = server.terminate(timeout=30)
    assert code == 0
    assert time.monotonic() - started < 10
    for s in (log, events):
        try:
            s.read_to_end(timeout=10)
        except (OSError, http.client.HTTPException):
            pass  # cut short by the server going away: the client resumes elsewhere
        s.close()
