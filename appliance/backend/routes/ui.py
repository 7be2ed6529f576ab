"""The page and its static files (ES modules, CSS): all from inside the appliance."""

from __future__ import annotations

import json

from bottle import Bottle, response, static_file

from appliance.compat import static_dir
from appliance.context import Context
from appliance.states import as_json as states_json


def states_module() -> str:
    """``static/js/states.js``: the run, step and occurrence states as an ES module, made from
    ``appliance.states`` so the page keeps no copy of its own."""
    states = states_json()
    lines = ["// Made by the server from appliance/states.py: the one list of states."]
    for name, values in states.items():
        const = name.upper()
        lines.append(f"export const {const} = Object.freeze({json.dumps(values)});")
    return "\n".join(lines) + "\n"


def register(app: Bottle, ctx: Context) -> None:
    root = str(static_dir())

    @app.get("/")
    def index():
        return static_file("index.html", root=root, mimetype="text/html", charset="utf-8")

    module = states_module()

    @app.get("/static/js/states.js")
    def states() -> str:
        response.content_type = "text/javascript; charset=utf-8"
        return module

    @app.get("/static/<path:path>")
    def static(path: str):
        return static_file(path, root=root)
