"""Declared configuration (``config:`` in bundle.yml): typed items, and their values checked.

The vendor declares each item once (name, type, default, rules, en/zh title and help); the
manifest parser refuses a bad declaration (:func:`parse_items`), and the same rules check the
values a site gives (:func:`check_value`, :func:`check_values`), so a default that fails its own
rules cannot ship and a value that fails them never reaches a playbook.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from appliance.bundle.safety import show_value
from appliance.bundle.yamlread import is_int as _is_int
from appliance.bundle.yamlread import type_name as _type
from appliance.errors import BundleError

TYPES = ("string", "text", "int", "bool", "select", "password", "path", "hostport")
_ITEM_KEYS = (
    "name",
    "type",
    "default",
    "min",
    "max",
    "options",
    "required",
    "pattern",
    "title",
    "help",
)
LANGS = ("en", "zh")
NAME_RE = re.compile(r"[a-z_][a-z0-9_]*")
# Names Ansible or the appliance already give a meaning to
RESERVED = frozenset({"bundle_name", "bundle_version", "backup_id", "component_versions"})
MAX_ITEMS = 200
MAX_STRING = 1024
MAX_TEXT = 65_536
MIN_PASSWORD = 8  # shorter values cannot be redacted from logs safely
MAX_INT = 2**53  # beyond this a JSON number loses digits in the browser
_HINT = "Fix the config section of bundle.yml (see docs/bundle-format.md) and build again."
_HOSTPORT_RE = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):([0-9]{1,5})")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class ValueRefused(ValueError):
    """A value fails its item's rules; the message says what is wrong (never the value)."""


