from __future__ import annotations

from bottle import Bottle

from appliance import __version__
from appliance.context import Context


def register(app: Bottle, ctx: Context) -> None:
    @app.get("/api/health")
    def health() -> dict:
        return {"status": "ok", "version": __version__}
