"""The log's bounded reads (index, lines, range, search) in the domain and over HTTP on the real
server: line numbers exact once indexed, estimates said to be estimates, bounds give 4xx."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.backend.server import LocalServer
from appliance.context import Context
from appliance.jobs.streams import logread
from appliance.jobs.streams.logindex import BLOCK, LogIndex
from tests.streams.helpers import append, make_run
from tests.support.client import Api


def line(i: int) -> bytes:
    if i in (7_000, 30_001):
        return f"\x1b[0;31mfatal: [h{i % 3}]: FAILED! => line {i}\x1b[0m\n".encode()
    if i % 10 == 0:
        return f"\x1b[0;32mchanged: [h{i % 3}] => item {i}\x1b[0m\n".encode()
    return f"ok: [h{i % 3}] => task output line {i} ünï\n".encode()


N = 40_000


@pytest.fixture
def log(tmp_path: Path) -> tuple[Path, list[int]]:
    """A 40k-line log (~1.5 MB, several index blocks) and each line's start offset."""
    path = tmp_path / "output.log"
    starts, data, pos = [], bytearray(), 0
    for i in range(N):
        starts.append(pos)
        b = line(i)
        data += b
        pos += len(b)
    path.write_bytes(bytes(data))
    return path, starts


def test_index_maps_lines_and_offsets_both_ways(log: tuple[Path, list[int]]) -> None:
    path, starts = log
    assert path.stat().st_size > 4 * BLOCK
    index = LogIndex(path)
    assert index.extend(10.0)
    assert index.lines == N and index.end == path.stat().st_size
    for i in (0, 1, 4095, 4096, 12_345, 30_001, N - 1):
        at = index.start_of(i, path.stat().st_size)
        assert (at.offset, at.line, at.exact) == (starts[i], i, True)
        back = index.line_of(starts[i])
        assert (back.line, back.exact) == (i, True)
    assert index.errors == 0 and index.first_error is None  # looked for only when asked
    assert index.scan_errors(10.0)
    assert index.errors == 2 and index.first_error == starts[7_000]


def test_index_is_built_incrementally_and_estimates_until_then(
    log: tuple[Path, list[int]],
) -> None:
    path, starts = log
    size = path.stat().st_size
    ticks = iter(range(10**6))
    index = LogIndex(path, clock=lambda: next(ticks))  # each step spends the whole budget
    assert not index.extend(0.5)
    assert 0 < index.end < size
    far = index.start_of(N - 100, size)
    assert not far.exact and abs(far.line - (N - 100)) < N // 20  # an honest estimate
    assert far.offset in starts  # still a line start
    while not index.extend(0.5):
        pass
    assert index.lines == N and index.start_of(N - 100, size).exact


