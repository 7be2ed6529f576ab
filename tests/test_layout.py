"""The layout's rules (docs/architecture.md), checked on the source: arrows point down only,
nothing outside ``store/`` touches the models or runs SQL, states are written down once, and
no module grows past a size a reader can hold."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "appliance"
MAX_LINES = 400

# Lower layers never import higher ones. Modules in the same layer may import each other.
LAYERS = [
    # leaves
    {
        "appliance",
        "appliance.states",
        "appliance.paths",
        "appliance.clock",
        "appliance.errors",
        "appliance.compat",
        "appliance.signals",
        "appliance.logs",
        "appliance.settings",
        "appliance.validate",
        "appliance.ansible_env",
        "appliance.python_face",
        "appliance.zipcode",
    },
    {"appliance.store"},
    {"appliance.bundle", "appliance.context"},
    {"appliance.jobs.ansible"},
    {
        "appliance.jobs.runs",
        "appliance.jobs.streams",
        "appliance.jobs.sites",
        "appliance.jobs.reports",
        "appliance.jobs.bundles",
        "appliance.jobs.retention",
        "appliance.jobs.datafolder",
        "appliance.jobs.removal",
        "appliance.jobs.keys",
        "appliance.jobs.logsearch",
        "appliance.jobs.support",
    },
    {"appliance.jobs.daytwo"},  # status runs steps (runs/runner); it listens to the run manager
    {"appliance.jobs.schedules"},
    {"appliance.backend"},
    {"appliance.desktop"},
    {"appliance.cli"},
    {"appliance.faces", "appliance.__main__"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(name: str) -> int:
    best, best_len = -1, -1
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = rank, len(prefix)
    if best < 0:
        raise AssertionError(f"{name} is in no layer: add it to LAYERS and docs/architecture.md")
    return best


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from appliance.jobs import bundles` names a module, not only the package
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] == "appliance"]


SOURCES = sorted(ROOT.rglob("*.py"))


def test_sources_found() -> None:
    assert len(SOURCES) > 60


def test_arrows_point_down() -> None:
    wrong = []
    for path in SOURCES:
        here = module_name(path)
        rank = layer_of(here)
        for line, name in imports(path):
            target = name
            while target not in {"appliance"} and not _is_module(target):
                target = target.rsplit(".", 1)[0]  # `from pkg import name`: a name, not a module
            if layer_of(target) > rank:
                wrong.append(f"{path.relative_to(ROOT.parent)}:{line} {here} imports {target}")
    assert not wrong, "imports that point up:\n" + "\n".join(wrong)


def _is_module(name: str) -> bool:
    base = ROOT.parent.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def test_models_and_sql_only_in_the_store() -> None:
    wrong = []
    for path in SOURCES:
        if module_name(path).startswith("appliance.store"):
            continue
        text = path.read_text()
        for line, name in imports(path):
            if name.startswith("appliance.store.models"):
                wrong.append(f"{path.relative_to(ROOT.parent)}:{line} imports {name}")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in {"peewee", "sqlite3"}:
                wrong.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} imports {node.module}")
            if isinstance(node, ast.Import) and any(
                a.name in {"peewee", "sqlite3"} for a in node.names
            ):
                wrong.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} imports a database")
            if isinstance(node, ast.Attribute) and node.attr in {"execute_sql", "select", "raw"}:
                if node.attr == "select" and _is_select_module(node):
                    continue
                wrong.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} .{node.attr}(...)")
    assert not wrong, "queries outside store/:\n" + "\n".join(wrong)


def _is_select_module(node: ast.Attribute) -> bool:
    """``select.select(...)``, the stdlib module, is not a query."""
    return isinstance(node.value, ast.Name) and node.value.id == "select"


TERMINAL_WORDS = ("succeeded", "failed", "cancelled", "interrupted")


@pytest.mark.parametrize("suffix", [".py", ".js"])
def test_run_states_written_once(suffix: str) -> None:
    """No list, tuple or set literal of run states outside appliance/states.py (the page gets
    them from the server as static/js/states.js)."""
    literal = re.compile(r"[\[({]([^\[\](){}]*)[\])}]")
    wrong = []
    for path in sorted(ROOT.rglob(f"*{suffix}")):
        if path.name == "states.py":
            continue
        for match in literal.finditer(path.read_text()):
            words = {w for w in TERMINAL_WORDS if f'"{w}"' in match.group(1)}
            if len(words) >= 3:
                line = path.read_text()[: match.start()].count("\n") + 1
                wrong.append(f"{path.relative_to(ROOT.parent)}:{line} {match.group(0)[:80]}")
    assert not wrong, "run states written out again:\n" + "\n".join(wrong)


def test_no_module_too_long() -> None:
    long = {
        str(path.relative_to(ROOT.parent)): n
        for path in SOURCES
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them): {long}"
