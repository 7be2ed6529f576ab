"""Day two: a run with action ``operate`` (a component's start, stop or restart, declared in
its bundle as ``operations``): one step, limited to the hosts asked for. Pure, like plan.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.bundle import Manifest
from appliance.bundle.manifest import OPERATIONS
from appliance.errors import BadRequest, Unprocessable

OPERATE = "operate"


@dataclass(frozen=True)
class Operation:
    component: str
    operation: str  # start | stop | restart
    hosts: tuple[str, ...] = ()  # empty: every host of the site


def operation_request(data: Mapping[str, Any]) -> Operation:
    """``{"component", "operation", "hosts"?}`` (checked for shape by the caller)."""
    if data["operation"] not in OPERATIONS:
        raise BadRequest(
            f"unknown operation {data['operation'][:40]!r}",
            f"Use one of: {', '.join(OPERATIONS)}.",
        )
    return Operation(data["component"], data["operation"], tuple(data.get("hosts") or ()))


def operate_steps(
    manifest: Manifest, installed: Mapping[str, Any], operation: Operation | None
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """The one step of an operation, or Unprocessable saying what the bundle declares."""
    if operation is None:
        raise BadRequest(
            "action operate needs a component and an operation",
            "Use POST /api/sites/<site>/operations or `appliance service`.",
        )
    where = f"{manifest.name} {manifest.version}"
    declared = {c.name: c for c in manifest.components if c.operations}
    if not declared:
        raise Unprocessable(
            f"{where} declares no operations for any component",
            "Only a bundle that declares `operations` (docs/bundle-format.md) can start, stop "
            "or restart its components.",
        )
    component = declared.get(operation.component)
    if component is None:
        raise Unprocessable(
            f"{where} declares no operations for component {operation.component[:60]!r}",
            f"Components with operations: {', '.join(declared)}.",
        )
    if operation.component not in installed:
        raise Unprocessable(
            f"component {operation.component} is not installed on the site",
            "Install it first.",
        )
    playbook = component.operations.get(operation.operation)
    if playbook is None:
        raise Unprocessable(
            f"{where} declares no {operation.operation} for {component.name}",
            f"{component.name} declares: {', '.join(component.operations)}.",
        )
    extra = {"component": component.name, "limit": tuple(operation.hosts)}
    return [("operation", operation.operation, playbook, extra)]


def check_hosts(operation: Operation, hosts: Sequence[str]) -> None:
    unknown = [h for h in operation.hosts if h not in hosts]
    if unknown:
        raise BadRequest(
            f"the site has no host {unknown[0][:60]!r}",
            f"Hosts of the site: {', '.join(hosts[:20])}.",
        )
