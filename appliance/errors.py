"""The exception tree. Errors that reach HTTP carry their status; every error carries a hint
that tells the user what to do (nobody on an air-gapped site can be asked).

An error may also carry a stable ``code`` with ``params``: the page shows the error and its
hint in the user's language from the code (``error.<code>`` / ``errorHint.<code>`` in its
catalogue) and can word the hint for its buttons and screens, while the English ``error`` and
``hint`` stay for the command line and API users. Without a code the page shows the English.
"""

from __future__ import annotations

import re
from typing import Any

CODE_RE = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)+")


class ApplianceError(Exception):
    """Base of every error the appliance raises on purpose. A 500 status means a bug."""

    status = 500
    default_hint = "This is a bug in the appliance; the application log has the details."

    default_code: str | None = None

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        code: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint or self.default_hint
        self.code = code or self.default_code
        if self.code is not None and not CODE_RE.fullmatch(self.code):
            raise ValueError(f"error code {self.code!r} is not dotted lower-case words")
        self.params = dict(params or {})

    MAX_CHARS = 500  # an answer never echoes a whole submitted value back
    PARAM_CHARS = 80  # a parameter is for a sentence on the page (the message has the rest)

    def to_json(self) -> dict[str, Any]:
        message = self.message
        if len(message) > self.MAX_CHARS:
            message = message[: self.MAX_CHARS] + " [...]"
        return {
            "error": message,
            "hint": self.hint[: self.MAX_CHARS],
            "code": self.code,
            "params": {k: _param(v, self.PARAM_CHARS) for k, v in self.params.items()},
        }


def _param(value: Any, limit: int) -> Any:
    """A parameter as JSON can carry it, bounded like the message."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    return text if len(text) <= limit else text[:limit] + " [...]"


def coded(error: ApplianceError, code: str, **params: Any) -> ApplianceError:
    """``error`` with a code and params attached (for errors built elsewhere, then raised)."""
    error.code = code
    error.params.update(params)
    return error


class BadRequest(ApplianceError):
    status = 400
    default_hint = "Check the request against the API contract in docs/api.md."


class Unauthorized(ApplianceError):
    status = 401
    default_hint = "Send the per-launch token (Authorization: Bearer <token>); server.json has it."


class Forbidden(ApplianceError):
    status = 403
    default_hint = "Use the URL the appliance printed (http://127.0.0.1:<port>/)."


class NotFound(ApplianceError):
    status = 404
    default_hint = "Check the name or id; list what exists first."


class Conflict(ApplianceError):
    status = 409
    default_hint = "Resolve the conflict (wait, pick another name) and try again."


class Gone(ApplianceError):
    """It existed, and was removed on purpose (retention)."""

    status = 410
    default_hint = "It was removed on purpose; what is kept instead is named in the message."


class PayloadTooLarge(ApplianceError):
    status = 413
    default_hint = "Send a smaller body."


class RangeNotSatisfiable(ApplianceError):
    status = 416
    default_hint = "Ask for an offset between 0 and the current size of the log."


class Unprocessable(ApplianceError):
    """Well-formed request whose content cannot be accepted (e.g. a bad bundle)."""

    status = 422
    default_hint = "Fix the content and try again."


class ServiceUnavailable(ApplianceError):
    status = 503
    default_hint = "Too many at once; close another view and retry."


class ConfigError(ApplianceError):
    """A setting has a value the appliance cannot use (found at start-up)."""

    status = 400
    default_hint = "Fix the setting (see docs/settings.md) and start again."


class BundleError(Unprocessable):
    """A bundle archive or manifest that cannot be accepted; nothing of it is kept."""

    default_hint = "Ask the vendor for an intact, signed bundle; nothing was imported."


class InvalidValues(BadRequest):
    """Values refused field by field: ``fields`` maps each name to what is wrong with it."""

    default_hint = "Fix the fields named and send the values again; nothing was stored."

    def __init__(self, message: str, fields: dict[str, str], hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.fields = dict(fields)

    def to_json(self) -> dict[str, str]:
        data = super().to_json()
        data["fields"] = {k[:64]: v[:200] for k, v in list(self.fields.items())[:200]}  # type: ignore[assignment]
        return data
