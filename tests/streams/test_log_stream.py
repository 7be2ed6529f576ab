"""GET /api/runs/<id>/log against the real server on loopback, with real sockets."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from appliance.backend.server import LocalServer
from appliance.context import Context
from tests.streams.helpers import Stream, append, make_run, set_state, wait_for
from tests.support.client import Api

BLOCK = 64 * 1024


def straddling_log() -> bytes:
    """~300 KiB of mixed text where a 4-byte and a 3-byte character straddle block edges."""
    out = bytearray()
    n = 0
    while len(out) < BLOCK - 2:
        out += f"line {n:06d} ascii padding .................................\n".encode()
        n += 1
    del out[BLOCK - 2 :]
    out += "𝄞".encode()  # 4 bytes at BLOCK-2 .. BLOCK+1: split by the first block boundary
    out += b"\n"
    while len(out) < 2 * BLOCK - 1:
        out += "ünïcödé line — €uro ✓ 日本語\n".encode()
    del out[2 * BLOCK - 1 :]
    out += "€".encode() + b"\n"  # 3 bytes at 2*BLOCK-1: split again
    while len(out) < 300_000:
        out += f"tail {len(out)} 😀 emoji line\n".encode()
    out += "last line without newline 🎉".encode()
    return bytes(out)


@pytest.fixture
def finished_log(ctx: Context) -> tuple[int, bytes]:
    run_id = make_run(ctx, "succeeded")
    data = straddling_log()
    append(ctx.paths.run_log(run_id), data)
    return run_id, data


def get(server: LocalServer, path: str) -> Stream:
    return Stream(server.url, server.token, path)


def test_replay_from_zero_is_the_file_byte_for_byte(server, finished_log) -> None:
    run_id, data = finished_log
    assert data[BLOCK - 2 : BLOCK + 2].decode() == "𝄞"
    s = get(server, f"/api/runs/{run_id}/log")
    assert s.status == 200
    assert s.header("Content-Type") == "text/plain; charset=utf-8"
    assert s.header("X-Content-Type-Options") == "nosniff"
    assert s.header("X-Log-Offset") == "0"
    assert s.read_to_end() == data
    s.close()


@pytest.mark.parametrize("where", [1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, -1, 0])
def test_resume_from_any_offset_including_mid_character(server, finished_log, where) -> None:
    run_id, data = finished_log
    offset = where if where >= 0 else len(data) + where
    if where == 0:
        offset = len(data)  # the very end: an empty, finished body
    s = get(server, f"/api/runs/{run_id}/log?offset={offset}")
    assert s.status == 200
    assert s.header("X-Log-Offset") == str(offset)
    assert s.read_to_end() == data[offset:]
    s.close()


def test_resume_mid_character_offsets(server, finished_log) -> None:
    run_id, data = finished_log
    for offset in (BLOCK - 1, BLOCK, 2 * BLOCK):  # inside 𝄞 and €: bytes are bytes
        with pytest.raises(UnicodeDecodeError):
            data[offset : offset + 4].decode()
    offsets = [BLOCK - 1, 2 * BLOCK, len(data) - 3]
    for offset in offsets:
        s = get(server, f"/api/runs/{run_id}/log?offset={offset}&follow=1")
        assert s.read_to_end() == data[offset:]
        s.close()


def test_live_lines_arrive_while_a_writer_appends_and_the_end_follows_the_state(
    ctx: Context, server: LocalServer
) -> None:
    run_id = make_run(ctx, "running")
    log = ctx.paths.run_log(run_id)
    append(log, b"first line\n")
    s = get(server, f"/api/runs/{run_id}/log")
    assert s.read_until(lambda b: b == b"first line\n") == b"first line\n"

    for i in range(200):  # each line must arrive before the next is written
        line = f"live {i} ✓\n".encode()
        append(log, line)
        s.read_until(lambda b, line=line: b.endswith(line), timeout=5)

    append(log, b"partial, no newline yet")  # an unfinished line waits while running
    assert s.still_open_after(1.2)  # > the 0.5 s state check: no early end while running
    assert not s.data.endswith(b"yet")
    append(log, " — done 🎉".encode())  # still no newline: the run ends after it
    set_state(ctx, run_id, "failed")
    body = s.read_to_end(timeout=10)
    assert body == log.read_bytes()
    assert body.endswith(" — done 🎉".encode())
    s.close()


def test_concurrent_writer_thread_all_bytes_then_eof(ctx: Context, server: LocalServer) -> None:
    run_id = make_run(ctx, "running")
    log = ctx.paths.run_log(run_id)
    append(log, b"")
    s = get(server, f"/api/runs/{run_id}/log")

    def writer() -> None:
        for i in range(3000):
            append(log, f"{i:05d} {'x' * (i % 97)}\n".encode())
        set_state(ctx, run_id, "succeeded")  # after the last append, as the run engine does

    t = threading.Thread(target=writer)
    t.start()
    body = s.read_to_end(timeout=30)
    t.join()
    assert body == log.read_bytes()
    s.close()


def test_follow_0_returns_what_exists_and_ends(ctx: Context, server: LocalServer) -> None:
    run_id = make_run(ctx, "running")
    log = ctx.paths.run_log(run_id)
    append(log, "a\nb\nhalf a line ½".encode())
    s = get(server, f"/api/runs/{run_id}/log?follow=0")
    assert s.read_to_end(timeout=5) == log.read_bytes()
    s.close()
    s = get(server, f"/api/runs/{run_id}/log?follow=0&offset=2")
    assert s.read_to_end(timeout=5) == log.read_bytes()[2:]
    s.close()


def test_a_log_that_does_not_exist_yet_streams_once_it_appears(
    ctx: Context, server: LocalServer
) -> None:
    run_id = make_run(ctx, "queued")
    log: Path = ctx.paths.run_log(run_id)
    assert not log.exists()
    s = get(server, f"/api/runs/{run_id}/log")  # headers come with the first bytes
    result: dict = {}
    reader = threading.Thread(target=lambda: result.setdefault("body", s.read_to_end(30)))
    reader.start()
    wait_for(
        lambda: Api(server.url, server.token).get("/api/streams").json()["active"] == 1,
        what="the stream to be open",
    )
    set_state(ctx, run_id, "running")
    append(log, b"step 1\n")
    append(log, b"step 2\n")
    set_state(ctx, run_id, "succeeded")
    reader.join(30)
    assert result["body"] == b"step 1\nstep 2\n"
    s.close()


def test_finished_run_without_log_ends_empty(ctx: Context, server: LocalServer) -> None:
    run_id = make_run(ctx, "cancelled")
    s = get(server, f"/api/runs/{run_id}/log")
    assert s.status == 200
    assert s.read_to_end(timeout=5) == b""
    s.close()


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("offset=abc", 400),
        ("offset=-1", 400),
        ("offset=1.5", 400),
        ("follow=maybe", 400),
        ("offset=999999", 416),
    ],
)
def test_bad_offsets(server, finished_log, query: str, status: int) -> None:
    run_id, _data = finished_log
    reply = Api(server.url, server.token).get(f"/api/runs/{run_id}/log?{query}")
    assert reply.status == status
    body = reply.json()
    assert body["error"] and body["hint"]


def test_offset_beyond_size_gives_416_with_the_size(server, finished_log) -> None:
    run_id, data = finished_log
    reply = Api(server.url, server.token).get(f"/api/runs/{run_id}/log?offset={len(data) + 1}")
    assert reply.status == 416
    assert str(len(data)) in reply.json()["hint"]


def test_unknown_run_is_404(server) -> None:
    api = Api(server.url, server.token)
    for path in ("/api/runs/424242/log", "/api/runs/424242/events"):
        reply = api.get(path)
        assert reply.status == 404
        assert reply.json()["hint"]


def test_streams_need_the_token(server, finished_log) -> None:
    run_id, _data = finished_log
    assert Api(server.url).get(f"/api/runs/{run_id}/log", token=False).status == 401
