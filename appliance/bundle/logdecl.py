"""A component's declared log files (``logs:`` in bundle.yml), checked strictly.

Each entry is a glob of files on every host of the site, templated with the host's variables
before it is expanded there (``"{{ install_root }}/logs/*.log"``). After templating it must be
an absolute path; that is checked on the host, where the variables are known. Here: a list of
at most ``MAX_LOGS`` non-empty strings of printable characters, each absolute (``/``) or
starting with a template (``{{``), without ``..`` parts.
"""

from __future__ import annotations

import re
from typing import Any

from appliance.bundle.safety import show_value
from appliance.errors import BundleError

MAX_LOGS = 20  # globs per component
MAX_GLOB_CHARS = 500
_BAD = re.compile(r"[\x00-\x1f\x7f]")


def parse_logs(value: Any, where: str, hint: str) -> tuple[str, ...]:
    """The globs of ``logs:`` (``()`` when absent); BundleError naming the entry otherwise."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BundleError(f"{where} must be a list of file globs", hint)
    if len(value) > MAX_LOGS:
        raise BundleError(f"{where} has {len(value)} entries (at most {MAX_LOGS})", hint)
    out: list[str] = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(item, str) or not item.strip():
            raise BundleError(f"{at} must be a non-empty string (a file glob)", hint)
        if len(item) > MAX_GLOB_CHARS or _BAD.search(item):
            raise BundleError(
                f"{at} {show_value(item)} is not valid (printable, at most "
                f"{MAX_GLOB_CHARS} characters)",
                hint,
            )
        if not item.startswith(("/", "{{")):
            raise BundleError(
                f"{at} {show_value(item)} must be an absolute path or start with a variable",
                f'Write e.g. "{{{{ install_root }}}}/logs/app.log". {hint}',
            )
        if ".." in item.split("/"):
            raise BundleError(f"{at} {show_value(item)} must not contain ..", hint)
        if item in out:
            raise BundleError(f"{at} {show_value(item)} is listed twice", hint)
        out.append(item)
    return tuple(out)
