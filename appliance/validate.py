"""Checking JSON-shaped input against a small declared shape, with messages that name the field.

Used for HTTP bodies and command-line input alike, so both refuse the same things the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from appliance.errors import BadRequest

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
NAME_HINT = "Use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit."


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    required: bool = False
    check: Callable[[Any], str | None] | None = None  # returns an error text or None


def expect_object(value: Any, where: str, fields: Mapping[str, Field]) -> dict[str, Any]:
    """Return the object with only declared fields; refuse unknown, missing or mistyped ones."""
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be a JSON object", "Send a JSON object ({...}).")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise BadRequest(
            f"{where} has unknown field(s): {', '.join(map(str, unknown))}",
            f"Allowed fields: {', '.join(fields)}.",
        )
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in value or value[name] is None:
            if spec.required:
                raise BadRequest(f"{where}.{name} is required", f"Add the field {name!r}.")
            continue
        item = value[name]
        # bool is an int in Python; never accept true/false where a number is asked for
        wrong_bool = isinstance(item, bool) and bool not in _as_tuple(spec.type)
        if wrong_bool or not isinstance(item, spec.type):
            raise BadRequest(
                f"{where}.{name} must be {_type_name(spec.type)}, not {_json_type(item)}",
                f"Send {name!r} as {_type_name(spec.type)}.",
            )
        if spec.check is not None:
            problem = spec.check(item)
            if problem:
                raise BadRequest(f"{where}.{name} {problem}", f"Fix the field {name!r}.")
        out[name] = item
    return out


def check_name(value: str) -> str | None:
    return None if NAME_RE.match(value) else f"is not a valid name ({NAME_HINT})"


def check_port(value: int) -> str | None:
    return None if 1 <= value <= 65535 else "must be a port number 1..65535"


def check_str_list(value: list) -> str | None:
    if not all(isinstance(v, str) and NAME_RE.match(v) for v in value):
        return f"must be a list of names ({NAME_HINT})"
    if len(set(value)) != len(value):
        return "must not repeat a name"
    return None


def check_vars(value: dict) -> str | None:
    bad = [k for k in value if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(k))]
    if bad:
        return f"has invalid variable name(s): {', '.join(map(str, bad))} (use letters, digits, _)"
    return None


def check_address(value: str) -> str | None:
    if not value or len(value) > 253 or any(c.isspace() for c in value) or "/" in value:
        return "must be a host name or IP address"
    return None


def _as_tuple(t: type | tuple[type, ...]) -> tuple[type, ...]:
    return t if isinstance(t, tuple) else (t,)


_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "an object",
}


def _type_name(t: type | tuple[type, ...]) -> str:
    return " or ".join(_NAMES.get(x, x.__name__) for x in _as_tuple(t))


def _json_type(value: Any) -> str:
    for t in (bool, int, float, str, list, dict):
        if isinstance(value, t):
            return _NAMES[t]
    return "null" if value is None else type(value).__name__
