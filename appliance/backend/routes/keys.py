"""/api/keys: the vendor keys trusted for bundles (list, trust from a file's text, remove)."""

from __future__ import annotations

from bottle import Bottle, request, response

from appliance.backend.http import json_body
from appliance.context import Context
from appliance.jobs import keys
from appliance.validate import MAX_STRING_CHARS, Field, expect_object

# the key text is checked by jobs.keys (its size with a hint of its own)
ADD_FIELDS = {
    "name": Field(str, required=True),
    "pem": Field(str, required=True, max_chars=MAX_STRING_CHARS),
}


def register(app: Bottle, ctx: Context) -> None:
    @app.get("/api/keys")
    def list_keys() -> list:
        return keys.list_keys(ctx)

    @app.post("/api/keys")
    def add_key() -> dict:
        body = expect_object(json_body(request, ctx.settings.max_body_bytes), "key", ADD_FIELDS)
        added = keys.add_key_text(ctx, body["name"], body["pem"])
        response.status = 201
        return added

    @app.delete("/api/keys/<key_id>")
    def remove_key(key_id: str) -> dict:
        return keys.remove_key(ctx, key_id)
