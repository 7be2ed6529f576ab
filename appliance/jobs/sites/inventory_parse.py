"""Reading an Ansible inventory (INI or YAML) into groups and hosts, before flattening.

INI follows what Ansible's INI plugin does (2.19): values, on host lines and in ``[group:vars]``
alike, are Python literals when they parse as one (its documentation still says ``:vars`` values
stay strings; the code does not), otherwise strings.

Everything is bounded before it is built: a host range is counted arithmetically (``h[0:10**11]``
is refused without making one name), an inventory names at most MAX_HOSTS hosts and
MAX_MENTIONS host entries, groups nest at most MAX_DEPTH deep, and YAML is checked event by
event for depth and for the size its aliases expand to ("billion laughs") before it is loaded.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Mapping
from typing import Any

import yaml

from appliance.errors import BadRequest
from appliance.store.sites import MAX_HOSTS

MAX_MENTIONS = 100 * MAX_HOSTS  # host entries over all groups
MAX_DEPTH = 64  # nesting of YAML collections, and of groups in groups
MAX_YAML_NODES = 1_000_000  # scalars and collections after expanding aliases
_RANGE = re.compile(r"\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\]")
_MAX_DIGITS = 9  # a range bound or stride; larger is never a real host count


def bad(message: str, hint: str) -> BadRequest:
    return BadRequest(f"inventory: {message}", hint)


class Inventory:
    """Groups (vars, hosts, children) and hosts (vars) as read, before flattening."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, Any]] = {}
        self.hosts: dict[str, dict[str, Any]] = {}  # name -> vars
        self.host_defined: dict[str, str] = {}  # name -> where its vars were given
        self.mentions = 0

    def group(self, name: str) -> dict[str, Any]:
        return self.groups.setdefault(name, {"vars": {}, "hosts": {}, "children": []})

    def add_host(self, group: str, name: str, host_vars: Mapping[str, Any], where: str) -> None:
        members = self.group(group)["hosts"]
        if name in members:
            raise bad(
                f"host {name!r} is listed twice in group {group!r} ({where})",
                "List every host once per group.",
            )
        self.mentions += 1
        if self.mentions > MAX_MENTIONS:
            raise bad(
                f"more than {MAX_MENTIONS} host entries over all groups ({where})",
                "Split the inventory into smaller sites.",
            )
        if name not in self.hosts and len(self.hosts) >= MAX_HOSTS:
            raise bad(
                f"more than {MAX_HOSTS} hosts ({where})", "Split the inventory into smaller sites."
            )
        members[name] = None
        known = self.hosts.setdefault(name, {})
        if host_vars:
            if name in self.host_defined and dict(host_vars) != known:
                raise bad(
                    f"host {name!r} is defined twice with different variables "
                    f"({self.host_defined[name]} and {where})",
                    "Give a host's variables in one place only.",
                )
            self.host_defined.setdefault(name, where)
            known.update(host_vars)


# -- INI ----------------------------------------------------------------------------------------
def literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


def _range_values(match: re.Match, pattern: str, where: str) -> range:
    """The numbers (or letter codes) of one ``[a:b:stride]``, checked but not built."""
    start, end, stride_text = match.group(1), match.group(2), match.group(3) or "1"
    if start.isdigit() != end.isdigit():
        raise bad(f"bad range in {pattern!r} ({where})", "Use [01:10] or [a:f].")
    if max(len(start), len(end), len(stride_text)) > _MAX_DIGITS:
        raise bad(
            f"range in {pattern!r} has a number of more than {_MAX_DIGITS} digits ({where})",
            f"Use a range of 1..{MAX_HOSTS} hosts.",
        )
    stride = int(stride_text)
    if stride == 0:
        raise bad(f"range in {pattern!r} has a stride of 0 ({where})", "Use a stride of 1 or more.")
    first, last = (int(start), int(end)) if start.isdigit() else (ord(start), ord(end))
    return range(first, last + 1, stride)


