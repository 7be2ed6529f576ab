"""Tables a playbook reports with Ansible's ``set_stats`` (preflight checks, component status).

ansible-runner hands the appliance only the run-wide custom stats (``artifact_data`` of the
``playbook_on_stats`` event), so playbooks report ``per_host: false`` with the host inside the
data: ``{"<key>": {"<host>": [record, ...]}}`` (aggregation merges the hosts' dicts). Whatever
a playbook sends is bounded and typed here once; a record that is not a mapping is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_HOSTS = 5000
MAX_RECORDS = 200  # per host
MAX_TEXT = 2000  # characters per field


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    return text[:MAX_TEXT]


def host_records(artifact_data: Any, key: str) -> dict[str, list[dict[str, str]]]:
    """``{host: [record, ...]}`` from a step's custom stats under ``key``; every field a string.

    A host may report one record (a mapping) or a list of them; anything else is ignored, so a
    playbook that reports nothing (or something else) yields ``{}``.
    """
    data = artifact_data.get(key) if isinstance(artifact_data, Mapping) else None
    if not isinstance(data, Mapping):
        return {}
    out: dict[str, list[dict[str, str]]] = {}
    for host, records in list(data.items())[:MAX_HOSTS]:
        items = [records] if isinstance(records, Mapping) else records
        if not isinstance(items, list):
            continue
        rows = [
            {_text(k)[:100]: _text(v) for k, v in item.items()}
            for item in items[:MAX_RECORDS]
            if isinstance(item, Mapping)
        ]
        if rows:
            out[_text(host)[:200]] = rows
    return out
