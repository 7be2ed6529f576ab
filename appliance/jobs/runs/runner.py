"""One step of a run: one ansible-runner invocation in its own private_data_dir.

The private_data_dir is self-contained, so the same folder re-runs unchanged with the plain
``ansible-runner run <dir> -p <playbook> --inventory <dir>/inventory/hosts.yml`` command line
(scale-out to another engine)::

    project -> the run's view of the bundle (runs/<id>/project, see project.py)
    inventory -> the site's inventory folder (sites/<id>/inventory, kept between runs)
    inventory/hosts.yml   the site's hosts (see inventory.py); local ones with backup_dir
    env/envvars           PATH (this appliance's launchers first), ANSIBLE_*, APPLIANCE_*
    env/extravars         bundle_name, bundle_version, backup_id, component_versions
    env/settings          pexpect_timeout (how often the cancel callback runs)
    env/cmdline           --check --diff for a check step
    artifacts/<ident>/    what ansible-runner writes (rc, status; stdout only on a plain re-run)

Events come through the appliance's own callback and FIFO (events.py; ansible-runner's terminal
keeps prompts, warnings and Ansible's own errors, its ``verbose`` events), numbered in one
order, go to ``on_event`` (stored through the writer by the caller) and their stdout to the
run's log. Cancel: the callback SIGTERMs the whole process group of ``ansible-playbook`` (pexpect
starts it as a session and group leader), then lets ansible-runner SIGKILL the group after the
grace period; whatever still lives in the group after that is killed too.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from appliance.jobs.ansible.secrets import RunnerSecrets
from appliance.jobs.ansible.syntax import first_error
from appliance.jobs.runs import processes
from appliance.jobs.runs.events import EventPipe, use_pipe
from appliance.jobs.runs.log import RunLog
from appliance.store.events import step_stats

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2  # pexpect_timeout: the cancel callback runs at least this often
GRACE_SECONDS = 1.0  # between SIGTERM and SIGKILL of the process group

# event -> status stored with it
_STATUS = {
    "runner_on_ok": "ok",
    "runner_item_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_item_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
    "runner_item_on_skipped": "skipped",
    "runner_on_start": "started",
    "runner_retry": "retry",
}


@dataclass(frozen=True)
class StepSpec:
    private_dir: Path
    project: Path  # the bundle folder
    playbook: str  # relative to the project
    inventory: str  # YAML text
    envvars: Mapping[str, str]
    extravars: Mapping[str, Any]
    check: bool = False
    # The site's persistent inventory folder (inventory/ links to it); None: a folder of its own
    inventory_dir: Path | None = None
    # The site's credentials: handed over through ansible-runner's ssh_key / passwords (never
    # in a file of the private_data_dir), and redacted from what the step reports.
    secrets: RunnerSecrets = field(default_factory=RunnerSecrets)
    limit: tuple[str, ...] = ()  # only these hosts (an operation asked for some); empty: all


@dataclass
class StepOutcome:
    status: str  # successful | failed | cancelled | error
    rc: int | None
    failure: str | None = None  # the failure that failed the step, as "host: message"
    unreachable: bool = False
    events: int = 0
    pid: int | None = None
    # {host: {ok, changed, ...}} from the step's playbook_on_stats; None: the playbook never
    # reached its recap (cancelled, killed, or it did not start)
    stats: dict[str, dict[str, int]] | None = None
    # the run-wide custom stats (set_stats, per_host: false) of the recap; {} without one
    custom: dict[str, Any] = field(default_factory=dict)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class _Failures:
    """Which failure failed the step, decided once it ended: a task's ``runner_on_failed``
    does not say whether a ``rescue:`` handled it, the step's stats do."""

    redact: Callable[[str], str]
    first: tuple[str, bool] | None = None  # the first failure not ignored (without stats)
    last: dict[str, tuple[int, str, bool]] = field(default_factory=dict)  # host -> its last
    error_output: list[str] = field(default_factory=list)  # Ansible's own error text
    seen: int = 0

    def event(self, name: str | None, event: Mapping[str, Any]) -> None:
        self.seen += 1
        data = event.get("event_data") or {}
        if name in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            res = data.get("res") if isinstance(data.get("res"), dict) else {}
            message = res.get("msg") or res.get("stderr") or "failed"
            text = self.redact(f"{data.get('host')}: " + " ".join(str(message).split()))
            unreachable = name == "runner_on_unreachable"
            self.last[str(data.get("host"))] = (self.seen, text, unreachable)
            if self.first is None:
                self.first = (text, unreachable)
        elif name == "verbose":  # output outside any task: Ansible's own error lines
            stdout = event.get("stdout")
            if stdout and len(self.error_output) < 50:
                self.error_output.extend(_ANSI.sub("", stdout).splitlines())

    def decide(
        self, stats: Mapping[str, Mapping[str, int]] | None, project: Path
    ) -> tuple[str | None, bool]:
        """The first failure neither rescued nor ignored (each failed host's last failure, the
        earliest of those), or the unreachable host; Ansible's error when no task failed."""
        if stats is not None:
            hosts = [h for h, c in stats.items() if c.get("failed") or c.get("unreachable")]
            found = sorted(self.last[h] for h in hosts if h in self.last)
            if found:
                return self.redact(found[0][1]), found[0][2]
            if hosts:
                return f"{hosts[0]}: failed", bool(stats[hosts[0]].get("unreachable"))
        elif self.first is not None:
            return self.first
        if any(_is_error(line) for line in self.error_output):
            return self.redact(first_error("\n".join(self.error_output), project)), False
        return None, False


