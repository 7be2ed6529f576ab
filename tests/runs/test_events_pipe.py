"""A step's events through the appliance's own callback and FIFO (runs/events.py,
runs/callback/appliance_events.py): real ``ansible-playbook`` through ansible-runner on local
hosts, the step's events, log, stats and failure as the run engine sees them."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.ansible_env import ansible_environment
from appliance.jobs.runs import processes
from appliance.jobs.runs.events import EventPipe
from appliance.jobs.runs.log import RunLog
from appliance.jobs.runs.runner import StepOutcome, StepSpec, run_step
from tests.support.local import write_tree

BIN = Path(sys.executable).parent  # ansible-playbook of this environment


def inventory(n: int = 2) -> str:
    hosts = "".join(f"    h{i}: {{ansible_connection: local}}\n" for i in range(n))
    return f"all:\n  hosts:\n{hosts}  vars:\n    ansible_python_interpreter: {sys.executable}\n"


def step(
    tmp_path: Path,
    playbook: str,
    *,
    files: dict[str, str | bytes] | None = None,
    hosts: int = 2,
    cancel_when: Any = None,
) -> tuple[StepOutcome, list[dict[str, Any]], str, Path]:
    project = tmp_path / "project"
    write_tree(project, {"play.yml": playbook})
    for name, data in (files or {}).items():
        path = project / name
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)
    events: list[dict[str, Any]] = []
    env = {
        **ansible_environment(tmp_path / "data"),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    spec = StepSpec(
        private_dir=tmp_path / "private" / "1-work",
        project=project,
        playbook="play.yml",
        inventory=inventory(hosts),
        envvars=env,
        extravars={},
    )
    log = RunLog(tmp_path / "output.log")
    outcome = run_step(
        spec,
        log,
        on_event=events.append,
        should_cancel=(lambda: cancel_when(events)) if cancel_when else (lambda: False),
        on_process=lambda pid, pgid: None,
    )
    return outcome, events, (tmp_path / "output.log").read_text(), spec.private_dir


def test_every_event_in_order_with_what_ansible_displayed(tmp_path: Path) -> None:
    outcome, events, log, private = step(
        tmp_path,
        """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Say
      ansible.builtin.debug: {msg: hello}
    - name: Change
      ansible.builtin.command: "true"
    - name: Tolerated
      ansible.builtin.fail: {msg: tolerated}
      ignore_errors: true
    - name: Report
      ansible.builtin.set_stats: {data: {answer: 42}, per_host: false, aggregate: false}
""",
    )
    assert outcome.status == "successful", log
    assert [e["counter"] for e in events] == list(range(1, len(events) + 1))
    assert outcome.events == len(events)
    names = [e["event"] for e in events]
    assert names[0] == "playbook_on_start" and names[-1] == "playbook_on_stats"
    assert names.count("runner_on_start") == 8 and names.count("runner_on_ok") == 6
    failed = [e for e in events if e["event"] == "runner_on_failed"]
    assert len(failed) == 2 and all(e["event_data"]["ignore_errors"] for e in failed)
    assert failed[0]["event_data"]["res"]["msg"] == "tolerated"
    ok = next(e for e in events if e["event"] == "runner_on_ok")
    assert {"uuid", "created", "pid", "parent_uuid", "stdout"} <= set(ok)
    data = ok["event_data"]
    assert data["host"] in ("h0", "h1") and data["task"] == "Say"
    assert data["duration"] is not None and data["duration"] >= 0
    assert ok["parent_uuid"] == data["task_uuid"]
    assert "hello" in ok["stdout"]
    # the log is each event's text, in order: Ansible's own screen output
    assert log.index("TASK [Say]") < log.index("TASK [Change]") < log.index("PLAY RECAP")
    assert "...ignoring" in log
    # Ansible counts an ignored failure as ok too (its PLAY RECAP says the same)
    assert re.search(r"h0 +: ok=4 +changed=1 ", re.sub(r"\x1b\[[0-9;]*m", "", log))
    assert outcome.stats == {
        h: {
            "ok": 4,
            "changed": 1,
            "failed": 0,
            "unreachable": 0,
            "skipped": 0,
            "rescued": 0,
            "ignored": 1,
        }
        for h in ("h0", "h1")
    }
    assert outcome.custom == {"answer": 42}
    # nothing of the pipe stays; the folder is still ansible-runner's
    assert not (private / ".events.fifo").exists()
    assert not any(p.name.endswith("-partial.json") for p in private.rglob("*"))


def test_a_huge_output_and_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    outcome, events, log, _ = step(
        tmp_path,
        """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Big
      ansible.builtin.debug: {msg: "{{ 'y' * 3000000 }}"}
    - name: Odd bytes
      ansible.builtin.debug: {msg: "{{ lookup('ansible.builtin.file', 'odd.txt') }}"}
