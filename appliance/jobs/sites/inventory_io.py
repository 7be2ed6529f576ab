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

INI follows what Ansible's INI plugin does (2.19): values, on host lines and in ``[group:vars]``
alike, are Python literals when they parse as one (its documentation still says ``:vars`` values
stay strings; the code does not), otherwise strings.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Mapping
from typing import Any

import yaml

from appliance.errors import BadRequest

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
_RANGE = re.compile(r"\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\]")


def _bad(message: str, hint: str) -> BadRequest:
    return BadRequest(f"inventory: {message}", hint)


class _Inventory:
    """Groups (vars, hosts, children) and hosts (vars) as read, before flattening."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, Any]] = {}
        self.hosts: dict[str, dict[str, Any]] = {}  # name -> vars
        self.host_defined: dict[str, str] = {}  # name -> where its vars were given

    def group(self, name: str) -> dict[str, Any]:
        return self.groups.setdefault(name, {"vars": {}, "hosts": [], "children": []})

    def add_host(self, group: str, name: str, host_vars: Mapping[str, Any], where: str) -> None:
        members = self.group(group)["hosts"]
        if name in members:
            raise _bad(
                f"host {name!r} is listed twice in group {group!r} ({where})",
                "List every host once per group.",
            )
        members.append(name)
        known = self.hosts.setdefault(name, {})
        if host_vars:
            if name in self.host_defined and dict(host_vars) != known:
                raise _bad(
                    f"host {name!r} is defined twice with different variables "
                    f"({self.host_defined[name]} and {where})",
                    "Give a host's variables in one place only.",
                )
            self.host_defined.setdefault(name, where)
            known.update(host_vars)


# -- INI ----------------------------------------------------------------------------------------
def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


def _expand(pattern: str, where: str) -> list[str]:
    """Ansible host ranges: ``web[01:03]``, ``db-[a:c]``, with an optional stride."""
    match = _RANGE.search(pattern)
    if match is None:
        if "[" in pattern or "]" in pattern:
            raise _bad(f"bad host pattern {pattern!r} ({where})", "Write ranges as name[01:10].")
        return [pattern]
    start, end, stride = match.group(1), match.group(2), int(match.group(3) or 1)
    head, tail = pattern[: match.start()], pattern[match.end() :]
    if start.isdigit() != end.isdigit():
        raise _bad(f"bad range in {pattern!r} ({where})", "Use [01:10] or [a:f].")
    if start.isdigit():
        width = len(start) if start.startswith("0") else 0
        values = [str(i).zfill(width) for i in range(int(start), int(end) + 1, stride)]
    else:
        values = [chr(i) for i in range(ord(start), ord(end) + 1, stride)]
    if not values or len(values) > 1000:
        raise _bad(
            f"range in {pattern!r} gives {len(values)} hosts ({where})",
            "Use a range of 1..1000 hosts.",
        )
    return [h for v in values for h in _expand(head + v + tail, where)]


def parse_ini(text: str) -> _Inventory:
    inv = _Inventory()
    section, kind = "ungrouped", "hosts"
    pending_vars: dict[str, str] = {}  # group -> where its :vars started
    defined = {"all", "ungrouped"}
    inv.group("all")
    inv.group("ungrouped")
    for number, raw in enumerate(text.splitlines(), 1):
        where = f"line {number}"
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            match = re.fullmatch(
                r"\[([^\[\]:\s]+)(?::(vars|children|hosts))?\]\s*(?:[#;].*)?", line
            )
            if match is None:
                raise _bad(
                    f"bad section header {line!r} ({where})",
                    "Write [group], [group:vars] or [group:children].",
                )
            section, kind = match.group(1), match.group(2) or "hosts"
            if kind in ("hosts", "children"):
                inv.group(section)
                defined.add(section)
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            raise _bad(f"cannot read {where}: {e}", "Check the quotes on that line.") from e
        if not words:
            continue
        if kind == "vars":
            name, eq, value = line.partition("=")
            if not eq or not name.strip():
                raise _bad(
                    f"expected key=value in [{section}:vars] ({where})",
                    "Write one variable per line as key=value.",
                )
            pending_vars.setdefault(section, where)
            inv.groups.setdefault(section, {"vars": {}, "hosts": [], "children": []})
            inv.groups[section]["vars"][name.strip()] = _literal(value.strip())
        elif kind == "children":
            if len(words) != 1:
                raise _bad(
                    f"expected one group name per line in [{section}:children] ({where})",
                    "List one child group per line.",
                )
            inv.group(section)["children"].append((words[0], where))
        else:
            host_vars: dict[str, Any] = {}
            for word in words[1:]:
                key, eq, value = word.partition("=")
                if not eq or not key:
                    raise _bad(
                        f"expected key=value after the host name, got {word!r} ({where})",
                        "Write host lines as NAME key=value ...",
                    )
                host_vars[key] = _literal(value)
            name, port = words[0], None
            # name:port (IPv6 addresses have more colons; a range has one inside brackets)
            if re.sub(r"\[[^\]]*\]", "", words[0]).count(":") == 1:
                name, port = words[0].rsplit(":", 1)
                host_vars.setdefault("ansible_port", _port(port, f"{words[0]} ({where})"))
            for host in _expand(name, where):
                inv.add_host(section, host, host_vars, where)
    for group, where in pending_vars.items():
        if group not in defined:
            raise _bad(
                f"[{group}:vars] names a group that is not defined ({where})",
                f"Add a [{group}] section, or fix the group name.",
            )
    for group, info in inv.groups.items():
        for child, where in info["children"]:
            if child not in defined:
                raise _bad(
                    f"group {child!r} in [{group}:children] is not defined ({where})",
                    f"Add a [{child}] section, or remove it from [{group}:children].",
                )
        info["children"] = [c for c, _ in info["children"]]
    return inv


# -- YAML ---------------------------------------------------------------------------------------
class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys (PyYAML keeps the last one silently) and vault."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise _bad(
                f"{key!r} appears twice in one mapping (line {key_node.start_mark.line + 1})",
                "Define every host and group key once per mapping.",
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


def _vault(loader: _StrictLoader, node: yaml.Node) -> None:
    raise _bad(
        f"vault-encrypted value at line {node.start_mark.line + 1}",
        "Decrypt it (ansible-vault decrypt), and put passwords in the site's credentials.",
    )


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_StrictLoader.add_constructor("!vault", _vault)
_StrictLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def parse_yaml(text: str) -> _Inventory:
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as e:
        raise _bad(f"not valid YAML: {' '.join(str(e).split())}", "Fix the YAML syntax.") from e
    if not isinstance(data, dict):
        raise _bad(
            "the top level must be a mapping of groups (e.g. all:)",
            "Start the file with `all:` and put hosts under `all: hosts:`.",
        )
    inv = _Inventory()
    inv.group("all")
    inv.group("ungrouped")

    def walk(name: Any, body: Any, path: str) -> None:
        if not isinstance(name, str) or not name:
            raise _bad(f"group name {name!r} at {path} is not a string", "Name groups with text.")
        group = inv.group(name)
        if body is None:
            return
        if not isinstance(body, dict):
            raise _bad(
                f"group {name!r} must be a mapping, not {type(body).__name__}",
                "Give a group hosts:, vars: and children: keys.",
            )
        unknown = set(body) - {"hosts", "vars", "children"}
        if unknown:
            raise _bad(
                f"group {name!r} has unknown key(s) {', '.join(map(str, sorted(unknown)))}",
                "A group has only hosts:, vars: and children:.",
            )
        hosts = body.get("hosts") or {}
        if not isinstance(hosts, dict):
            raise _bad(
                f"{path}.hosts must be a mapping of host names",
                "Write hosts as `name:` or `name: {ansible_host: ...}`.",
            )
        for host, host_vars in hosts.items():
            if host_vars is not None and not isinstance(host_vars, dict):
                raise _bad(
                    f"vars of host {host!r} in {path} must be a mapping",
                    "Write `name: {key: value}`.",
                )
            inv.add_host(name, str(host), host_vars or {}, f"{path}.hosts")
        group_vars = body.get("vars") or {}
        if not isinstance(group_vars, dict):
            raise _bad(f"{path}.vars must be a mapping", "Write vars as key: value.")
        group["vars"].update(group_vars)
        children = body.get("children") or {}
        if not isinstance(children, dict):
            raise _bad(f"{path}.children must be a mapping of groups", "Write `children: {g: }`.")
        for child, child_body in children.items():
            if child not in group["children"]:
                group["children"].append(child)
            walk(child, child_body, f"{path}.children.{child}")

    for name, body in data.items():
        walk(name, body, str(name))
    return inv


# -- flattening into a site ---------------------------------------------------------------------
def _port(value: Any, where: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise _bad(f"invalid port {value!r} for {where}", "Use a port number 1..65535.")
    return int(text)


def _parents(inv: _Inventory) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = {g: set() for g in inv.groups}
    for group, info in inv.groups.items():
        for child in info["children"]:
            parents.setdefault(child, set()).add(group)
    return parents


def _depths(inv: _Inventory, parents: dict[str, set[str]]) -> dict[str, int]:
    depths: dict[str, int] = {}

    def depth(group: str, trail: tuple[str, ...]) -> int:
        if group in trail:
            raise _bad(
                f"groups form a cycle: {' -> '.join((*trail, group))}",
                "A group cannot be its own ancestor.",
            )
        if group not in depths:
            depths[group] = 1 + max((depth(p, (*trail, group)) for p in parents[group]), default=0)
        return depths[group]

    for group in inv.groups:
        depth(group, ())
    return depths


def to_site(inv: _Inventory, name: str) -> dict[str, Any]:
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
            raise _bad(
                f"host {host!r} has a password in the inventory ({', '.join(secret)})",
                "Remove it and set it with `appliance site credentials` (stored encrypted).",
            )
        entry: dict[str, Any] = {"name": host, "address": host, "port": 22}
        for var, field in CONNECTION_VARS.items():
            if var in merged:
                value = merged.pop(var)
                entry[field] = _port(value, f"host {host!r}") if field == "port" else str(value)
        target = (entry["address"], entry["port"])
        if target in seen_at:
            raise _bad(
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
                    entry[key] = _port(value, "all") if key == "port" else str(value)
    if not hosts:
        raise _bad("no hosts found", "An inventory for a site needs at least one host.")
    return {"name": name, "vars": site_vars, "hosts": hosts}


def import_inventory(name: str, fmt: str, text: str) -> dict[str, Any]:
    """Parse ``text`` as an inventory; returns a site description for sites.parse_site."""
    if fmt not in FORMATS:
        raise BadRequest(f"unknown inventory format {fmt!r}", 'Use "ini" or "yaml".')
    if not isinstance(text, str) or not text.strip():
        raise _bad("the file is empty", "Give an Ansible inventory file.")
    if len(text) > MAX_TEXT:
        raise _bad(f"the file is larger than {MAX_TEXT} characters", "Split the site.")
    if "$ANSIBLE_VAULT;" in text:
        raise _bad("the file is vault-encrypted", "Decrypt it first (ansible-vault decrypt).")
    inv = parse_ini(text) if fmt == "ini" else parse_yaml(text)
    return to_site(inv, name)


def guess_format(filename: str, text: str) -> str:
    if filename.endswith((".yml", ".yaml")):
        return "yaml"
    if filename.endswith(".ini"):
        return "ini"
    first = next(
        (ln.strip() for ln in text.splitlines() if ln.strip() and ln.strip()[0] != "#"), ""
    )
    return "ini" if first.startswith("[") or "=" in first else "yaml"


# -- export -------------------------------------------------------------------------------------
def _ini_value(value: Any) -> str:
    """A host-line value that Ansible reads back as the same value (literal_eval)."""
    if isinstance(value, str):
        # a plain word stays plain unless Ansible would read it as another type
        if value and re.fullmatch(r"[A-Za-z0-9_./@%+,:-]+", value) and _literal(value) == value:
            return value
        return shlex.quote(repr(value))
    return shlex.quote(repr(value))


def _vars_value(value: Any) -> str:
    """A ``[group:vars]`` value (everything after '=', literal_eval'd by Ansible)."""
    plain = isinstance(value, str) and value and "\n" not in value and value == value.strip()
    return value if plain and _literal(value) == value else repr(value)


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
