from __future__ import annotations

from bottle import Bottle, request, response

from appliance.backend.http import json_body, query_int
from appliance.context import Context
from appliance.jobs import removal
from appliance.store import sites


def register(app: Bottle, ctx: Context) -> None:
    @app.get("/api/sites")
    def list_sites() -> list:
        return sites.list_sites(
            limit=query_int(request, "limit", 1000, 1, 100_000),
            offset=query_int(request, "offset", 0),
        )

    @app.post("/api/sites")
    def create_site() -> dict:
        spec = sites.parse_site(json_body(request, ctx.settings.max_body_bytes))
        created = sites.create_site(ctx.store, spec)
        response.status = 201
        return created

    @app.get("/api/sites/<ref>")
    def get_site(ref: str) -> dict:
        return sites.get_site(ref)

    @app.put("/api/sites/<ref>")
    def update_site(ref: str) -> dict:
        site_id = sites.find_site(ref).id
        spec = sites.parse_site(json_body(request, ctx.settings.max_body_bytes))
        return sites.update_site(ctx.store, site_id, spec)

    @app.delete("/api/sites/<ref>")
    def delete_site(ref: str) -> dict:
        return removal.delete_site(ctx, ref)