""",
        files={"odd.txt": b"caf\xe9 \xff end"},
        hosts=1,
    )
    assert outcome.status == "successful", log[-3000:]
    big = next(e for e in events if e["event"] == "runner_on_ok")
    assert big["event_data"]["res"]["msg"] == "y" * 3000000
    assert "y" * 3000000 in big["stdout"] and "y" * 3000000 in log
    odd = [e for e in events if e["event"] == "runner_on_ok"][1]
    assert "caf" in odd["stdout"] and "end" in odd["stdout"]
    odd["stdout"].encode("utf-8")  # stored and logged as valid text
    assert [e["counter"] for e in events] == list(range(1, len(events) + 1))


def test_ansibles_own_error_outside_any_task_fails_the_step(tmp_path: Path) -> None:
    outcome, events, log, _ = step(tmp_path, "- hosts: all\n  tasks:\n    - not_a_module: {}\n")
    assert outcome.status == "failed"
    assert outcome.failure and "not_a_module" in outcome.failure
    assert events and all(e["event"] == "verbose" for e in events)
    assert "not_a_module" in log


def test_warnings_outside_tasks_stay_verbose_events_in_their_place(tmp_path: Path) -> None:
    # an inventory host pattern matching nothing: Ansible warns before its first play
    outcome, events, log, _ = step(
        tmp_path,
        """\
- hosts: nosuchhost
  gather_facts: false
  tasks: [{ansible.builtin.debug: {msg: never}}]
- hosts: all
  gather_facts: false
  tasks: [{ansible.builtin.debug: {msg: once}}]
""",
        hosts=1,
    )
    assert outcome.status == "successful", log
    verbose = [e for e in events if e["event"] == "verbose"]
    assert any("nosuchhost" in e["stdout"] for e in verbose)
    assert [e["counter"] for e in events] == list(range(1, len(events) + 1))
    names = [e["event"] for e in events]
    assert names.index("verbose") < names.index("playbook_on_stats")


def test_cancel_mid_stream_stops_the_group_and_keeps_what_came(tmp_path: Path) -> None:
    tasks = "".join(f"    - ansible.builtin.set_fact: {{x{i}: {i}}}\n" for i in range(200))
    playbook = f"- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}"
    started = threading.Event()

    def cancel_when(events: list[dict[str, Any]]) -> bool:
        if sum(e["event"] == "runner_on_ok" for e in events) >= 20:
            started.set()
        return started.is_set()

    outcome, events, _, private = step(tmp_path, playbook, hosts=4, cancel_when=cancel_when)
    assert outcome.status == "cancelled"
    assert outcome.pid is not None
    assert processes.wait_group_gone(outcome.pid, time.monotonic())  # its group: gone
    assert sum(e["event"] == "runner_on_ok" for e in events) >= 20
    assert not any(e["event"] == "playbook_on_stats" for e in events)
    assert [e["counter"] for e in events] == list(range(1, len(events) + 1))
    assert not (private / ".events.fifo").exists()


def test_the_pipe_joins_lines_split_across_reads_and_ends_without_a_writer(
    tmp_path: Path,
) -> None:
    pipe = EventPipe(tmp_path)
    fd = os.open(pipe.path, os.O_WRONLY)
    line = json.dumps({"event": "runner_on_ok", "stdout": "x" * 300000}).encode() + b"\n"
    os.write(fd, line[:1000])
    got = list(pipe.events())
    os.write(fd, line[1000:] + b'{"event": "verbose"}\n{"cut')
    os.close(fd)
    got += pipe.close()
    assert [e["event"] for e in got] == ["runner_on_ok", "verbose"]
    assert got[0]["stdout"] == "x" * 300000
    assert pipe.bad == 1 and not pipe.path.exists()
    assert pipe.close() == []  # twice: nothing, no error
    # nobody ever opens it (ansible-playbook never started): closing does not wait for one
    assert EventPipe(tmp_path).close() == []


@pytest.mark.parametrize("name", ["appliance_events.py"])
def test_the_callback_is_package_data(name: str) -> None:
    from appliance.jobs.runs import events

    assert (events.CALLBACK_DIR / name).is_file()
    text = Path(__file__).parents[2].joinpath("pyproject.toml").read_text()
    assert "jobs/runs/callback/*.py" in text
    assert (
        "appliance/jobs/runs/callback"
        in Path(__file__).parents[2].joinpath("build.spec").read_text()
    )


def test_a_group_is_taken_from_an_event_only_while_its_leader_is_our_child() -> None:
    """An event read after ansible-playbook ended names a pid the system may have given to
    anyone since; cancel signals the whole group, so the run engine takes the group only while
    its leader is a child of this process."""
    import subprocess

    child = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        assert processes.parent_of(child.pid) == os.getpid()
        assert processes.parent_of(os.getpgid(os.getpid())) != os.getpid()  # our own group
    finally:
        child.kill()
        child.wait()
    assert processes.parent_of(child.pid) is None  # gone


def test_the_run_engine_never_signals_its_own_process_group() -> None:
    import signal

    # a real SIGTERM to our group would end this test session (and what started it)
    assert processes.signal_group(os.getpgrp(), signal.SIGTERM) is False
    assert processes.signal_group(1, signal.SIGTERM) is False
