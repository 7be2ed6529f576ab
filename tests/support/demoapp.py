"""Asking the demo platform's app (``files/app/demo_app.py``) on this machine how it is."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class DemoAppProbe:
    """For a class with a ``port`` attribute: the demo app's port on 127.0.0.1."""

    port: int

    def get(self, path: str) -> tuple[int, Any]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())

    def health(self) -> dict[str, Any]:
        status, body = self.get("/health")
        assert status == 200, body
        return body

    def answers(self) -> bool:
        try:
            self.get("/health")
        except OSError:
            return False
        return True
