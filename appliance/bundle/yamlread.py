"""Reading bundle.yml: the safe YAML loader, and how a refused value's type is named."""

from __future__ import annotations

from typing import Any

import yaml

from appliance.errors import BundleError

# libyaml's loader when PyYAML has it: ten times faster on the manifests of bundles carrying
# real collections (thousands of files); the same safe constructors.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_HINT = "Fix bundle.yml (see docs/bundle-format.md) and build the bundle again."


def load_manifest_yaml(data: bytes) -> Any:
    if not isinstance(data, bytes | bytearray):
        raise BundleError("bundle.yml must be bytes", _HINT)
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise BundleError(
            f"bundle.yml is not UTF-8 text ({e.reason} at byte {e.start})", _HINT
        ) from None
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as e:
        raise BundleError(f"bundle.yml is not valid YAML: {one_line(str(e))}", _HINT) from None
    except (ValueError, OverflowError, TypeError, RecursionError) as e:
        # Values PyYAML cannot build (an integer of 5000 digits, nesting too deep).
        raise BundleError(
            f"bundle.yml holds a value that cannot be read: {one_line(str(e))}", _HINT
        ) from None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def type_name(value: Any) -> str:
    """``a number``, ``a list``, ... for messages that say what was found instead."""
    names = {
        type(None): "empty",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "a mapping",
        str: "a string",
    }
    return names.get(type(value), type(value).__name__)


def one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 200 else line[:197] + "..."
