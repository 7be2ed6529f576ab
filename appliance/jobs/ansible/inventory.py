"""The Ansible inventory of a site, as YAML: hosts with their connection details, host vars and
groups; the site's vars as ``all:vars``.

A host is local when its address is ``localhost`` or its vars (or the site's) set
``ansible_connection: local``. A local host gets ``ansible_connection: local`` and, unless the
site or host names one, ``ansible_python_interpreter: "{{ ansible_playbook_python }}"``: an
explicit inventory's localhost is not Ansible's implicit localhost, and interpreter discovery on
a laptop finds whatever shim is first on PATH.

``local_defaults`` are variables only hosts on this machine get (again unless the site or host
names them): paths in the appliance's data directory, such as a run's ``backup_dir``, mean
nothing on a server reached over SSH, where the bundle picks its own place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

LOCAL_ADDRESSES = frozenset({"localhost"})
PLAYBOOK_PYTHON = "{{ ansible_playbook_python }}"
RESERVED_GROUPS = frozenset({"all", "ungrouped"})


def is_local(host: Mapping[str, Any], site_vars: Mapping[str, Any]) -> bool:
    connection = host.get("vars", {}).get("ansible_connection", site_vars.get("ansible_connection"))
    if connection is not None:
        return connection == "local"
    return host["address"] in LOCAL_ADDRESSES


def build_inventory(
    hosts: Sequence[Mapping[str, Any]],
    site_vars: Mapping[str, Any],
    local_defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The inventory as a dict (hosts as returned by ``store.sites.host_to_json``)."""
    entries: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[str, Any]] = {}
    for host in hosts:
        host_vars = dict(host.get("vars") or {})
        entry: dict[str, Any] = {"ansible_host": host["address"]}
        if is_local(host, site_vars):
            entry["ansible_connection"] = "local"
            defaults = {"ansible_python_interpreter": PLAYBOOK_PYTHON, **(local_defaults or {})}
            for name, value in defaults.items():
                if name not in host_vars and name not in site_vars:
                    entry[name] = value
        else:
            entry["ansible_port"] = int(host.get("port") or 22)
            if host.get("user"):
                entry["ansible_user"] = host["user"]
        entry.update(host_vars)  # the site's own words win
        entries[host["name"]] = entry
        for group in host.get("groups") or []:
            if group not in RESERVED_GROUPS:
                groups.setdefault(group, {"hosts": {}})["hosts"][host["name"]] = None
    inventory: dict[str, Any] = {"all": {"hosts": entries, "vars": dict(site_vars)}}
    if groups:
        inventory["all"]["children"] = groups
    return inventory


def inventory_yaml(
    hosts: Sequence[Mapping[str, Any]],
    site_vars: Mapping[str, Any],
    local_defaults: Mapping[str, Any] | None = None,
) -> str:
    return yaml.safe_dump(
        build_inventory(hosts, site_vars, local_defaults),
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1000,
    )