def _expand(pattern: str, where: str) -> list[str]:
    """Ansible host ranges: ``web[01:03]``, ``db-[a:c]``, with an optional stride; several ranges
    in one name multiply. The count is checked before any name is made."""
    matches = list(_RANGE.finditer(pattern))
    if "[" in _RANGE.sub("", pattern) or "]" in _RANGE.sub("", pattern):
        raise bad(f"bad host pattern {pattern!r} ({where})", "Write ranges as name[01:10].")
    if not matches:
        return [pattern]
    ranges = [_range_values(m, pattern, where) for m in matches]
    total = 1
    for values in ranges:
        total *= len(values)  # a range's length is arithmetic: nothing is built
        if not values or total > MAX_HOSTS:
            count = f"more than {MAX_HOSTS}" if total > MAX_HOSTS else len(values)
            raise bad(
                f"range in {pattern!r} gives {count} hosts ({where})",
                f"Use a range of 1..{MAX_HOSTS} hosts.",
            )
    names = [""]
    cursor = 0
    for match, values in zip(matches, ranges, strict=True):
        text = pattern[cursor : match.start()]
        start = match.group(1)
        width = len(start) if start.isdigit() and start.startswith("0") else 0
        parts = [str(i).zfill(width) if start.isdigit() else chr(i) for i in values]
        names = [n + text + p for n in names for p in parts]
        cursor = match.end()
    return [n + pattern[cursor:] for n in names]


