"""``requires_ansible`` in bundle.yml: the ansible-core versions the bundle's playbooks run
under, as a version specifier (``">=2.16,<2.17"``, the syntax of a collection's
``meta/runtime.yml``). The run uses the newest carried ansible-core it accepts that manages
the site's hosts (appliance/jobs/ansible/cores.py)."""

from __future__ import annotations

from typing import Any

from appliance.errors import BundleError

_HINT = "Fix bundle.yml (see docs/bundle-format.md) and build the bundle again."
MAX_CHARS = 100


def check_requires_ansible(value: Any) -> str | None:
    """The specifier as written (stripped), or None; BundleError when it is not one."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CHARS:
        raise BundleError('requires_ansible must be a version specifier like ">=2.16"', _HINT)
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(value.strip())
    except InvalidSpecifier as e:
        raise BundleError(
            f"requires_ansible {value.strip()!r} is not a version specifier ({e})", _HINT
        ) from e
    return value.strip()
