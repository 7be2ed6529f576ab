"""Live streams of a run: its log (text/plain bytes) and its events (NDJSON). See docs/api.md."""

from __future__ import annotations

from bottle import BaseRequest, Bottle, request, response

from appliance.backend.http import query_int
from appliance.backend.streams import StreamBody, StreamSlots, client_fd
from appliance.context import Context
from appliance.errors import BadRequest, Gone, NotFound, RangeNotSatisfiable
from appliance.jobs.streams import tail as logtail
from appliance.store import runs

SLOTS_KEY = "appliance.stream_slots"  # app.config entry: the StreamSlots of this app
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _cursor(req: BaseRequest, name: str, what: str) -> int:
    """A non-negative position (ASCII digits, within SQLite's integer range)."""
    return query_int(req, name, 0, low=0, what=what)


def _follow(req: BaseRequest) -> bool:
    raw = req.query.get("follow", "1").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise BadRequest(f"follow={raw!r} is not a boolean", "Send follow=1 (default) or follow=0.")


def _state_of(run_id: int) -> str:
    state = runs.current_state(run_id)
    if state is None:
        raise NotFound(f"no run {run_id}", "List the runs (GET /api/runs) for their ids.")
    return state


def register(app: Bottle, ctx: Context) -> None:
    slots = StreamSlots(ctx.settings.max_streams)
    app.config[SLOTS_KEY] = slots

    @app.get("/api/streams")
    def streams() -> dict:
        return {"active": slots.active, "max": slots.limit}

    @app.get("/api/runs/<run_id:int>/log")
    def run_log(run_id: int) -> StreamBody:
        offset = _cursor(request, "offset", "bytes")
        follow = _follow(request)
        _state_of(run_id)
        if pruned := runs.pruned_at(run_id):
            raise Gone(
                f"the log of run {run_id} was removed by retention on {pruned}",
                f"Its report is kept (GET /api/runs/{run_id}/report, appliance report "
                f"{run_id}); keep more history with the keep_runs_per_site and keep_days "
                "settings.",
            )
        path = ctx.paths.run_log(run_id)
        size = logtail.log_size(path)
        if offset > size:
            raise RangeNotSatisfiable(
                f"offset {offset} is beyond the end of the log ({size} bytes)",
                f"Ask for an offset between 0 and {size}.",
            )
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
