"""Checking JSON-shaped input against a small declared shape, with messages that name the field.

Used for HTTP bodies and command-line input alike, so both refuse the same things the same way.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from appliance.errors import BadRequest

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
NAME_HINT = "Use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit."

# Bounds on every JSON-shaped input (docs/api.md, "Limits"), checked before anything is used.
MAX_JSON_DEPTH = 64
MAX_KEY_CHARS = 200  # object keys: field and variable names
MAX_STRING_CHARS = 64 * 1024  # any other string
SQLITE_INT_MIN, SQLITE_INT_MAX = -(2**63), 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def _show(key: object) -> str:
    text = str(key)
    return repr(text if len(text) <= 40 else text[:40] + "...")


def check_json_value(value: Any, where: str, max_string: int = MAX_STRING_CHARS) -> None:
    """Refuse what JSON, SQLite or a browser's JSON.parse cannot hold faithfully: nesting past
    MAX_JSON_DEPTH, integers outside SQLite's 64-bit range, NaN and infinities, lone
    surrogates, keys over MAX_KEY_CHARS and strings over ``max_string`` characters, and any
    non-JSON type. Iterative, so no depth can exhaust the stack."""
    todo: list[tuple[Any, str, int]] = [(value, where, 1)]
    while todo:
        item, path, depth = todo.pop()
        problem = None
        if isinstance(item, dict | list | tuple):
            if depth > MAX_JSON_DEPTH:
                raise BadRequest(
                    f"{where} is nested deeper than {MAX_JSON_DEPTH} levels (at {path})",
                    f"Nest objects and lists at most {MAX_JSON_DEPTH} levels.",
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        problem = f"has a key that is not a string: {_show(key)}"
                    elif len(key) > MAX_KEY_CHARS:
                        problem = f"has a key longer than {MAX_KEY_CHARS} characters"
                    elif _SURROGATE.search(key):
                        problem = "has a key holding a lone surrogate (not valid Unicode)"
                    if problem:
                        break
                    todo.append((child, f"{path}.{_show(key)[1:-1]}", depth + 1))
            else:
                todo.extend((c, f"{path}[{i}]", depth + 1) for i, c in enumerate(item))
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not SQLITE_INT_MIN <= item <= SQLITE_INT_MAX:
                problem = "is an integer outside -2^63..2^63-1"
        elif isinstance(item, float):
            if not math.isfinite(item):
                problem = "is not a finite number (NaN and Infinity are not JSON)"
        elif isinstance(item, str):
            if len(item) > max_string:
                problem = f"is longer than {max_string} characters"
            elif _SURROGATE.search(item):
                problem = "holds a lone surrogate (not valid Unicode)"
        else:
            problem = f"is a {type(item).__name__}, which JSON cannot hold"
        if problem:
            raise BadRequest(
                f"{path} {problem}",
                "Fix that value and send it again.",
                code="invalid.value",
                params={"field": path},
            )


def read_text_file(path: str, what: str, max_bytes: int = 2_000_000) -> str:
    """A small UTF-8 text file given on the command line, read with a size cap (``/dev/zero``
    or a huge file is refused after ``max_bytes``, not read until memory runs out)."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise BadRequest(
            f"cannot read {what} {path}: {e.strerror or e}", "Give a readable file."
        ) from e
    if len(data) > max_bytes:
        raise BadRequest(f"{what} {path} is larger than {max_bytes} bytes", "Give a smaller file.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequest(f"{what} {path} is not UTF-8 text", "Give a text file.") from e


def id_arg(text: str) -> int:
    """argparse type of an id: ASCII digits within SQLite's range."""
    value = as_id(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an id (a whole number >= 0)")
    return value


def positive_int_arg(text: str) -> int:
    """argparse type of a count such as --limit: ASCII digits, at least 1."""
    value = as_id(text)
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number >= 1")
    return value


def as_id(ref: Any) -> int | None:
    """An id typed as a number or ASCII digits within SQLite's range, else None (``²`` or
    Arabic-Indic digits are not ids; they are looked up as names or refused)."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref if 0 <= ref <= SQLITE_INT_MAX else None
    if isinstance(ref, str) and ref.isascii() and ref.isdigit() and len(ref) <= 19:
        value = int(ref)
        return value if value <= SQLITE_INT_MAX else None
    return None


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    required: bool = False
    check: Callable[[Any], str | None] | None = None  # returns an error text or None
    max_chars: int = MAX_KEY_CHARS  # a string field is a name unless it says otherwise


def expect_object(value: Any, where: str, fields: Mapping[str, Field]) -> dict[str, Any]:
    """Return the object with only declared fields; refuse unknown, missing or mistyped ones."""
    if not isinstance(value, dict):
        raise BadRequest(
            f"{where} must be a JSON object",
            "Send a JSON object ({...}).",
            code="invalid.not_object",
            params={"field": where},
        )
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise BadRequest(
            f"{where} has unknown field(s): {', '.join(map(str, unknown))}",
            f"Allowed fields: {', '.join(fields)}.",
            code="invalid.unknown_fields",
            params={"field": where, "fields": ", ".join(map(str, unknown))},
        )
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in value or value[name] is None:
            if spec.required:
                raise BadRequest(
                    f"{where}.{name} is required",
                    f"Add the field {name!r}.",
                    code="invalid.required",
                    params={"field": f"{where}.{name}"},
                )
            continue
        item = value[name]
        # bool is an int in Python; never accept true/false where a number is asked for
        wrong_bool = isinstance(item, bool) and bool not in _as_tuple(spec.type)
        if wrong_bool or not isinstance(item, spec.type):
            raise BadRequest(
                f"{where}.{name} must be {_type_name(spec.type)}, not {_json_type(item)}",
                f"Send {name!r} as {_type_name(spec.type)}.",
                code="invalid.type",
                params={"field": f"{where}.{name}"},
            )
        if isinstance(item, str) and len(item) > spec.max_chars:
            raise BadRequest(
                f"{where}.{name} is longer than {spec.max_chars} characters",
                f"Shorten the field {name!r}.",
                code="invalid.too_long",
                params={"field": f"{where}.{name}", "max": spec.max_chars},
            )
        if spec.check is not None:
            problem = spec.check(item)
            if problem:
                raise BadRequest(
                    f"{where}.{name} {problem}",
                    f"Fix the field {name!r}.",
                    code="invalid.field",
                    params={"field": f"{where}.{name}", "problem": problem},
                )
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
