"""bundle.yml: parse and check it strictly, dump it canonically.

The manifest is the signed part of a bundle, so everything it says is checked here once and
then trusted: every error names the field (``components[1].playbook must be a string``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from appliance import __version__
from appliance.bundle.ansiblereq import check_requires_ansible
from appliance.bundle.configspec import ConfigItem, check_requires, parse_items
from appliance.bundle.logdecl import parse_logs
from appliance.bundle.safety import check_no_collisions, check_relpath, show_value
from appliance.bundle.yamlread import is_int as _is_int
from appliance.bundle.yamlread import load_manifest_yaml as _load_yaml
from appliance.bundle.yamlread import type_name as _type
from appliance.errors import BundleError

FORMAT = 1
STAGES = ("preflight", "backup", "verify", "rollback")
MANIFEST_NAME = "bundle.yml"
SIGNATURE_NAME = "bundle.sig"
META_NAME = ".bundle-meta.json"  # written by import next to the files; never a bundle file
RESERVED_NAMES = frozenset({MANIFEST_NAME, SIGNATURE_NAME, META_NAME})

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
# The spec allows [0-9A-Za-z._+-]+; a version also names a folder (bundles/NAME/VERSION), so it
# must start with a letter or digit ("." and ".." would escape it).
VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._+-]*")
MAX_NAME_CHARS = 100
SHA256_RE = re.compile(r"sha256:([0-9a-fA-F]{64})")

_TOP_KEYS = (
    "format",
    "name",
    "version",
    "description",
    "upgrade_from",
    "expected_minutes",
    "components",
    "stages",
    "files",
    "config",
    "requires_appliance",
    "requires_ansible",
)
_COMPONENT_KEYS = ("name", "version", "playbook", "config")
_REQUIRED_COMPONENT_KEYS = ("name", "version", "playbook")
# day two (docs/bundle-format.md); logs: the component's log files (logdecl.py)
_COMPONENT_OPTIONAL = ("status", "operations", "logs")
OPERATIONS = ("start", "stop", "restart")
_HINT = "Fix bundle.yml (see docs/bundle-format.md) and build the bundle again."


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    playbook: str
    # day two: the status playbook (reports state, detail, version per host through set_stats)
    status: str | None = None
    # day two: operation (start | stop | restart) -> playbook
    operations: Mapping[str, str] = field(default_factory=dict)
    config: tuple[str, ...] = ()  # the config items it uses (reconfigure re-applies it)
    logs: tuple[str, ...] = ()  # globs of its log files on each host, templated per host

    def day_two_playbooks(self) -> list[str]:
        found = [self.status] if self.status else []
        return found + [self.operations[op] for op in OPERATIONS if op in self.operations]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "version": self.version}
        data["playbook"] = self.playbook
        if self.status:
            data["status"] = self.status
        if self.operations:
            data["operations"] = {
                op: self.operations[op] for op in OPERATIONS if op in self.operations
            }
        if self.logs:
            data["logs"] = list(self.logs)
        return data


@dataclass(frozen=True)
class Manifest:
    """A checked manifest. ``files`` maps each path to its lowercase sha256 hex digest."""

    name: str
    version: str
    components: tuple[Component, ...]
    files: Mapping[str, str] = field(default_factory=dict)
    upgrade_from: tuple[str, ...] = ()
    stages: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    expected_minutes: int | None = None
    format: int = FORMAT
    config: tuple[ConfigItem, ...] = ()
    requires_appliance: str | None = None
    requires_ansible: str | None = None  # a version specifier (ansiblereq.py)

    def playbooks(self) -> list[str]:
        """Every playbook the bundle runs, components first, each once, in order."""
        seen: dict[str, None] = {}
        for component in self.components:
            seen.setdefault(component.playbook)
        for stage in STAGES:
            if stage in self.stages:
                seen.setdefault(self.stages[stage])
        for component in self.components:
            for playbook in component.day_two_playbooks():
                seen.setdefault(playbook)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict in the manifest's own shape (hashes as ``sha256:<hex>``)."""
        data: dict[str, Any] = {
            "format": self.format,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "upgrade_from": list(self.upgrade_from),
            "expected_minutes": self.expected_minutes,
            "components": [c.to_json() for c in self.components],
            "stages": {stage: self.stages[stage] for stage in STAGES if stage in self.stages},
            "files": {path: "sha256:" + digest for path, digest in sorted(self.files.items())},
        }
        _add_config(data, self)
        return data


def _add_config(data: dict[str, Any], manifest: Manifest) -> None:
    """The config declarations, only where a manifest has them (format 1 dumps stay as they
    were without)."""
    for raw, component in zip(data["components"], manifest.components, strict=True):
        if component.config:
            raw["config"] = list(component.config)
    if manifest.config:
        data["config"] = [item.to_json() for item in manifest.config]
    if manifest.requires_appliance:
        data["requires_appliance"] = manifest.requires_appliance
    if manifest.requires_ansible:
        data["requires_ansible"] = manifest.requires_ansible


