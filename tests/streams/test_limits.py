"""Bounded resources: the stream cap, API calls beside open streams, departed clients."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.backend.server import LocalServer
from appliance.context import Context, open_context
from appliance.settings import load_settings
from tests.streams.helpers import Stream, append, make_run, wait_for
from tests.support.client import Api


def active(api: Api) -> int:
    return api.get("/api/streams").json()["active"]


def open_idle_streams(ctx: Context, server: LocalServer, count: int, kind: str) -> list[Stream]:
    """``count`` streams of running runs, each past its first bytes and idle at the end."""
    streams = []
    for _ in range(count):
        run_id = make_run(ctx, "running")
        append(ctx.paths.run_log(run_id), b"hello\n")
        s = Stream(server.url, server.token, f"/api/runs/{run_id}/{kind}?after=0")
        streams.append(s)
    for s in streams:
        assert s.status == 200
        if kind == "log":
            s.read_until(lambda b: b == b"hello\n")
    return streams


def test_twenty_open_streams_leave_the_api_responsive(ctx: Context, server: LocalServer) -> None:
    api = Api(server.url, server.token)
    streams = open_idle_streams(ctx, server, 20, "log")
    assert active(api) == 20
    for _ in range(30):
        started = time.monotonic()
        reply = api.get("/api/sites")
        assert reply.status == 200
        assert time.monotonic() - started < 1.0
    for s in streams:
        s.close()
    wait_for(lambda: active(api) == 0, 10, "slots to be released")


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[tuple[Context, LocalServer]]:
    data = tmp_path / "capped"
    context = open_context(load_settings(cli={"data_dir": str(data), "max_streams": 3}, env={}))
    srv = LocalServer(context).start()
    context.services["http"] = srv
    yield context, srv
    context.close()


def test_the_cap_answers_503_with_a_hint_and_frees_on_close(capped) -> None:
    ctx, server = capped
    api = Api(server.url, server.token)
    streams = open_idle_streams(ctx, server, 3, "log")
    run_id = make_run(ctx, "succeeded")
    for kind in ("log", "events"):
        reply = api.get(f"/api/runs/{run_id}/{kind}")
        assert reply.status == 503
        assert "max_streams" in reply.json()["hint"]
    assert api.get("/api/sites").status == 200  # ordinary calls still answer
    streams[0].close()
    wait_for(lambda: active(api) == 2, 10, "one slot to free")
    reply = api.get(f"/api/runs/{run_id}/log")
    assert reply.status == 200
    for s in streams[1:]:
        s.close()
    wait_for(lambda: active(api) == 0, 10, "every slot to free")


@pytest.mark.parametrize("kind", ["log", "events"])
def test_clients_that_leave_an_idle_stream_release_it(
    ctx: Context, server: LocalServer, kind: str
) -> None:
    api = Api(server.url, server.token)
    streams = open_idle_streams(ctx, server, 10, kind)
    assert active(api) == 10
    started = time.monotonic()
    for s in streams:
        s.close()
    wait_for(lambda: active(api) == 0, 5, "idle streams to notice their clients left")
    assert time.monotonic() - started < 5


def test_a_client_waiting_for_a_log_not_yet_written_is_noticed_leaving(
    ctx: Context, server: LocalServer
) -> None:
    api = Api(server.url, server.token)
    run_id = make_run(ctx, "queued")  # no output.log yet: no headers yet either
    s = Stream(server.url, server.token, f"/api/runs/{run_id}/log")
    wait_for(lambda: active(api) == 1, 5, "the stream to open")
    s.close()
    wait_for(lambda: active(api) == 0, 5, "the slot to free")


def test_a_client_leaving_mid_replay_releases_its_slot(ctx: Context, server: LocalServer) -> None:
    api = Api(server.url, server.token)
    run_id = make_run(ctx, "succeeded")
    append(ctx.paths.run_log(run_id), b"x" * 79 + b"\n" * 1 + (b"y" * 79 + b"\n") * 300_000)
    s = Stream(server.url, server.token, f"/api/runs/{run_id}/log")
    s.read_until(lambda b: len(b) > 100_000)
    s.close()
    wait_for(lambda: active(api) == 0, 5, "the replay to stop")
