"""Calling the WSGI app in-process (like bottle's test tools): no socket, the same environ a
server would build, so the app's own answers (status, JSON, headers) are what is checked."""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import unquote_to_bytes

from appliance.backend.app import WebApp
from tests.support.client import Reply

HOST = "127.0.0.1"
PORT = 8765


class WsgiClient:
    def __init__(self, app: WebApp) -> None:
        app.origins.set_address(HOST, PORT)
        self.app = app

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        target, _, query = path.partition("?")
        data = raw if raw is not None else b""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            # as servers do: the path percent-decoded, its bytes seen as latin-1 (PEP 3333)
            "PATH_INFO": unquote_to_bytes(target).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": HOST,
            "SERVER_PORT": str(PORT),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": f"{HOST}:{PORT}",
            "HTTP_AUTHORIZATION": f"Bearer {self.app.token}",
            "wsgi.url_scheme": "http",
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        if body is not None:
            data = json.dumps(body).encode()
            environ["CONTENT_TYPE"] = "application/json"
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
        if data or method in ("POST", "PUT", "PATCH"):
            environ.setdefault("CONTENT_LENGTH", str(len(data)))
            environ.setdefault("CONTENT_TYPE", "application/json")
        environ["wsgi.input"] = io.BytesIO(data)
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list, exc_info: Any = None) -> Any:
            started["status"], started["headers"] = status, headers
            return lambda chunk: None

        chunks = self.app(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status = int(started["status"].split()[0])
        return Reply(status, {k.lower(): v for k, v in started["headers"]}, payload)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)