def dump_manifest(manifest: Manifest) -> bytes:
    """Canonical bundle.yml bytes: what ``build_bundle`` signs; parses back to ``manifest``."""
    data = manifest.to_json()
    if not data["description"]:
        del data["description"]
    if data["expected_minutes"] is None:
        del data["expected_minutes"]
    # Versions stay quoted strings in the dump, so "1.10" never turns into the number 1.1.
    text = yaml.safe_dump(
        data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000
    )
    return text.encode("utf-8")


def parse_manifest(data: bytes, *, source: bool = False) -> Manifest:
    """Parse and check bundle.yml bytes; refuse anything not exactly right with BundleError.

    ``source=True`` reads a bundle's source project manifest for ``build_bundle``: its
    ``files`` are ignored (build computes them) and playbooks are not yet checked against them.
    """
    doc = _load_yaml(data)
    if not isinstance(doc, dict):
        raise BundleError(f"bundle.yml must be a mapping, not {_type(doc)}", _HINT)
    # before anything else: a newer bundle's new keys are refused with the version it needs
    requires = check_requires(doc.get("requires_appliance"), __version__)
    unknown = [key for key in doc if key not in _TOP_KEYS]
    if unknown:
        raise BundleError(
            f"bundle.yml has unknown key {show_value(unknown[0])}",
            f"Allowed keys: {', '.join(_TOP_KEYS)}. {_HINT}",
        )
    for key in ("format", "name", "version", "components"):
        if key not in doc:
            raise BundleError(f"bundle.yml is missing {key}", _HINT)
    if not source and "files" not in doc:
        raise BundleError(
            "bundle.yml is missing files",
            "Build the bundle with 'appliance bundle build', which lists and hashes every file.",
        )

    fmt = doc["format"]
    if not _is_int(fmt):
        raise BundleError("format must be an integer", _HINT)
    if fmt != FORMAT:
        raise BundleError(
            f"bundle format {fmt} is not supported (this appliance reads format {FORMAT})",
            "Use an appliance release that reads this bundle format, or ask the vendor.",
        )
    name = _pattern(doc["name"], "name", NAME_RE, allow_number=False)
    version = _pattern(doc["version"], "version", VERSION_RE, allow_number=True)

    description = doc.get("description")
    if description is None:
        description = ""
    elif not isinstance(description, str):
        raise BundleError("description must be a string", _HINT)

    upgrade_from = doc.get("upgrade_from")
    if upgrade_from is None:
        upgrade_from = []
    if not isinstance(upgrade_from, list):
        raise BundleError("upgrade_from must be a list of version patterns", _HINT)
    patterns = tuple(_string(p, f"upgrade_from[{i}]", True) for i, p in enumerate(upgrade_from))
    for i, pattern in enumerate(patterns):
        if not pattern:
            raise BundleError(f"upgrade_from[{i}] is empty", _HINT)

    expected = doc.get("expected_minutes")
    if expected is not None and (not _is_int(expected) or expected <= 0):
        raise BundleError("expected_minutes must be a positive integer", _HINT)

    config = parse_items(doc.get("config"))
    components = _components(doc["components"])
    _check_component_config(components, config)
    stages = _stages(doc.get("stages"))
    files = {} if source else _files(doc["files"])

    manifest = Manifest(
        name=name,
        version=version,
        components=components,
        files=files,
        upgrade_from=patterns,
        stages=stages,
        description=description,
        expected_minutes=expected,
        config=config,
        requires_appliance=requires,
        requires_ansible=check_requires_ansible(doc.get("requires_ansible")),
    )
    if not source:
        check_playbooks_listed(manifest)
    return manifest


def check_playbooks_listed(manifest: Manifest) -> None:
    """Every playbook a component or stage runs must be one of the bundle's files."""
    for i, component in enumerate(manifest.components):
        if component.playbook not in manifest.files:
            raise BundleError(
                f"components[{i}].playbook {component.playbook} is not in files", _HINT
            )
        for playbook in component.day_two_playbooks():
            if playbook not in manifest.files:
                raise BundleError(
                    f"components[{i}] day-two playbook {playbook} is not in files", _HINT
                )
    for stage, playbook in manifest.stages.items():
        if playbook not in manifest.files:
            raise BundleError(f"stages.{stage} {playbook} is not in files", _HINT)


