"""The web app factory: ``create_app(ctx, token)`` -> a WSGI callable. Nothing at import time."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from bottle import Bottle, HTTPResponse, response

from appliance.backend.routes import ROUTE_MODULES
from appliance.backend.security import Origins, SecurityMiddleware
from appliance.context import Context
from appliance.errors import ApplianceError
from appliance.validate import SQLITE_INT_MAX

logger = logging.getLogger(__name__)


def _json_response(status: int, payload: Any) -> HTTPResponse:
    body = json.dumps(payload)
    return HTTPResponse(body, status=status, headers={"Content-Type": "application/json"})


def _api_plugin(callback: Callable) -> Callable:
    """Serialize dict/list results as JSON and turn errors into ``{"error", "hint", "code",
    "params"}`` (see appliance.errors: the page words coded errors in its own language)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = callback(*args, **kwargs)
        except ApplianceError as e:
            if e.status >= 500:
                logger.exception("internal error")
            return _json_response(e.status, e.to_json())
        except HTTPResponse:
            raise
        except Exception:  # the edge: log it, answer a 500 that says it is a bug
            logger.exception("unexpected error in %s", callback.__name__)
            return _json_response(
                500, ApplianceError("internal error", code="internal.bug").to_json()
            )
        if isinstance(result, dict | list):
            response.content_type = "application/json"
            return json.dumps(result)
        return result

    return wrapper


def _id_filter(config: str) -> tuple[str, Callable[[str], int], Callable[[int], str]]:
    """``<name:int>`` in a route: ASCII digits within SQLite's range (Bottle's own takes any
    Unicode digit, so ``/api/runs/%D9%A1/log`` was run 1, and any size, so 2^64 was a 500)."""

    def to_id(text: str) -> int:
        value = int(text)
        if value > SQLITE_INT_MAX:
            raise ValueError(text)  # Bottle answers 400
        return value

    return r"[0-9]{1,19}", to_id, str


def _error_handler(status: int) -> Callable[[Any], str]:
    messages = {
        400: ("malformed request", "Check the path and the request against docs/api.md."),
        404: ("no such path", "See docs/api.md for the API's paths."),
        405: ("method not allowed on this path", "See docs/api.md for the methods."),
        413: ("request body too large", "Send a smaller body."),
        500: ("internal error", ApplianceError.default_hint),
    }
    codes = {400: "request.malformed", 404: "request.no_path", 405: "request.method"}
    codes |= {413: "request.too_large", 500: "internal.bug"}

    def handler(error: Any) -> str:
        response.content_type = "application/json"
        error_text, hint = messages.get(status, ("request failed", "Check the request."))
        code = codes.get(status, "request.failed")
        return json.dumps({"error": error_text, "hint": hint, "code": code, "params": {}})

    return handler


class WebApp:
    """The Bottle app behind the security middleware; ``origins`` is filled in at bind time."""

    def __init__(self, ctx: Context, token: str) -> None:
        self.ctx = ctx
        self.token = token
        self.origins = Origins()
        self.bottle = Bottle(catchall=True, autojson=False)
        self.bottle.router.add_filter("int", _id_filter)
        self.bottle.install(_api_plugin)
        for status in (400, 404, 405, 413, 500):
            self.bottle.error(status)(_error_handler(status))
        for module in ROUTE_MODULES:
            module.register(self.bottle, ctx)
        self.wsgi = SecurityMiddleware(self.bottle, token, self.origins)

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        return self.wsgi(environ, start_response)


def create_app(ctx: Context, token: str) -> WebApp:
    return WebApp(ctx, token)