def parse_ini(text: str) -> Inventory:
    inv = Inventory()
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
                raise bad(
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
            raise bad(f"cannot read {where}: {e}", "Check the quotes on that line.") from e
        if not words:
            continue
        if kind == "vars":
            name, eq, value = line.partition("=")
            if not eq or not name.strip():
                raise bad(
                    f"expected key=value in [{section}:vars] ({where})",
                    "Write one variable per line as key=value.",
                )
            pending_vars.setdefault(section, where)
            inv.groups.setdefault(section, {"vars": {}, "hosts": {}, "children": []})
            inv.groups[section]["vars"][name.strip()] = literal(value.strip())
        elif kind == "children":
            if len(words) != 1:
                raise bad(
                    f"expected one group name per line in [{section}:children] ({where})",
                    "List one child group per line.",
                )
            inv.group(section)["children"].append((words[0], where))
        else:
            host_vars: dict[str, Any] = {}
            for word in words[1:]:
                key, eq, value = word.partition("=")
                if not eq or not key:
                    raise bad(
                        f"expected key=value after the host name, got {word!r} ({where})",
                        "Write host lines as NAME key=value ...",
                    )
                host_vars[key] = literal(value)
            name, port = words[0], None
            # name:port (IPv6 addresses have more colons; a range has one inside brackets)
            if re.sub(r"\[[^\]]*\]", "", words[0]).count(":") == 1:
                name, port = words[0].rsplit(":", 1)
                host_vars.setdefault("ansible_port", port_number(port, f"{words[0]} ({where})"))
            for host in _expand(name, where):
                inv.add_host(section, host, host_vars, where)
    for group, where in pending_vars.items():
        if group not in defined:
            raise bad(
                f"[{group}:vars] names a group that is not defined ({where})",
                f"Add a [{group}] section, or fix the group name.",
            )
    for group, info in inv.groups.items():
        for child, where in info["children"]:
            if child not in defined:
                raise bad(
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
            raise bad(
                f"{key!r} appears twice in one mapping (line {key_node.start_mark.line + 1})",
                "Define every host and group key once per mapping.",
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


def _vault(loader: _StrictLoader, node: yaml.Node) -> None:
    raise bad(
        f"vault-encrypted value at line {node.start_mark.line + 1}",
        "Decrypt it (ansible-vault decrypt), and put passwords in the site's credentials.",
    )


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_StrictLoader.add_constructor("!vault", _vault)
_StrictLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
# a date stays the text it was written as (a site's vars are JSON)
_StrictLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
)


def _check_yaml_size(text: str) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH, or whose aliases expand past MAX_YAML_NODES,
    from the parser's events alone (nothing is constructed; the parser does not recurse)."""
    anchored: dict[str, int] = {}  # anchor -> expanded size of its node
    stack: list[tuple[str | None, int]] = []  # open collections: (anchor, count at start)
    count = 0  # values so far, every alias counted as what it expands to
    for event in yaml.parse(text, Loader=_StrictLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            count += 1
            stack.append((event.anchor, count))
            if len(stack) > MAX_DEPTH:
                raise bad(
                    f"nested deeper than {MAX_DEPTH} levels (line {event.start_mark.line + 1})",
                    "Flatten the inventory.",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, start = stack.pop()
            if anchor is not None:
                anchored[anchor] = count - start + 1
        elif isinstance(event, yaml.AliasEvent):
            count += anchored.get(event.anchor, 1)
        elif isinstance(event, yaml.ScalarEvent):
            count += 1
            if event.anchor is not None:
                anchored[event.anchor] = 1
        if count > MAX_YAML_NODES:
            raise bad(
                f"the YAML expands to more than {MAX_YAML_NODES} values (aliases)",
                "Write the values out instead of nesting aliases.",
            )


def parse_yaml(text: str) -> Inventory:
    try:
        _check_yaml_size(text)
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as e:
        raise bad(f"not valid YAML: {' '.join(str(e).split())}", "Fix the YAML syntax.") from e
    if not isinstance(data, dict):
        raise bad(
            "the top level must be a mapping of groups (e.g. all:)",
            "Start the file with `all:` and put hosts under `all: hosts:`.",
        )
    inv = Inventory()
    inv.group("all")
    inv.group("ungrouped")

    def walk(name: Any, body: Any, path: str) -> None:
        if not isinstance(name, str) or not name:
            raise bad(f"group name {name!r} at {path} is not a string", "Name groups with text.")
        group = inv.group(name)
        if body is None:
            return
        if not isinstance(body, dict):
            raise bad(
                f"group {name!r} must be a mapping, not {type(body).__name__}",
                "Give a group hosts:, vars: and children: keys.",
            )
        unknown = set(body) - {"hosts", "vars", "children"}
        if unknown:
            raise bad(
                f"group {name!r} has unknown key(s) {', '.join(map(str, sorted(unknown)))}",
                "A group has only hosts:, vars: and children:.",
            )
        hosts = body.get("hosts") or {}
        if not isinstance(hosts, dict):
            raise bad(
                f"{path}.hosts must be a mapping of host names",
                "Write hosts as `name:` or `name: {ansible_host: ...}`.",
            )
        for host, host_vars in hosts.items():
            if host_vars is not None and not isinstance(host_vars, dict):
                raise bad(
                    f"vars of host {host!r} in {path} must be a mapping",
                    "Write `name: {key: value}`.",
                )
            inv.add_host(name, str(host), host_vars or {}, f"{path}.hosts")
        group_vars = body.get("vars") or {}
        if not isinstance(group_vars, dict):
            raise bad(f"{path}.vars must be a mapping", "Write vars as key: value.")
        group["vars"].update(group_vars)
        children = body.get("children") or {}
        if not isinstance(children, dict):
            raise bad(f"{path}.children must be a mapping of groups", "Write `children: {g: }`.")
        for child, child_body in children.items():
            if child not in group["children"]:
                group["children"].append(child)
            walk(child, child_body, f"{path}.children.{child}")

    for name, body in data.items():
        walk(name, body, str(name))
    return inv


# -- shared -------------------------------------------------------------------------------------
def port_number(value: Any, where: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise bad(f"invalid port {value!r} for {where}", "Use a port number 1..65535.")
    return int(text)