def _components(value: Any) -> tuple[Component, ...]:
    if not isinstance(value, list) or not value:
        raise BundleError("components must be a non-empty list", _HINT)
    out: list[Component] = []
    names: set[str] = set()
    for i, item in enumerate(value):
        where = f"components[{i}]"
        if not isinstance(item, dict):
            raise BundleError(f"{where} must be a mapping with name, version, playbook", _HINT)
        unknown = [key for key in item if key not in (*_COMPONENT_KEYS, *_COMPONENT_OPTIONAL)]
        if unknown:
            raise BundleError(f"{where} has unknown key {show_value(unknown[0])}", _HINT)
        for key in _REQUIRED_COMPONENT_KEYS:
            if key not in item:
                raise BundleError(f"{where} is missing {key}", _HINT)
        name = _pattern(item["name"], f"{where}.name", NAME_RE, allow_number=False)
        if name in names:
            raise BundleError(f"{where}.name {name} is used twice", _HINT)
        names.add(name)
        version = _pattern(item["version"], f"{where}.version", VERSION_RE, allow_number=True)
        playbook = check_relpath(
            _string(item["playbook"], f"{where}.playbook"), f"{where}.playbook"
        )
        status = item.get("status")
        if status is not None:
            status = check_relpath(_string(status, f"{where}.status"), f"{where}.status")
        operations = _operations(item.get("operations"), f"{where}.operations")
        uses = item.get("config", [])
        if not isinstance(uses, list) or not all(isinstance(u, str) for u in uses):
            raise BundleError(f"{where}.config must be a list of config item names", _HINT)
        logs = parse_logs(item.get("logs"), f"{where}.logs", _HINT)
        out.append(Component(name, version, playbook, status, operations, tuple(uses), logs))
    return tuple(out)


def _operations(value: Any, where: str) -> dict[str, str]:
    """``{start|stop|restart: playbook}``; absent or empty: no operations."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BundleError(f"{where} must be a mapping of operation to playbook", _HINT)
    out: dict[str, str] = {}
    for key, playbook in value.items():
        if key not in OPERATIONS:
            raise BundleError(
                f"{where} has unknown operation {show_value(key)}",
                f"Operations are {', '.join(OPERATIONS)}. {_HINT}",
            )
        out[key] = check_relpath(_string(playbook, f"{where}.{key}"), f"{where}.{key}")
    return {op: out[op] for op in OPERATIONS if op in out}


def _check_component_config(
    components: tuple[Component, ...], config: tuple[ConfigItem, ...]
) -> None:
    declared = {item.name for item in config}
    for i, component in enumerate(components):
        for name in component.config:
            if name not in declared:
                raise BundleError(
                    f"components[{i}].config names {show_value(name)}, which config does not "
                    "declare",
                    _HINT,
                )


def _stages(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BundleError("stages must be a mapping of stage to playbook", _HINT)
    out: dict[str, str] = {}
    for key, playbook in value.items():
        if key not in STAGES:
            raise BundleError(
                f"stages has unknown stage {show_value(key)}",
                f"Stages are {', '.join(STAGES)}. {_HINT}",
            )
        out[key] = check_relpath(_string(playbook, f"stages.{key}"), f"stages.{key}")
    return out


def _files(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise BundleError("files must be a mapping of path to sha256:<hex>", _HINT)
    out: dict[str, str] = {}
    for path, digest in value.items():
        if not isinstance(path, str):
            raise BundleError(f"files key {show_value(path)} must be a string", _HINT)
        where = f"files[{show_value(path)}]"
        check_relpath(path, f"files path {show_value(path)}")
        if path in RESERVED_NAMES:
            raise BundleError(f"files must not list {path}", _HINT)
        if not isinstance(digest, str):
            raise BundleError(f"{where} must be a string sha256:<hex>", _HINT)
        match = SHA256_RE.fullmatch(digest)
        if not match:
            raise BundleError(f"{where} must be sha256: followed by 64 hex digits", _HINT)
        out[path] = match.group(1).lower()
    # A file cannot also be a folder of another file: extraction would have to pick one.
    for path in out:
        for parent in parents(path):
            if parent in out or parent in RESERVED_NAMES:
                raise BundleError(f"files lists {parent} both as a file and as a folder", _HINT)
    check_no_collisions([*sorted(RESERVED_NAMES), *out], "files path")
    return dict(sorted(out.items()))


def parents(path: str) -> list[str]:
    """The folders above a relative path: ``a/b/c`` -> ``["a", "a/b"]``."""
    parts = path.split("/")
    return ["/".join(parts[:depth]) for depth in range(1, len(parts))]


def _pattern(value: Any, where: str, pattern: re.Pattern[str], *, allow_number: bool) -> str:
    text = _string(value, where, allow_number)
    if len(text) > MAX_NAME_CHARS or not pattern.fullmatch(text):
        raise BundleError(
            f"{where} {show_value(text)} is not valid (it must match {pattern.pattern}, at most "
            f"{MAX_NAME_CHARS} characters)",
            _HINT,
        )
    return text


def _string(value: Any, where: str, allow_number: bool = False) -> str:
    """A string; a YAML number is accepted where versions go (``version: 2`` means "2")."""
    if isinstance(value, str):
        return value
    if allow_number and (_is_int(value) or isinstance(value, float)):
        # YAML already turned 1.10 into 1.1 here; quoting versions in bundle.yml avoids that.
        return str(value)
    raise BundleError(f"{where} must be a string, not {_type(value)}", _HINT)
