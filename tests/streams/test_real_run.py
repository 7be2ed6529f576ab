"""Both streams and the follow client while a real demo install (real Ansible) writes."""

from __future__ import annotations

import json
import threading
import time

import pytest

from appliance.backend.server import LocalServer
from appliance.context import Context
from appliance.jobs.streams.client import follow_log
from appliance.store.models import RunEvent
from appliance.store.runs import current_state as run_state
from tests.streams.helpers import Stream
from tests.support.client import Api

pytestmark = pytest.mark.slow


def test_streams_follow_a_real_install_to_its_end(
    ctx: Context, server: LocalServer, api: Api, manager, import_bundle, local_site
) -> None:
    import_bundle("demo-platform@1.0.0")
    reply = api.post(
        "/api/runs", {"site": local_site.name, "bundle": "demo-platform", "version": "1.0.0"}
    )
    assert reply.status == 201, reply.body
    run_id = reply.json()["id"]

    log = Stream(server.url, server.token, f"/api/runs/{run_id}/log", timeout=120)
    events = Stream(server.url, server.token, f"/api/runs/{run_id}/events", timeout=120)
    states_at_arrival: list[str | None] = []
    followed = bytearray()
    results: dict[str, bytes | int] = {}

    def read_log() -> None:
        while not log.ended:
            if log.read_some():
                states_at_arrival.append(run_state(run_id))
        results["log"] = bytes(log.data)

    def read_follow() -> None:
        results["end"] = follow_log(server.url, server.token, run_id, 0, followed.extend)

    threads = [
        threading.Thread(target=read_log),
        threading.Thread(target=lambda: results.setdefault("events", events.read_to_end(300))),
        threading.Thread(target=read_follow),
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 300
    for t in threads:
        t.join(max(0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "streams did not end with the run"

    state = run_state(run_id)
    assert state == "succeeded"
    on_disk = ctx.paths.run_log(run_id).read_bytes()
    assert results["log"] == on_disk == bytes(followed)
    assert results["end"] == len(on_disk)
    assert b"PLAY RECAP" in on_disk
    assert len(states_at_arrival) > 1 and states_at_arrival[0] == "running"  # live, not after

    lines = [json.loads(x) for x in results["events"].decode().splitlines() if x]
    eof = lines[-1]
    stored = RunEvent.select().where(RunEvent.run == run_id).count()
    assert eof == {"eof": True, "state": "succeeded", "count": stored}
    assert [e["seq"] for e in lines[:-1]] == sorted(e["seq"] for e in lines[:-1])
    assert any(e["event"] == "runner_on_ok" for e in lines[:-1])
    # "step" is the step's idx in the run, the same numbering as GET /api/runs/<id> uses
    steps = {s["idx"] for s in api.get(f"/api/runs/{run_id}").json()["steps"]}
    assert {e["step"] for e in lines[:-1]} == steps
    log.close()
    events.close()
