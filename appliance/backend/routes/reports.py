"""GET /api/runs/<id>/report: the run's self-contained HTML report, as a download.

It is a document of its own (inline CSS, no script), so it carries its own CSP instead of the
pages' strict one: styles inline, nothing else at all.
"""

from __future__ import annotations

from bottle import Bottle, HTTPResponse

from appliance.context import Context
from appliance.jobs.retention import report_path

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
