"""Live streams of a run: its log (text/plain bytes) and its events (NDJSON); bounded reads of
the log for a page that holds a window of it (ranges, lines, index, search). See docs/api.md."""

from __future__ import annotations

from bottle import BaseRequest, Bottle, request, response

from appliance.backend.http import query_int
from appliance.backend.streams import StreamBody, StreamSlots, client_fd
from appliance.context import Context
from appliance.errors import BadRequest, Gone, NotFound, RangeNotSatisfiable
from appliance.jobs.streams import logread
from appliance.jobs.streams import tail as logtail
from appliance.jobs.streams.logindex import LogIndexes, Position
from appliance.store import runs

SLOTS_KEY = "appliance.stream_slots"  # app.config entry: the StreamSlots of this app
INDEXES_KEY = "appliance.log_indexes"  # app.config entry: the LogIndexes of this app
MAX_RANGE = 4 * 1024 * 1024  # bytes of one ?length= read
MAX_LINES = 5000  # lines of one /log/lines answer (count, and before)
LINES_BYTES = 2 * 1024 * 1024  # bytes of one /log/lines answer
MAX_QUERY = 200  # characters of a search
INDEX_BUDGET = 0.2  # seconds of index building per request that asks for it
STEP_BUDGET = 0.02  # ... per request that only needs the index near where it reads
SEARCH_BUDGET = 1.0  # seconds of searching per request
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _cursor(req: BaseRequest, name: str, what: str, default: int | None = 0) -> int | None:
    """A non-negative position (ASCII digits, within SQLite's integer range), or ``default``."""
    return query_int(req, name, default, low=0, what=what)  # type: ignore[arg-type]


def _follow(req: BaseRequest) -> bool:
    raw = req.query.get("follow", "1").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise BadRequest(f"follow={raw!r} is not a boolean", "Send follow=1 (default) or follow=0.")


def _bounded(req: BaseRequest, name: str, low: int, high: int, default: int | None) -> int | None:
    value = _cursor(req, name, "units", default)
    if value is not None and not low <= value <= high:
        raise BadRequest(f"{name}={value} is out of bounds", f"Send {name} from {low} to {high}.")
    return value


def _within(offset: int, size: int, name: str) -> None:
    if offset > size:
        raise RangeNotSatisfiable(
            f"{name} {offset} is beyond the end of the log ({size} bytes)",
            f"Ask for {name} between 0 and {size}.",
        )


def _text_headers(start: int, end: int, size: int) -> None:
    response.content_type = "text/plain; charset=utf-8"
    response.set_header("X-Log-Offset", str(start))
    response.set_header("X-Log-End", str(end))
    response.set_header("X-Log-Size", str(size))


def _position(p: Position) -> dict:
    return {"offset": p.offset, "line": p.line, "exact": p.exact}


def _state_of(run_id: int) -> str:
    state = runs.current_state(run_id)
    if state is None:
        raise NotFound(
            f"no run {run_id}",
            "List the runs (GET /api/runs) for their ids.",
            code="not_found.run",
            params={"id": run_id},
        )
    return state


def _log_state_of(run_id: int) -> str:
    """The run's state; 410 when retention removed its log (the report is kept)."""
    state = _state_of(run_id)
    if pruned := runs.pruned_at(run_id):
        raise Gone(
            f"the log of run {run_id} was removed by retention on {pruned}",
            f"Its report is kept (GET /api/runs/{run_id}/report, appliance report {run_id}); "
            "keep more history with the keep_runs_per_site and keep_days settings.",
        )
    return state


def register(app: Bottle, ctx: Context) -> None:
    slots = StreamSlots(ctx.settings.max_streams)
    app.config[SLOTS_KEY] = slots

    @app.get("/api/streams")
    def streams() -> dict:
        return {"active": slots.active, "max": slots.limit}

    indexes = LogIndexes()
    app.config[INDEXES_KEY] = indexes

    @app.get("/api/runs/<run_id:int>/log")
    def run_log(run_id: int) -> StreamBody | bytes:
        offset = _cursor(request, "offset", "bytes")
        length = _bounded(request, "length", 1, MAX_RANGE, None)
        follow = _follow(request)
        _log_state_of(run_id)
        path = ctx.paths.run_log(run_id)
        size = logtail.log_size(path)
        _within(offset, size, "offset")
        if length is not None:  # a byte range: what exists now, no stream slot
            data = logread.read_range(path, offset, length) if size else b""
            _text_headers(offset, offset + len(data), size)
            return data
        fd = client_fd(request.environ)
        slot = slots.acquire("log", run_id, fd)
        response.content_type = "text/plain; charset=utf-8"
        response.set_header("X-Log-Offset", str(offset))
        chunks = logtail.tail_log(
            path, offset, follow=follow, state=lambda: runs.current_state(run_id), hangup_fd=fd
        )
        return StreamBody(chunks, slot)

    @app.get("/api/runs/<run_id:int>/events")
    def run_events(run_id: int) -> StreamBody:
        after = _cursor(request, "after", "event seq")
        follow = _follow(request)
        _state_of(run_id)
        fd = client_fd(request.environ)
        slot = slots.acquire("events", run_id, fd)
        response.content_type = "application/x-ndjson"
        chunks = logtail.tail_events(
            run_id, after, follow=follow, state=lambda: runs.current_state(run_id), hangup_fd=fd
        )
        return StreamBody(chunks, slot)

    @app.get("/api/runs/<run_id:int>/log/index")
    def run_log_index(run_id: int) -> dict:
        at = _cursor(request, "at", "bytes", None)
        errors = _follow_flag(request, "errors")
        _log_state_of(run_id)
        path = ctx.paths.run_log(run_id)
        index = indexes.get(run_id, path)
        # "first error" waits for the error cursor only: the line index can follow later
        complete = index.extend(STEP_BUDGET if errors else INDEX_BUDGET)
        answer: dict = {
            "indexed": index.end,
            "lines": index.lines,
            "complete": complete,
        }
        if errors:
            answer["errors_complete"] = index.scan_errors(INDEX_BUDGET)
            answer["errors_scanned"] = index.errors_end
            answer["errors"] = index.errors
            first = index.first_error
            answer["first_error"] = None if first is None else _position(index.line_of(first))
        size = logtail.log_size(path)
        answer["size"] = size
        answer["estimated_lines"] = index.estimated_lines(size)
        if at is not None:
            _within(at, size, "at")
            start = logread.line_start(path, at) if size else 0
            answer["at"] = _position(index.line_of(start))
        return answer

    @app.get("/api/runs/<run_id:int>/log/lines")
    def run_log_lines(run_id: int) -> bytes:
        line = _bounded(request, "line", 0, 2**53, None)
        offset = _cursor(request, "offset", "bytes", None)
        end = _cursor(request, "end", "bytes", None)
        tail = _follow_flag(request, "tail")
        before = _bounded(request, "before", 0, MAX_LINES, 0)
        count = _bounded(request, "count", 1, MAX_LINES, 1000)
        if sum(x is not None for x in (line, offset, end)) + tail != 1:
            raise BadRequest(
                "say where the lines are", "Send exactly one of line=, offset=, end= or tail=1."
            )
        state = _log_state_of(run_id)
        path = ctx.paths.run_log(run_id)
        index = indexes.get(run_id, path)
        index.extend(INDEX_BUDGET if tail else STEP_BUDGET)  # the first view: exact if it can
        size = logtail.log_size(path)
        for name, value in (("offset", offset), ("end", end)):
            if value is not None:
                _within(value, size, name)
        where = logread.Where(line=line, offset=offset, end=end, tail=tail)
        final = logtail.is_terminal(state)
        lines = logread.window(path, index, where, before, count, size=size, final=final)
        _text_headers(lines.first.offset, lines.first.offset + len(lines.data), size)
        response.set_header("X-Log-Line", str(lines.first.line))
        response.set_header("X-Log-Exact", "1" if lines.first.exact else "0")
        return lines.data

    @app.get("/api/runs/<run_id:int>/log/search")
    def run_log_search(run_id: int) -> dict:
        query = request.query.getunicode("q", "") or ""
        if not 1 <= len(query) <= MAX_QUERY or "\n" in query:
            raise BadRequest(
                "q must be 1 to 200 characters on one line", "Send the text to find as q=."
            )
        offset = _cursor(request, "offset", "bytes")
        backward = _direction(request)
        _log_state_of(run_id)
        path = ctx.paths.run_log(run_id)
        size = logtail.log_size(path)
        _within(offset, size, "offset")
        if size == 0:
            return {"found": None, "next": 0, "more": False}
        found = logread.search(
            path, query, offset, forward=not backward, size=size, budget=SEARCH_BUDGET
        )
        answer: dict = {"found": None, "next": found.next, "more": found.more}
        if found.offset is not None:
            index = indexes.get(run_id, path)
            index.extend(STEP_BUDGET)
            answer["found"] = _position(index.line_of(found.offset))
        return answer


def _follow_flag(req: BaseRequest, name: str) -> bool:
    raw = req.query.get(name, "0").strip().lower()
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    raise BadRequest(f"{name}={raw!r} is not a boolean", f"Send {name}=1 or {name}=0.")


def _direction(req: BaseRequest) -> bool:
    raw = req.query.get("dir", "next").strip().lower()
    if raw not in ("next", "prev"):
        raise BadRequest(f"dir={raw!r} is not a direction", "Send dir=next (default) or dir=prev.")
    return raw == "prev"
