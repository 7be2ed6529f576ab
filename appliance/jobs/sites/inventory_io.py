"""Importing an existing Ansible inventory (INI or YAML) as a site, and exporting a site as INI.

A site keeps hosts with a flat list of groups and host vars, plus site vars (``all:vars``). An
imported inventory is flattened into that with Ansible's precedence: ``all`` vars become site
vars; group vars (parents before children, same depth by name) then host vars become each host's
vars; a host is a member of its groups and of their parent groups. ``ansible_host``,
``ansible_port`` and ``ansible_user`` become the host's address, port and user.

Refused with a message naming the line or place: malformed files, a group referenced but never
defined, a host listed twice in a group or defined twice with different vars (YAML duplicate
keys too), two names for the same address and port, invalid ports, vault-encrypted values, and
passwords in the inventory (those belong in the site's encrypted credentials).

Reading the formats (and every bound on their size) is in inventory_parse.py; this module
flattens what was read into a site and writes a site back out as INI.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from appliance.errors import BadRequest
from appliance.jobs.sites.inventory_parse import (
    MAX_DEPTH,
    Inventory,
    bad,
    literal,
    parse_ini,
    parse_yaml,
    port_number,
)

FORMATS = ("ini", "yaml")
MAX_TEXT = 2_000_000
CONNECTION_VARS = {"ansible_host": "address", "ansible_port": "port", "ansible_user": "user"}
SECRET_VARS = frozenset(
    {
        "ansible_password",
        "ansible_ssh_pass",
        "ansible_ssh_password",
        "ansible_become_password",
        "ansible_become_pass",
        "ansible_sudo_pass",
    }
)


def _parents(inv: Inventory) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = {g: set() for g in inv.groups}
    for group, info in inv.groups.items():
        for child in info["children"]:
            parents.setdefault(child, set()).add(group)
    return parents


def _depths(inv: Inventory, parents: dict[str, set[str]]) -> dict[str, int]:
    depths: dict[str, int] = {}

    def depth(group: str, trail: tuple[str, ...]) -> int:
        if group in trail:
            raise bad(
                f"groups form a cycle: {' -> '.join((*trail, group))}",
                "A group cannot be its own ancestor.",
            )
        if group not in depths:
            if len(trail) > MAX_DEPTH:
                raise bad(
                    f"groups nest deeper than {MAX_DEPTH} levels (at {group!r})",
                    "Flatten the group hierarchy.",
                )
            depths[group] = 1 + max((depth(p, (*trail, group)) for p in parents[group]), default=0)
            if depths[group] > MAX_DEPTH + 2:  # all > platform > ... (all and ungrouped extra)
                raise bad(
                    f"groups nest deeper than {MAX_DEPTH} levels (at {group!r})",
                    "Flatten the group hierarchy.",
                )
        return depths[group]

    for group in inv.groups:
        depth(group, ())
    return depths


def to_site(inv: Inventory, name: str) -> dict[str, Any]:
    """The site description (the shape sites.parse_site takes) of a parsed inventory."""
    parents = _parents(inv)
    depths = _depths(inv, parents)
    membership: dict[str, list[str]] = {h: [] for h in inv.hosts}
    for group, info in inv.groups.items():
        for host in info["hosts"]:
            membership[host].append(group)

    def ancestors(group: str) -> set[str]:
        found, todo = set(), [group]
        while todo:
            for parent in parents[todo.pop()]:
                if parent not in found:
                    found.add(parent)
                    todo.append(parent)
        return found

    hosts, seen_at = [], {}
    for host, own_vars in inv.hosts.items():
        groups = set(membership[host])
        for group in list(groups):
            groups |= ancestors(group)
        groups -= {"all", "ungrouped"}
        merged: dict[str, Any] = {}
        for group in sorted(groups, key=lambda g: (depths[g], g)):
            merged.update(inv.groups[group]["vars"])
        merged.update(own_vars)
        secret = sorted(SECRET_VARS & (set(merged) | set(inv.groups["all"]["vars"])))
        if secret:
            raise bad(
                f"host {host!r} has a password in the inventory ({', '.join(secret)})",
                "Remove it and set it with `appliance site credentials` (stored encrypted).",
            )
        entry: dict[str, Any] = {"name": host, "address": host, "port": 22}
        for var, field in CONNECTION_VARS.items():
            if var in merged:
                value = merged.pop(var)
                is_port = field == "port"
                entry[field] = port_number(value, f"host {host!r}") if is_port else str(value)
        target = (entry["address"], entry["port"])
        if target in seen_at:
            raise bad(
                f"hosts {seen_at[target]!r} and {host!r} are both {target[0]}:{target[1]}",
                "Keep one name per machine.",
            )
        seen_at[target] = host
        # groups in the order they appear in the file, parents after the groups naming the host
        ordered = [g for g in inv.groups if g in groups]
        entry.update({"groups": ordered, "vars": merged})
        hosts.append(entry)
    site_vars = dict(inv.groups["all"]["vars"])
    for var in CONNECTION_VARS:
        if var in site_vars:  # connection vars for every host: spread onto the hosts
            value = site_vars.pop(var)
            for entry in hosts:
                if var not in inv.hosts[entry["name"]]:
                    key = CONNECTION_VARS[var]
                    entry[key] = port_number(value, "all") if key == "port" else str(value)
    if not hosts:
        raise bad("no hosts found", "An inventory for a site needs at least one host.")
    return {"name": name, "vars": site_vars, "hosts": hosts}


def import_inventory(name: str, fmt: str, text: str) -> dict[str, Any]:
    """Parse ``text`` as an inventory; returns a site description for sites.parse_site."""
    if fmt == "auto":
        fmt = guess_format("", text if isinstance(text, str) else "")
    if fmt not in FORMATS:
        raise BadRequest(f"unknown inventory format {fmt!r}", 'Use "ini", "yaml" or "auto".')
    if not isinstance(text, str) or not text.strip():
        raise bad("the file is empty", "Give an Ansible inventory file.")
    if len(text) > MAX_TEXT:
        raise bad(f"the file is larger than {MAX_TEXT} characters", "Split the site.")
    if "$ANSIBLE_VAULT;" in text:
        raise bad("the file is vault-encrypted", "Decrypt it first (ansible-vault decrypt).")
    inv = parse_ini(text) if fmt == "ini" else parse_yaml(text)
    return to_site(inv, name)


_YAML_KEY = re.compile(r"^[^\s=\[\]:]+:(\s|$)")  # "all:", "plant: {hosts: ...}", not "db1:2222"


def guess_format(filename: str, text: str) -> str:
    """``yaml`` or ``ini``: from the file name when it says, else from the content's first
    meaningful line (a group header or a host line is INI; a document start or a mapping key is
    YAML). An INI file of bare host names, or of ``host:port`` lines, stays INI."""
    if filename.endswith((".yml", ".yaml")):
        return "yaml"
    if filename.endswith(".ini"):
        return "ini"
    first = next(
        (ln.strip() for ln in text.splitlines() if ln.strip() and ln.strip()[0] not in "#;"), ""
    )
    if first.startswith("---") or _YAML_KEY.match(first):
        return "yaml"
    return "ini"


# -- export -------------------------------------------------------------------------------------
def _ini_value(value: Any) -> str:
    """A host-line value that Ansible reads back as the same value (literal_eval)."""
    if isinstance(value, str):
        # a plain word stays plain unless Ansible would read it as another type
        if value and re.fullmatch(r"[A-Za-z0-9_./@%+,:-]+", value) and literal(value) == value:
            return value
        return shlex.quote(repr(value))
    return shlex.quote(repr(value))


def _vars_value(value: Any) -> str:
    """A ``[group:vars]`` value (everything after '=', literal_eval'd by Ansible)."""
    plain = isinstance(value, str) and value and "\n" not in value and value == value.strip()
    return value if plain and literal(value) == value else repr(value)


def export_ini(site: Mapping[str, Any]) -> str:
    """The site (as sites.get_site returns it) as an Ansible INI inventory."""
    lines = [f"# site {site['name']}, exported by the appliance", ""]
    groups: dict[str, list[str]] = {}
    lines.append("[all]")
    for host in site["hosts"]:
        words = [host["name"], f"ansible_host={_ini_value(host['address'])}"]
        if host.get("port") and int(host["port"]) != 22:
            words.append(f"ansible_port={int(host['port'])}")
        if host.get("user"):
            words.append(f"ansible_user={_ini_value(host['user'])}")
        for key, value in (host.get("vars") or {}).items():
            words.append(f"{key}={_ini_value(value)}")
        lines.append(" ".join(words))
        for group in host.get("groups") or []:
            groups.setdefault(group, []).append(host["name"])
    for group, members in groups.items():
        lines += ["", f"[{group}]", *members]
    if site.get("vars"):
        lines += ["", "[all:vars]"]
        lines += [f"{k}={_vars_value(v)}" for k, v in site["vars"].items()]
    return "\n".join(lines) + "\n"