def _is_error(line: str) -> bool:
    line = line.strip()
    return line.startswith("[ERROR]:") or line.startswith("ERROR!")


def _write(path: Path, text: str) -> None:
    """Write a file readers may see through a temporary name and os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def write_private(path: Path, data: bytes) -> None:
    """Write a file only this user may read (created 0600, moved into place)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _link(path: Path, target: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target, target_is_directory=True)
    os.replace(tmp, path)


def prepare(spec: StepSpec) -> None:
    """Write the private_data_dir (again, on a resume: the site may have changed)."""
    d = spec.private_dir
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    _link(d / "project", spec.project)
    inventory = d / "inventory"
    if spec.inventory_dir is not None:
        spec.inventory_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if inventory.is_dir() and not inventory.is_symlink():
            shutil.rmtree(inventory)  # a step prepared by an older appliance
        _link(inventory, spec.inventory_dir)
    _write(inventory / "hosts.yml", spec.inventory)

    def dump(value: Any) -> str:
        return yaml.safe_dump(value, sort_keys=True, default_flow_style=False, width=1000)

    _write(d / "env" / "envvars", dump(dict(spec.envvars)))
    _write(d / "env" / "extravars", dump(dict(spec.extravars)))
    _write(
        d / "env" / "settings", dump({"pexpect_timeout": POLL_SECONDS, "pexpect_use_poll": True})
    )
    cmdline = d / "env" / "cmdline"
    if spec.check:
        _write(cmdline, "--check --diff")
    else:
        cmdline.unlink(missing_ok=True)


def event_row(run_id: int, step_id: int, event: Mapping[str, Any]) -> dict[str, Any]:
    data = event.get("event_data") or {}
    name = event.get("event") or "unknown"
    status = _STATUS.get(name)
    if status == "failed" and data.get("ignore_errors"):
        status = "ignored"
    res = data.get("res") if isinstance(data.get("res"), dict) else {}
    stdout = event.get("stdout") or None
    return {
        "run": run_id,
        "step": step_id,
        "counter": event.get("counter"),
        "event": name,
        "host": data.get("host"),
        "task": data.get("task") or data.get("name"),
        "status": status,
        "changed": name.startswith("runner_") and bool(res.get("changed", False)),
        "duration": data.get("duration"),
        "stdout": stdout.replace("\r\n", "\n") if stdout else None,
        "created_at": event.get("created") or "",
    }


@dataclass
class _Cancel:
    requested: Callable[[], bool]
    on_process: Callable[[int, int], None]
    pid: int | None = None
    pgid: int | None = None
    signalled_at: float | None = None
    cancelled: bool = False

    def __call__(self) -> bool:
        """ansible-runner's cancel_callback: True tells it to SIGKILL the process group."""
        if self.pgid is None:
            self._find_child()
        if self.signalled_at is None:
            if not self.requested():
                return False
            self.cancelled = True
            self.signalled_at = time.monotonic()
            if self.pgid is not None:
                processes.signal_group(self.pgid, signal.SIGTERM)
            else:  # no child seen yet: ansible-runner kills whatever it started
                return True
        return time.monotonic() - self.signalled_at >= GRACE_SECONDS

    def _find_child(self) -> None:
        # The callback runs on the thread that spawned ansible-playbook (Runner.run is
        # synchronous), so that thread's only child is it.
        for pid in processes.thread_children():
            try:
                pgid = os.getpgid(pid)
            except ProcessLookupError:
                continue
            if pgid != pid:  # pexpect makes the playbook a group leader; this is not it
                continue
            self.pid, self.pgid = pid, pgid
            self.on_process(pid, pgid)
            return

    def sweep(self) -> None:
        """After the step: nothing of a cancelled step may outlive it."""
        if self.pgid is None:
            return
        deadline = (self.signalled_at or time.monotonic()) + GRACE_SECONDS
        if not processes.wait_group_gone(self.pgid, deadline):
            processes.signal_group(self.pgid, signal.SIGKILL)
            processes.wait_group_gone(self.pgid, time.monotonic() + 2.0)


