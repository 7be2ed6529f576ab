"""Downloads of a run: GET /api/runs/<id>/report, the self-contained HTML report, and
GET /api/runs/<id>/output.log, the terminal output as a text file.

The report is a document of its own (inline CSS, no script), so it carries its own CSP instead
of the pages' strict one: styles inline, nothing else at all. The log is sent as it is at the
moment of asking, colour codes removed (``?raw=1``: the bytes exactly as written).
"""

from __future__ import annotations

from bottle import Bottle, HTTPResponse, request

from appliance.context import Context
from appliance.errors import Gone
from appliance.jobs.retention import report_path
from appliance.jobs.runs.log import log_blocks
from appliance.store import runs

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"


def register(app: Bottle, ctx: Context) -> None:
    @app.get("/api/runs/<run_id:int>/report")
    def run_report(run_id: int) -> HTTPResponse:
        path = report_path(ctx, run_id)
        body = path.read_bytes()
        return HTTPResponse(
            body,
            status=200,
            headers={
                "Content-Type": "text/html; charset=utf-8",
                "Content-Disposition": f'attachment; filename="run-{run_id}-report.html"',
                "Content-Security-Policy": REPORT_CSP,
                "Cache-Control": "no-store",
                "Content-Length": str(len(body)),
            },
        )

    @app.get("/api/runs/<run_id:int>/output.log")
    def run_output(run_id: int) -> HTTPResponse:
        runs.find_run(run_id)  # 404 for no such run
        raw = request.query.get("raw", "") in ("1", "true")
        path = ctx.paths.run_log(run_id)
        if not path.exists():
            if pruned := runs.pruned_at(run_id):
                raise Gone(
                    f"the log of run {run_id} was removed by retention on {pruned}",
                    f"Its report is kept (GET /api/runs/{run_id}/report).",
                    code="run.log_pruned",
                    params={"id": run_id},
                )
            body: object = [b""]  # queued: nothing written yet
        else:
            body = log_blocks(path, strip=not raw)
        name = f"run-{run_id}-output{'-raw' if raw else ''}.log"
        return HTTPResponse(
            body,
            status=200,
            headers={
                "Content-Type": "text/plain; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )
