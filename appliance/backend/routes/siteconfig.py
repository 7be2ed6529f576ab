"""A site's values for a bundle's declared configuration (passwords write-only)."""

from __future__ import annotations

import re

from bottle import Bottle, request

from appliance.backend.http import json_body
from appliance.context import Context
from appliance.errors import BadRequest, InvalidValues
from appliance.jobs.sites import config


def _version() -> str | None:
    raw = request.query.getunicode("version", "") or ""
    if len(raw) > 100:
        raise BadRequest("query parameter version is too long", "Send a bundle version.")
    return raw or None


_VALUES = re.compile(r"the body\.values\.([^.\[]+)")


def _values_body(ctx: Context) -> object:
    """The body; a value JSON cannot hold faithfully (NaN, 2^64, a lone surrogate) is refused
    as a field of the form, like any other refused value."""
    try:
        return json_body(request, ctx.settings.max_body_bytes)
    except BadRequest as e:
        where = _VALUES.match(str(e.params.get("field", "")))
        if e.code != "invalid.value" or where is None:
            raise
        problem = e.message[len(e.params["field"]) :].strip()
        raise InvalidValues(
            f"invalid configuration: {where.group(1)} {problem}", {where.group(1): problem}
        ) from e


def register(app: Bottle, ctx: Context) -> None:
    @app.get("/api/sites/<ref>/config/<bundle>")
    def show_config(ref: str, bundle: str) -> dict:
        return config.describe(ref, bundle, _version())

    @app.put("/api/sites/<ref>/config/<bundle>")
    def set_config(ref: str, bundle: str) -> dict:
        body = _values_body(ctx)
        if not isinstance(body, dict) or set(body) != {"values"}:
            raise BadRequest(
                'the body must be {"values": {name: value, ...}}',
                "Send only the values to change; null resets one to its default.",
            )
        return config.update(ctx, ref, bundle, body["values"], _version())