@dataclass(frozen=True)
class ConfigItem:
    name: str
    type: str
    default: Any = None
    required: bool = False
    min: int | None = None
    max: int | None = None
    options: tuple[str, ...] = ()
    pattern: str | None = None
    title: Mapping[str, str] = field(default_factory=dict)
    help: Mapping[str, str] = field(default_factory=dict)

    @property
    def secret(self) -> bool:
        return self.type == "password"

    def to_json(self) -> dict[str, Any]:
        """The declaration in bundle.yml's own shape (keys with no value left out)."""
        data: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.default is not None:
            data["default"] = self.default
        if self.required:
            data["required"] = True
        for key in ("min", "max", "pattern"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.options:
            data["options"] = list(self.options)
        for key in ("title", "help"):
            if getattr(self, key):
                data[key] = dict(getattr(self, key))
        return data


def parse_items(value: Any) -> tuple[ConfigItem, ...]:
    """The ``config:`` list of a manifest, checked; BundleError naming the item otherwise."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BundleError("config must be a list of items", _HINT)
    if len(value) > MAX_ITEMS:
        raise BundleError(f"config has more than {MAX_ITEMS} items", _HINT)
    items: list[ConfigItem] = []
    seen: set[str] = set()
    for i, raw in enumerate(value):
        item = _item(raw, f"config[{i}]")
        if item.name in seen:
            raise BundleError(f"config[{i}].name {item.name} is used twice", _HINT)
        seen.add(item.name)
        items.append(item)
    return tuple(items)


def _item(raw: Any, where: str) -> ConfigItem:
    if not isinstance(raw, dict):
        raise BundleError(f"{where} must be a mapping with name and type", _HINT)
    unknown = [key for key in raw if key not in _ITEM_KEYS]
    if unknown:
        raise BundleError(
            f"{where} has unknown key {show_value(unknown[0])}",
            f"Allowed keys: {', '.join(_ITEM_KEYS)}. {_HINT}",
        )
    for key in ("name", "type"):
        if key not in raw:
            raise BundleError(f"{where} is missing {key}", _HINT)
    name = raw["name"]
    if not isinstance(name, str) or len(name) > 64 or not NAME_RE.fullmatch(name):
        raise BundleError(
            f"{where}.name {show_value(name)} is not valid (a playbook variable name: "
            f"{NAME_RE.pattern}, at most 64 characters)",
            _HINT,
        )
    if name in RESERVED or name.startswith("ansible_"):
        raise BundleError(f"{where}.name {name} is reserved", _HINT)
    where = f"config {name}"
    kind = raw["type"]
    if kind not in TYPES:
        raise BundleError(
            f"{where}: type {show_value(kind)} is not one of {', '.join(TYPES)}", _HINT
        )
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise BundleError(f"{where}: required must be true or false", _HINT)
    bounds = {}
    for key in ("min", "max"):
        bound = raw.get(key)
        if bound is not None and (not _is_int(bound) or abs(bound) > MAX_INT):
            raise BundleError(f"{where}: {key} must be an integer", _HINT)
        if bound is not None and kind not in ("int", "string", "text"):
            raise BundleError(f"{where}: {key} is only for int, string and text", _HINT)
        bounds[key] = bound
    if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
        raise BundleError(f"{where}: min is greater than max", _HINT)
    options = raw.get("options")
    if kind == "select":
        if not isinstance(options, list) or not options:
            raise BundleError(f"{where}: a select needs a non-empty options list", _HINT)
        if not all(isinstance(o, str) and o and len(o) <= 200 for o in options):
            raise BundleError(f"{where}: options must be non-empty strings", _HINT)
        if len(set(options)) != len(options):
            raise BundleError(f"{where}: options has an entry twice", _HINT)
    elif options is not None:
        raise BundleError(f"{where}: options is only for select", _HINT)
    pattern = raw.get("pattern")
    if pattern is not None:
        if kind not in ("string", "text", "path") or not isinstance(pattern, str):
            raise BundleError(f"{where}: pattern must be a string, for string/text/path", _HINT)
        try:
            re.compile(pattern)
        except re.error as e:
            raise BundleError(f"{where}: pattern is not a regular expression ({e})", _HINT) from e
    item = ConfigItem(
        name=name,
        type=kind,
        required=required,
        min=bounds["min"],
        max=bounds["max"],
        options=tuple(options or ()),
        pattern=pattern,
        title=_texts(raw.get("title"), f"{where}: title"),
        help=_texts(raw.get("help"), f"{where}: help"),
    )
    default = raw.get("default")
    if default is not None:
        if kind == "password":
            raise BundleError(f"{where}: a password cannot have a default", _HINT)
        try:
            default = check_value(item, default)
        except ValueRefused as e:
            raise BundleError(f"{where}: the default fails its own rules: {e}", _HINT) from None
        item = ConfigItem(**{**item.__dict__, "default": default})
    return item


def _texts(value: Any, where: str) -> dict[str, str]:
    """``{en, zh}`` (a plain string means English)."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict) or not value:
        raise BundleError(f"{where} must be a mapping of en/zh to text", _HINT)
    for lang, text in value.items():
        if lang not in LANGS:
            raise BundleError(f"{where} has unknown language {show_value(lang)}", _HINT)
        if not isinstance(text, str) or len(text) > 2000:
            raise BundleError(f"{where}.{lang} must be a string of at most 2000 chars", _HINT)
    return dict(value)


# -- values -----------------------------------------------------------------------------------
def check_value(item: ConfigItem, value: Any, *, from_text: bool = False) -> Any:
    """The value in its item's type, or ValueRefused saying what is wrong.

    ``from_text``: the value was typed on a command line (``KEY=VALUE``), so ``"8080"`` may be
    an int and ``"yes"`` a bool; JSON and YAML values must already have their type.
    """
    kind = item.type
    if kind == "int":
        return _check_int(item, value, from_text)
    if kind == "bool":
        if from_text and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "yes", "on", "1"):
                return True
            if lowered in ("false", "no", "off", "0"):
                return False
        if not isinstance(value, bool):
            raise ValueRefused("must be true or false")
        return value
    if not isinstance(value, str):
        raise ValueRefused(f"must be a string, not {_type(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueRefused("is not UTF-8 text") from None
    if kind == "text":
        value = value.replace("\r\n", "\n")
    limit = MAX_TEXT if kind == "text" else MAX_STRING
    if len(value) > limit:
        raise ValueRefused(f"is too long (at most {limit} characters)")
    bad = _CONTROL_RE.search(value) or (kind != "text" and re.search(r"[\r\n\t]", value))
    if bad:
        what = "a line break" if kind != "text" and bad.group() in "\r\n" else "a control character"
        raise ValueRefused(f"must not contain {what}")
    if kind == "select":
        if value not in item.options:
            raise ValueRefused(f"must be one of: {', '.join(item.options)}")
    elif kind == "password":
        if len(value) < MIN_PASSWORD:
            raise ValueRefused(f"must be at least {MIN_PASSWORD} characters")
    elif kind == "path":
        if not value.startswith("/") or "/../" in value + "/":
            raise ValueRefused("must be an absolute path (starting with /, without ..)")
    elif kind == "hostport":
        match = _HOSTPORT_RE.fullmatch(value)
        if not match or not 1 <= int(match.group(2)) <= 65535:
            raise ValueRefused("must be host:port with a port from 1 to 65535")
    if kind in ("string", "text"):
        if item.min is not None and len(value) < item.min:
            raise ValueRefused(f"must be at least {item.min} characters")
        if item.max is not None and len(value) > item.max:
            raise ValueRefused(f"must be at most {item.max} characters")
    if item.pattern is not None and not re.fullmatch(item.pattern, value):
        raise ValueRefused(f"must match {item.pattern}")
    return value


def _check_int(item: ConfigItem, value: Any, from_text: bool) -> int:
    if from_text and isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,16}", value.strip()):
        value = int(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise ValueRefused("must be a whole number, not NaN or infinity")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value):
        raise ValueRefused("must be a whole number")
    if abs(value) > MAX_INT:
        raise ValueRefused("is out of range")
    if item.min is not None and value < item.min:
        raise ValueRefused(f"must be at least {item.min}")
    if item.max is not None and value > item.max:
        raise ValueRefused(f"must be at most {item.max}")
    return value


