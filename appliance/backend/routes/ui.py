"""The page and its static files (ES modules, CSS): all from inside the appliance."""

from __future__ import annotations

from bottle import Bottle, static_file

from appliance.compat import static_dir
from appliance.context import Context


def register(app: Bottle, ctx: Context) -> None:
    root = str(static_dir())

    @app.get("/")
    def index():
        return static_file("index.html", root=root, mimetype="text/html", charset="utf-8")

    @app.get("/static/<path:path>")
    def static(path: str):
        return static_file(path, root=root)
