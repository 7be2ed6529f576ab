"""follow_log: the stdlib client behind `appliance log RUN --follow`."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from appliance.backend.server import LocalServer
from appliance.context import Context
from appliance.errors import NotFound, RangeNotSatisfiable
from appliance.jobs.streams.client import follow_log
from tests.streams.helpers import append, make_run, set_state, wait_for


def test_follow_resumes_after_a_dropped_connection(ctx: Context, server: LocalServer) -> None:
    slots = server.app.bottle.config["appliance.stream_slots"]
    run_id = make_run(ctx, "running")
    log = ctx.paths.run_log(run_id)
    append(log, "première ligne ✓\n".encode() * 1000)
    received = bytearray()
    result: dict[str, int] = {}
    t = threading.Thread(
        target=lambda: result.setdefault(
            "end", follow_log(server.url, server.token, run_id, 0, received.extend)
        )
    )
    t.start()
    wait_for(lambda: len(received) == log.stat().st_size, 10, "the first bytes")
    (first,) = slots.snapshot()
    dup = socket.socket(fileno=os.dup(first.fd))
    dup.shutdown(socket.SHUT_RDWR)
    dup.close()
    wait_for(lambda: any(s.id != first.id for s in slots.snapshot()), 10, "a reconnection")
    append(log, b"after the drop\n" * 100)
    set_state(ctx, run_id, "succeeded")
    t.join(30)
    assert bytes(received) == log.read_bytes()
    assert result["end"] == log.stat().st_size


def test_follow_from_an_offset_and_without_follow(ctx: Context, server: LocalServer) -> None:
    run_id = make_run(ctx, "running")
    append(ctx.paths.run_log(run_id), b"0123456789\npartial")
    out = bytearray()
    end = follow_log(server.url, server.token, run_id, 4, out.extend, follow=False)
    assert (bytes(out), end) == (b"456789\npartial", 18)


def test_errors_carry_the_servers_hint(ctx: Context, server: LocalServer) -> None:
    run_id = make_run(ctx, "succeeded")
    with pytest.raises(NotFound) as e:
        follow_log(server.url, server.token, 987654, 0)
    assert e.value.hint
    with pytest.raises(RangeNotSatisfiable):
        follow_log(server.url, server.token, run_id, 5)
