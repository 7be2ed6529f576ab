"""Local security as WSGI middleware: Host check (DNS rebinding), Origin check (CSRF),
per-launch token on /api/*, and security headers on every response."""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from appliance.errors import ConfigError

logger = logging.getLogger(__name__)

COOKIE = "appliance_token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
COMMON_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
]
PUBLIC_API = {"/api/health"}
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

StartResponse = Callable[..., Any]


def check_bind_address(host: str, allow_remote: bool) -> str | None:
    """Refuse to listen beyond this machine unless asked (ConfigError with the way out); when
    asked, the warning to print and log."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False  # a name: it may resolve anywhere
    if loopback:
        return None
    if not allow_remote:
        raise ConfigError(
            f"refusing to serve on {host}: only this machine's loopback addresses are served",
            "Serve on 127.0.0.1 and reach it through an SSH tunnel (docs/field-guide.md), or "
            "add --allow-remote (setting allow_remote) to let the network reach it.",
        )
    return (
        f"WARNING: serving on {host}, beyond this machine: anyone on that network reaches the "
        "login page (every call still needs the token)"
    )


class Origins:
    """What Host and Origin values are ours; filled in once the server knows its port."""

    def __init__(self) -> None:
        self.hosts: frozenset[str] = frozenset()

    def set_address(self, host: str, port: int) -> None:
        names = set(LOOPBACK_NAMES)
        names.add(f"[{host}]" if ":" in host else host)
        self.hosts = frozenset(f"{name}:{port}".lower() for name in names)

    def origins(self) -> frozenset[str]:
        return frozenset("http://" + h for h in self.hosts)


def _error(
    start_response: StartResponse,
    status: str,
    error: str,
    hint: str,
    extra: list[tuple[str, str]] | None = None,
    code: str | None = None,
) -> Iterable[bytes]:
    body = json.dumps({"error": error, "hint": hint, "code": code, "params": {}}).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *COMMON_HEADERS,
        *(extra or []),
    ]
    start_response(status, headers)
    return [body]


def bearer_or_cookie(environ: dict[str, Any]) -> str | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    cookies = SimpleCookie()
    try:
        cookies.load(environ.get("HTTP_COOKIE", ""))
    except Exception:  # a malformed Cookie header is just "no token"
        return None
    morsel = cookies.get(COOKIE)
    return morsel.value if morsel else None


class SecurityMiddleware:
    def __init__(self, app: Callable, token: str, origins: Origins) -> None:
        self.app = app
        self.token = token
        self.origins = origins

    def _token_ok(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(
            candidate.encode(), self.token.encode()
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST", "").lower()
        if host not in self.origins.hosts:
            logger.warning("refused request for foreign Host %r", host)
            return _error(
                start_response,
                "403 Forbidden",
                f"requests for host {host!r} are refused",
                "Open the appliance at the URL it printed (http://127.0.0.1:<port>/).",
                code="request.foreign_host",
            )
        method = environ.get("REQUEST_METHOD", "GET").upper()
        origin = environ.get("HTTP_ORIGIN")
        foreign = (origin is not None and origin.lower() not in self.origins.origins()) or (
            environ.get("HTTP_SEC_FETCH_SITE", "").lower() == "cross-site"
        )
        if method not in SAFE_METHODS and foreign:
            logger.warning("refused %s from foreign Origin %r", method, origin)
            return _error(
                start_response,
                "403 Forbidden",
                f"{method} from origin {origin!r} is refused",
                "Change things only from the appliance's own page.",
                code="request.foreign_origin",
            )
        path = environ.get("PATH_INFO", "")
        if path == "/" and "token=" in environ.get("QUERY_STRING", ""):
            return self._login(environ, start_response)
        if (
            path.startswith("/api/")
            and path not in PUBLIC_API
            and not self._token_ok(bearer_or_cookie(environ))
        ):
            return _error(
                start_response,
                "401 Unauthorized",
                "missing or wrong token",
                "Open the URL with ?token= that the appliance printed, or send "
                "Authorization: Bearer <token> (server.json in the data folder has it).",
                [("WWW-Authenticate", "Bearer")],
                code="auth.token",
            )

        def with_headers(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = list(headers) + COMMON_HEADERS
            if not path.startswith("/api/"):
                headers.append(("Content-Security-Policy", CSP))
            elif not any(k.lower() == "cache-control" for k, _ in headers):
                headers.append(("Cache-Control", "no-store"))
            return start_response(status, headers, exc_info)

        return self.app(environ, with_headers)

    def _login(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """``/?token=…`` trades the token for an HttpOnly cookie, then drops it from the URL."""
        token = parse_qs(environ.get("QUERY_STRING", "")).get("token", [None])[0]
        if not self._token_ok(token):
            return _error(
                start_response,
                "401 Unauthorized",
                "wrong token in the URL",
                "Use the URL the appliance printed at start (the token changes each launch).",
                code="auth.url_token",
            )
        cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        start_response(
            "303 See Other",
            [
                ("Location", "/"),
                ("Set-Cookie", cookie),
                ("Cache-Control", "no-store"),
                ("Content-Length", "0"),
                *COMMON_HEADERS,
            ],
        )
        return [b""]
