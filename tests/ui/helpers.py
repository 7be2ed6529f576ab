"""Runs made directly in the store (no Ansible): for the report and the big-log view."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from appliance.context import Context
from appliance.store.models import Bundle, Host, InstalledComponent, Run, RunEvent, RunStep, Site

STEPS = [
    ("preflight", "preflight", None, None, None),
    ("db", "component", "db", None, "1"),
    ("app", "component", "app", None, "1.0.0"),
    ("verify", "verify", None, None, None),
]


def make_run(
    ctx: Context,
    *,
    state: str = "failed",
    site: str = "acme",
    hosts: Iterable[str] = ("db1", "app1"),
    failed_step: int | None = 3,
    error: str | None = "step 3 app failed",
    hint: str | None = "Read the log.",
    events: Iterable[dict] = (),
) -> int:
    """A finished run with steps (the failed one at ``failed_step``) and task events."""
    hosts = list(hosts)
    now = ctx.store.now()

    def write() -> int:
        s = Site.create(name=site, vars={}, created_at=now)
        for h in hosts:
            Host.create(site=s, name=h, address=f"{h}.example.lan")
        b, _ = Bundle.get_or_create(
            name="acme-suite",
            version="1.0.0",
            defaults={
                "sha256": "0" * 64,
                "key_id": "k",
                "path": "/nonexistent",
                "manifest": {},
                "imported_at": now,
            },
        )
        run = Run.create(
            site=s,
            bundle=b,
            action="install",
            state=state,
            created_at=now,
            started_at=now,
            finished_at=now,
            error=error,
            hint=hint,
        )
        for idx, (name, kind, comp, old, new) in enumerate(STEPS, start=1):
            step_state = (
                "failed"
                if idx == failed_step
                else "pending"
                if failed_step and idx > failed_step
                else "succeeded"
            )
            step = RunStep.create(
                run=run,
                idx=idx,
                name=name,
                kind=kind,
                component=comp,
                playbook=f"playbooks/{name}.yml",
                from_version=old,
                to_version=new,
                state=step_state,
                started_at=now,
                finished_at=now,
                rc=2 if step_state == "failed" else 0,
            )
            for h in hosts:
                status = "failed" if step_state == "failed" and h == hosts[-1] else "ok"
                RunEvent.create(
                    run=run,
                    step=step,
                    counter=idx,
                    event=f"runner_on_{status}",
                    host=h,
                    task=f"{name} <check>",
                    status=status,
                    changed=kind == "component",
                    created_at=now,
                )
        for ev in events:
            RunEvent.create(run=run, created_at=now, **ev)
        if state == "succeeded":
            InstalledComponent.create(
                site=s,
                component="db",
                version="1",
                bundle_name="acme-suite",
                bundle_version="1.0.0",
                run_id=run.id,
                updated_at=now,
            )
        return run.id

    return ctx.store.write(write)


def write_log(ctx: Context, run_id: int, lines: Iterable[str]) -> Path:
    path = ctx.paths.run_log(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    return path