def run_step(
    spec: StepSpec,
    log: RunLog,
    *,
    on_event: Callable[[Mapping[str, Any]], None],
    should_cancel: Callable[[], bool],
    on_process: Callable[[int, int], None],
) -> StepOutcome:
    """Run one playbook with ansible-runner; returns when it ended (or was cancelled)."""
    from ansible_runner.interface import init_runner  # heavy; only a run needs it

    prepare(spec)
    outcome = StepOutcome(status="failed", rc=None)
    cancel = _Cancel(should_cancel, on_process)
    failures = _Failures(spec.secrets.redact)

    def handle_event(event: dict[str, Any]) -> bool:
        outcome.events += 1
        event["counter"] = outcome.events  # one order over the pipe's and the terminal's
        stdout = event.get("stdout")
        if stdout:
            log.write(stdout.replace("\r\n", "\n") + "\n")
        name = event.get("event")
        failures.event(name, event)
        if name == "playbook_on_stats":
            data = event.get("event_data") or {}
            outcome.stats = step_stats(data)
            custom = data.get("artifact_data")
            outcome.custom = custom if isinstance(custom, dict) else {}
        if outcome.pid is None and event.get("pid") and cancel.pgid is None:
            # Ansible's main process, in the group of the child ansible-runner started: only
            # while that is still our child (an event read after the process ended names a pid
            # the system may have given to anyone since, and cancel signals the group).
            pid = int(event["pid"])
            try:
                pgid = os.getpgid(pid)
            except ProcessLookupError:
                pgid = None
            if pgid is not None and processes.parent_of(pgid) == os.getpid():
                cancel.pid, cancel.pgid = pid, pgid
                on_process(pid, pgid)
        on_event(event)
        return False  # stored by us; no per-event JSON files in artifacts

    def take_piped() -> None:
        for piped in pipe.events() if pipe is not None else ():
            handle_event(piped)

    def from_terminal(event: dict[str, Any]) -> bool:
        take_piped()  # what the callback sent before this line came
        return handle_event(event)

    def tick() -> bool:
        take_piped()
        return cancel()

    pipe: EventPipe | None = None
    try:
        kwargs = spec.secrets.run_kwargs()
        # No artifacts/<ident>/stdout: the run's output.log has the same text (redacted; the
        # raw copy is not, and would hold password config values), and the copy cost a write
        # and a flush per event (a plain re-run of the folder still has it).
        kwargs["settings"] = {"suppress_output_file": True}
        pipe = EventPipe(spec.private_dir)
        runner = init_runner(
            private_data_dir=str(spec.private_dir),
            playbook=spec.playbook,
            # the file, not the folder: Ansible would read every file under it as inventory,
            # state the bundle keeps there included (inventory_dir is still this folder)
            inventory=str(spec.private_dir / "inventory" / "hosts.yml"),
            event_handler=from_terminal,
            cancel_callback=tick,
            quiet=True,
            cmdline=spec.secrets.cmdline("--check --diff" if spec.check else ""),
            limit=",".join(spec.limit) or None,
            **kwargs,
        )
        use_pipe(runner.config.env, pipe)
        runner.run()
        for piped in pipe.close():
            handle_event(piped)
        outcome.rc = runner.rc
        outcome.status = "successful" if runner.status == "successful" else "failed"
        if outcome.status == "failed":
            outcome.failure, outcome.unreachable = failures.decide(outcome.stats, spec.project)
    except Exception as e:  # the job runner boundary: the step fails, the run records why
        logger.exception("ansible-runner failed in %s", spec.private_dir)
        log.line(f"appliance: could not run {spec.playbook}: {e}")
        outcome.status = "error"
        outcome.failure = f"could not run {spec.playbook}: {e}"
    finally:
        for piped in pipe.close() if pipe is not None else ():  # after an error: what is left
            handle_event(piped)
        if cancel.cancelled:
            cancel.sweep()
    outcome.pid = cancel.pid
    if cancel.cancelled:
        outcome.status = "cancelled"
    return outcome
