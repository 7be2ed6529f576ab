"""GET /api/runs/<id>/events: NDJSON, live, ending with an eof line."""

from __future__ import annotations

import json

from appliance.backend.server import LocalServer
from appliance.context import Context
from tests.streams.helpers import Stream, add_events, make_run, set_state, wait_for

FIELDS = {
    "seq",
    "run",
    "step",
    "counter",
    "event",
    "host",
    "task",
    "status",
    "changed",
    "duration",
    "stdout",
    "created_at",
}


def lines(body: bytes) -> list[dict]:
    assert body.endswith(b"\n")
    return [json.loads(line) for line in body.decode().splitlines()]


def test_finished_run_replays_every_event_then_eof(ctx: Context, server: LocalServer) -> None:
    run_id = make_run(ctx, "running")
    ids = add_events(ctx, run_id, 1200)  # more than one query batch
    add_events(ctx, make_run(ctx, "running"), 5)  # another run's events never appear
    set_state(ctx, run_id, "succeeded")
    s = Stream(server.url, server.token, f"/api/runs/{run_id}/events")
    assert s.status == 200
    assert s.header("Content-Type") == "application/x-ndjson"
    items = lines(s.read_to_end())
    assert items[-1] == {"eof": True, "state": "succeeded", "count": 1200}
    events = items[:-1]
    assert [e["seq"] for e in events] == ids
    assert set(events[0]) == FIELDS
    assert events[3]["task"] == "task 3 ✓" and events[3]["changed"] is True
    s.close()


def test_after_seq_and_follow_0(ctx: Context, server: LocalServer) -> None:
    run_id = make_run(ctx, "running")
    ids = add_events(ctx, run_id, 10)
    s = Stream(server.url, server.token, f"/api/runs/{run_id}/events?after={ids[6]}&follow=0")
    items = lines(s.read_to_end(timeout=5))
    assert [e["seq"] for e in items[:-1]] == ids[7:]
    assert items[-1] == {"eof": True, "state": "running", "count": 3}
    s.close()


def test_live_events_arrive_and_eof_follows_the_state(ctx: Context, server: LocalServer) -> None:
    run_id = make_run(ctx, "running")
    first = add_events(ctx, run_id, 2)
    s = Stream(server.url, server.token, f"/api/runs/{run_id}/events?after={first[0]}")
    s.read_until(lambda b: b.count(b"\n") == 1)
    for batch in range(5):
        add_events(ctx, run_id, 3, start=10 * batch)
        want = 1 + 3 * (batch + 1)
        s.read_until(lambda b, want=want: b.count(b"\n") == want, timeout=5)
    assert s.still_open_after(0.6)  # running: no eof yet
    last = add_events(ctx, run_id, 1)
    set_state(ctx, run_id, "interrupted")
    items = lines(s.read_to_end(timeout=10))
    assert items[-1] == {"eof": True, "state": "interrupted", "count": 17}
    assert items[-2]["seq"] == last[0]
    seqs = [e["seq"] for e in items[:-1]]
    assert seqs == sorted(set(seqs))
    s.close()


def test_bad_after_is_400(ctx: Context, server: LocalServer) -> None:
    run_id = make_run(ctx, "succeeded")
    for query in ("after=x", "after=-5"):
        s = Stream(server.url, server.token, f"/api/runs/{run_id}/events?{query}")
        assert s.status == 400
        assert json.loads(s.open().read())["hint"]
        s.close()


def test_event_stream_of_finished_run_without_events(ctx: Context, server: LocalServer) -> None:
    run_id = make_run(ctx, "failed")
    s = Stream(server.url, server.token, f"/api/runs/{run_id}/events")
    assert lines(s.read_to_end(timeout=5)) == [{"eof": True, "state": "failed", "count": 0}]
    s.close()
    wait_for(
        lambda: server.app.bottle.config["appliance.stream_slots"].active == 0,
        what="slots to be free",
    )
