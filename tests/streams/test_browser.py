"""streams.js in a real browser (Debian's chromium via Playwright): exact multi-byte replay and
a connection dropped mid-character that resumes without loss or duplication."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from appliance.backend.server import LocalServer
from appliance.context import Context
from tests.streams.helpers import append, make_run, set_state, wait_for
from tests.streams.test_log_stream import straddling_log

pytestmark = pytest.mark.slow

START_LOG = """async ([runId, offset]) => {
  const { streamLog } = await import("/static/js/streams.js");
  window.pieces = []; window.offsets = []; window.received = offset; window.errors = [];
  window.done = streamLog(runId, {
    offset,
    onText(text, at) { window.pieces.push(text); window.offsets.push(at); window.received = at; },
    onEnd(state) { window.endState = state; },
    onError(err) { window.errors.push(String(err)); },
  });
  return true;
}"""
FINISH = """async () => {
  const state = await window.done;
  return { text: window.pieces.join(""), offsets: window.offsets, state, errors: window.errors,
           endState: window.endState };
}"""


@pytest.fixture
def page(server: LocalServer, browser) -> Iterator:
    context = browser.new_context()  # its own cookies
    try:
        pg = context.new_page()
        pg.goto(server.login_url)  # sets the HttpOnly cookie, lands on /
        yield pg
    finally:
        context.close()


def test_multibyte_log_replays_exactly(ctx: Context, server: LocalServer, page) -> None:
    run_id = make_run(ctx, "succeeded")
    data = straddling_log()
    append(ctx.paths.run_log(run_id), data)
    page.evaluate(START_LOG, [run_id, 0])
    result = page.evaluate(FINISH)
    assert result["errors"] == []
    assert result["text"] == data.decode()
    assert result["offsets"][-1] == len(data)
    assert result["offsets"] == sorted(result["offsets"])
    assert result["state"] == result["endState"] == "succeeded"


def test_dropped_connection_resumes_mid_character(ctx: Context, server: LocalServer, page) -> None:
    slots = server.app.bottle.config["appliance.stream_slots"]
    run_id = make_run(ctx, "running")
    log = ctx.paths.run_log(run_id)
    head = "".join(f"line {i} — ünïcödé ✓\n" for i in range(2000)).encode()
    long_line = ("€" * 40_000).encode()  # 120,000 bytes, no newline yet
    append(log, head + long_line)
    # While running, a line longer than a block goes out as a whole 64 KiB block: 65536 is not a
    # multiple of 3, so the bytes received end inside a "€".
    cut = len(head) + 64 * 1024
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/log?" in r.url else None)
    page.evaluate(START_LOG, [run_id, 0])
    wait_for(lambda: page.evaluate("window.received") == cut, 10, "the first blocks")
    with pytest.raises(UnicodeDecodeError):
        (head + long_line)[len(head) : cut].decode()

    (first,) = slots.snapshot()
    assert first.fd is not None
    dup = socket.socket(fileno=os.dup(first.fd))
    dup.shutdown(socket.SHUT_RDWR)  # the connection drops under the browser
    dup.close()
    wait_for(lambda: any(s.id != first.id for s in slots.snapshot()), 10, "a reconnection")
    append(log, b" end of the long line\n" + "more ✓ after the drop\n".encode() * 500)
    set_state(ctx, run_id, "succeeded")
    result = page.evaluate(FINISH)

    assert result["errors"] == []
    assert result["text"] == log.read_bytes().decode()  # nothing lost, nothing twice
    assert result["offsets"][-1] == log.stat().st_size
    assert result["state"] == "succeeded"
    assert requests[0].endswith("/log?offset=0")
    assert any(url.endswith(f"/log?offset={cut}") for url in requests[1:])
    wait_for(lambda: slots.active == 0, 5, "slots to free")
