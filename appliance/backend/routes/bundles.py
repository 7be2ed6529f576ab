from __future__ import annotations

from bottle import Bottle, request, response

from appliance.backend.http import body_deadline, content_length, query_int
from appliance.context import Context
from appliance.jobs import bundles as service
from appliance.jobs import keys, removal


def register(app: Bottle, ctx: Context) -> None:
    @app.get("/api/bundles")
    def list_bundles() -> list:
        return service.rows.list_bundles(
            limit=query_int(request, "limit", 1000, 1, 100_000),
            offset=query_int(request, "offset", 0),
        )

    @app.post("/api/bundles")
    def import_bundle() -> dict:
        with body_deadline(request.environ):
            bundle, created = service.import_stream(
                ctx, request.environ["wsgi.input"], content_length(request)
            )
        response.status = 201 if created else 200
        return {**bundle, "key": keys.describe(ctx, bundle["key_id"])}  # who signed it

    @app.get("/api/bundles/<name>/<version>")
    def get_bundle(name: str, version: str) -> dict:
        detail = service.bundle_detail(name, version)
        return {**detail, "key": keys.describe(ctx, detail["key_id"])}

    @app.delete("/api/bundles/<name>/<version>")
    def delete_bundle(name: str, version: str) -> dict:
        return removal.delete_bundle(ctx, name, version)