def test_index_follows_a_growing_log(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    path.write_bytes(b"one\ntwo\nthr")  # an unfinished last line is not counted yet
    index = LogIndex(path)
    assert index.extend(1.0) and index.lines == 2
    append(path, b"ee\nERROR four\n")
    assert index.extend(1.0) and index.lines == 4
    assert index.scan_errors(1.0) and index.first_error == len(b"one\ntwo\nthree\n")
    path.write_bytes(b"new\n")  # replaced by a shorter file: rebuilt
    assert index.extend(1.0) and index.lines == 1
    assert index.scan_errors(1.0) and index.errors == 0 and index.first_error is None


def test_search_both_ways_skips_escape_codes(log: tuple[Path, list[int]]) -> None:
    path, starts = log
    size = path.stat().st_size
    found = logread.search(path, "ITEM 20000", 0, forward=True, size=size, budget=5)
    assert found.offset == starts[20_000]
    found = logread.search(path, "line 3", size, forward=False, size=size, budget=5)
    assert found.offset == starts[39_999]  # "... task output line 39999": the last one
    assert logread.search(path, "0;32m", 0, forward=True, size=size, budget=5).offset is None
    assert logread.search(path, "ÜNÏ", 0, forward=True, size=size, budget=5).offset is None
    assert logread.search(path, "ünï", 0, forward=True, size=size, budget=5).offset == starts[1]


def test_search_stops_at_its_budget_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    filler = b"x" * 99 + b"\n"
    path.write_bytes(filler * 100_000 + b"needle here\n" + filler * 10)  # ~10 MB
    size = path.stat().st_size
    ticks = iter(range(10**6))
    found = logread.search(
        path, "NEEDLE", 0, forward=True, size=size, budget=0.5, clock=lambda: next(ticks)
    )
    assert found.offset is None and found.more and 0 < found.next < size
    while found.more:
        found = logread.search(path, "NEEDLE", found.next, forward=True, size=size, budget=0.5)
    assert found.offset == len(filler) * 100_000
    back = logread.search(
        path, "needle", size, forward=False, size=size, budget=0.5, clock=lambda: next(ticks)
    )
    assert back.offset == len(filler) * 100_000  # the first block back holds it


def test_lines_before_and_after(log: tuple[Path, list[int]]) -> None:
    path, starts = log
    size = path.stat().st_size
    assert logread.lines_before(path, size, 3, 1 << 20) == starts[N - 3]
    assert logread.lines_before(path, starts[5], 10, 1 << 20) == 0
    data = logread.lines_after(path, starts[10], 2, 1 << 20, final=False)
    assert data == line(10) + line(11)


# Over HTTP ------------------------------------------------------------------------------------
@pytest.fixture
def big_run(ctx: Context, log: tuple[Path, list[int]]) -> int:
    run_id = make_run(ctx, "failed")
    ctx.paths.run_log(run_id).parent.mkdir(parents=True, exist_ok=True)
    ctx.paths.run_log(run_id).write_bytes(log[0].read_bytes())
    return run_id


def test_http_index_lines_range_and_search(
    server: LocalServer, big_run: int, log: tuple[Path, list[int]]
) -> None:
    api = Api(server.url, server.token)
    _, starts = log
    base = f"/api/runs/{big_run}/log"
    index = api.get(f"{base}/index?at={starts[123] + 5}").json()
    assert index["complete"] and index["lines"] == N and "errors" not in index
    assert index["at"] == {"offset": starts[123], "line": 123, "exact": True}
    index = api.get(f"{base}/index?errors=1").json()
    assert index["errors_complete"] and index["errors"] == 2
    assert index["first_error"] == {"offset": starts[7_000], "line": 7_000, "exact": True}

    r = api.get(f"{base}/lines?line=20000&before=2&count=3")
    assert r.status == 200 and r.headers["x-log-line"] == "19998"
    assert r.headers["x-log-exact"] == "1" and r.headers["x-log-offset"] == str(starts[19_998])
    assert r.body == b"".join(line(i) for i in range(19_998, 20_003))
    tail = api.get(f"{base}/lines?tail=1&count=2")
    assert tail.body == line(N - 2) + line(N - 1) and tail.headers["x-log-line"] == str(N - 2)
    at = api.get(f"{base}/lines?offset={starts[7_000] + 3}&count=1")
    assert at.body == line(7_000)

    r = api.get(f"{base}?offset={starts[2]}&length=10")
    assert r.body == line(2)[:10] and r.headers["x-log-end"] == str(starts[2] + 10)

    found = api.get(f"{base}/search?q=item+30000&offset={starts[100]}").json()
    assert found["found"] == {"offset": starts[30_000], "line": 30_000, "exact": True}
    back = api.get(f"{base}/search?q=FAILED!&offset={starts[30_000]}&dir=prev").json()
    assert back["found"]["line"] == 7_000
    none = api.get(f"{base}/search?q=no+such+text").json()
    assert none == {"found": None, "next": starts[-1] + len(line(N - 1)), "more": False}


@pytest.mark.parametrize(
    "query",
    [
        "lines?line=-1",
        "lines?count=0&tail=1",
        "lines?count=5001&tail=1",
        "lines?before=9999&line=1",
        "lines",
        "lines?line=1&tail=1",
        "lines?tail=maybe",
        "lines?end=99999999999",
        "index?at=99999999999",
        "index?at=x",
        "index?errors=2",
        "search?q=",
        f"search?q={'x' * 201}",
        "search?q=a&dir=sideways",
        "search?q=a&offset=99999999999",
        "?length=0",
        f"?length={4 * 1024 * 1024 + 1}",
        "?offset=99999999999&length=5",
    ],
)
def test_http_bad_parameters_are_4xx_with_a_hint(
    server: LocalServer, big_run: int, query: str
) -> None:
    api = Api(server.url, server.token)
    sep = "" if query.startswith("?") else "/"
    r = api.get(f"/api/runs/{big_run}/log{sep}{query}")
    assert r.status in (400, 416), (query, r.status, r.body)
    body = r.json()
    assert body["error"] and body["hint"]


def test_http_unknown_run_is_404(server: LocalServer) -> None:
    api = Api(server.url, server.token)
    for what in ("index", "lines?tail=1", "search?q=x"):
        r = api.get(f"/api/runs/99999/log/{what}")
        assert r.status == 404 and r.json()["hint"]


def test_http_a_log_not_created_yet_is_empty(ctx: Context, server: LocalServer) -> None:
    api = Api(server.url, server.token)
    run_id = make_run(ctx, "running")
    base = f"/api/runs/{run_id}/log"
    assert api.get(f"{base}/index?at=0").json()["lines"] == 0
    r = api.get(f"{base}/lines?tail=1")
    assert r.status == 200 and r.body == b"" and r.headers["x-log-line"] == "0"
    assert api.get(f"{base}/search?q=x").json() == {"found": None, "next": 0, "more": False}
    assert api.get(f"{base}?offset=0&length=9").body == b""