def check_values(
    items: tuple[ConfigItem, ...], values: Mapping[str, Any], *, from_text: bool = False
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check given values (a subset of the items): ``(clean, errors)``; an unknown name is an
    error of its own. ``None`` clears a value (refused for a required item without default)."""
    by_name = {item.name: item for item in items}
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in values.items():
        item = by_name.get(name) if isinstance(name, str) else None
        if item is None:
            errors[str(name)[:64]] = "is not declared by this bundle"
            continue
        if value is None:
            clean[name] = None
            continue
        try:
            clean[name] = check_value(item, value, from_text=from_text)
        except ValueRefused as e:
            errors[name] = str(e)
    return clean, errors


def effective(
    items: tuple[ConfigItem, ...], stored: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The values a run gets (stored, else the default) and what is missing or no longer
    valid (a stored value a new version's rules refuse)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for item in items:
        value = stored.get(item.name)
        if value is None:
            value = item.default
        if value is None:
            if item.required:
                errors[item.name] = "is required"
            continue
        try:
            values[item.name] = check_value(item, value)
        except ValueRefused as e:
            errors[item.name] = str(e)
    return values, errors


def check_requires(value: Any, version: str) -> str | None:
    """``requires_appliance: ">=X.Y"`` checked against this appliance's ``version``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BundleError('requires_appliance must be a string like ">=1.2"', _HINT)
    match = re.fullmatch(r">=\s*([0-9]{1,6}(?:\.[0-9]{1,6}){0,2})", value.strip())
    if not match:
        raise BundleError(
            f'requires_appliance {show_value(value)} is not valid (write ">=X.Y")', _HINT
        )
    needed = match.group(1)
    if _version_tuple(version) < _version_tuple(needed):
        raise BundleError(
            f"this bundle needs appliance {needed} or newer (this is {version})",
            f"Use appliance {needed} or newer to import it.",
        )
    return value.strip()


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in re.findall(r"[0-9]+", text.split("+")[0])[:3]]
    return tuple(parts + [0] * (3 - len(parts)))
