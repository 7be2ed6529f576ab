"""Log search across a site's hosts: ``GET /api/sites/<site>/logs`` streams NDJSON (see
docs/api.md). Every check happens before the stream starts: a bad request is a 4xx, not a
broken stream. ``GET /api/sites/<site>/support-bundle``: the site's support bundle."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from bottle import Bottle, request, response

from appliance.backend.http import query_int
from appliance.backend.routes.streams import SLOTS_KEY
from appliance.backend.streams import StreamBody, client_fd
from appliance.context import Context
from appliance.errors import BadRequest
from appliance.jobs.logsearch.engine import open_search
from appliance.jobs.logsearch.request import MAX_LINES, plan_search
from appliance.jobs.support import collect
from appliance.store import sites

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _flag(name: str) -> bool:
    raw = request.query.get(name, "").strip().lower()
    if raw in _TRUE | _FALSE:
        return raw in _TRUE
    raise BadRequest(f"{name}={raw[:40]!r} is not a boolean", f"Send {name}=1 or {name}=0.")


def _lines(results: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for item in results:
        yield (json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8")


def register(app: Bottle, ctx: Context) -> None:
    @app.get("/api/sites/<ref>/logs")
    def search_logs(ref: str) -> StreamBody:
        q = request.query
        lines = query_int(request, "lines", None, low=0, what="lines per host")  # type: ignore[arg-type]
        if lines is not None and lines > MAX_LINES:
            raise BadRequest(f"lines={lines} is too many", f"Ask for 1 to {MAX_LINES} per host.")
        req = plan_search(
            ref,
            component=q.getunicode("component") or None,
            grep=q.getunicode("grep") or None,
            regex=_flag("regex"),
            lines=lines,
            host=q.getunicode("host") or None,
        )
        results = open_search(ctx, req)  # 423 here when the credentials key is locked
        slot = app.config[SLOTS_KEY].acquire("logs", req.site_id, client_fd(request.environ))
        response.content_type = "application/x-ndjson"
        return StreamBody(_lines(results), slot)

    @app.get("/api/sites/<ref>/support-bundle")
    def support_bundle(ref: str) -> bytes:
        site = sites.find_site(ref)
        data = collect.make_bundle(ctx, site.id)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", site.name)
        response.content_type = "application/gzip"
        response.set_header("Content-Disposition", f'attachment; filename="support-{name}.tar.gz"')
        response.set_header("Cache-Control", "no-store")
        return data
