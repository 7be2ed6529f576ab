"""Many hosts (issue 23): 200 local hosts x 20 tasks (``set_fact``, local connection, forks 50)
through the appliance (a real RunManager run: ansible-runner, events stored, log written) beside
plain ``ansible-playbook`` on the same inventory, forks and environment, in rounds that
alternate. Target: the appliance within 10 % of plain. Every event Ansible emitted (the highest
event counter) must be stored.

More lines split the overhead (one run each per round): plain ``ansible-playbook`` with the
appliance's stdout callback (``appliance_events``, its events read from the FIFO by
``runs/events.py``: Ansible's own cost of emitting them); and what ansible-runner alone would
cost, which the appliance no longer pays: plain ``ansible-playbook`` with ansible-runner's
``awx_display`` callback (a file per event), and ``ansible_runner.run`` alone with an event
handler that only counts (plus its pty reading and event decoding).

``python -m bench manyhosts``; BENCH_ROUNDS (default 2) rounds.
"""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.ansible_env import ansible_environment
from appliance.bundle import generate_keypair
from appliance.bundle.build import build_bundle
from appliance.context import open_context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.ansible.inventory import inventory_yaml
from appliance.jobs.runs.manager import RunManager
from appliance.settings import load_settings
from appliance.store import sites
from appliance.store.models import RunEvent
from bench.runs import ANSIBLE_PLAYBOOK, _bundle_source, _through_appliance, plain_env, play

HOSTS, TASKS, FORKS = 200, 20, 50
TARGET = 10.0  # per cent over plain ansible-playbook


def _cpu() -> float:
    """CPU seconds of this process (the appliance: runner thread, writer) and its children
    (ansible-playbook and its forks): on a loaded machine the wall time wobbles, this less."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


OWN: dict[int, float] = {}  # id(cpu list) -> CPU seconds of this process alone, last call


def _timed(cpu: list[float], fn: Callable[..., Any], *args: Any) -> Any:
    before, own = _cpu(), resource.getrusage(resource.RUSAGE_SELF)
    result = fn(*args)
    cpu.append(_cpu() - before)
    after = resource.getrusage(resource.RUSAGE_SELF)
    OWN[id(cpu)] = after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime
    return result


def _callback_env(data: Path) -> dict[str, str]:
    """The callback settings ansible-runner gives ansible-playbook (its config/_base.py)."""
    import ansible_runner.display_callback as dc

    env = plain_env(data)
    callbacks = str(Path(dc.__file__).parent / "callback")
    artifacts = Path(data) / "bench-artifacts"
    (artifacts / "job_events").mkdir(parents=True, exist_ok=True)
    env.update(
        ANSIBLE_CALLBACK_PLUGINS=callbacks,
        ANSIBLE_STDOUT_CALLBACK="awx_display",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        AWX_ISOLATED_DATA_DIR=str(artifacts),
    )
    return env


def _lean(bundle: Path, inventory: Path, data: Path, folder: Path) -> tuple[float, int]:
    """Plain ``ansible-playbook`` with the appliance's callback, its FIFO read by a thread."""
    from appliance.jobs.runs.events import EventPipe, use_pipe

    pipe = EventPipe(Path(tempfile.mkdtemp(dir=folder, prefix="lean-")))
    env = plain_env(data)
    use_pipe(env, pipe)
    try:
        wall = play(bundle, inventory, env)
    finally:
        events = pipe.close()
    return wall, len(events)


def _runner_alone(bundle: Path, inventory: Path, data: Path, folder: Path) -> tuple[float, int]:
    import ansible_runner

    count = [0]

    def handler(event: dict) -> bool:
        count[0] += 1
        return False

    private = Path(tempfile.mkdtemp(dir=folder, prefix="runner-"))
    env = {k: v for k, v in ansible_environment(data).items()}
    env["ANSIBLE_FORCE_COLOR"] = "1"
    env["PATH"] = f"{ANSIBLE_PLAYBOOK.parent}:{os.environ.get('PATH', '')}"
    started = time.monotonic()
    result = ansible_runner.run(
        private_data_dir=str(private),
        project_dir=str(bundle),
        playbook="playbooks/work.yml",
        inventory=str(inventory),
        envvars=env,
        settings={"pexpect_timeout": 0.2, "pexpect_use_poll": True},
        event_handler=handler,
        quiet=True,
    )
    wall = time.monotonic() - started
    if result.status != "successful":
        raise RuntimeError(f"runner alone: {result.status}")
    return wall, count[0]


def _line(label: str, times: list[float], base: float | None = None) -> str:
    m = statistics.median(times)
    rel = f"  {(m - base) / base * 100:+6.1f} %" if base else " " * 10
    runs = ", ".join(f"{t:.1f}" for t in times)
    return f"  {label:<46} {m:7.1f} s{rel}   runs: {runs}"


def main() -> None:
    rounds = int(os.environ.get("BENCH_ROUNDS", "2"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "data"
        ctx = open_context(load_settings(cli={"data_dir": str(data)}, env={}))
        manager = RunManager(ctx).start()
        ctx.services["runs"] = manager
        try:
            key, pub = generate_keypair(folder / "bench")
            bundle_jobs.add_key(ctx, pub)
            src = _bundle_source(
                folder,
                "bench-hosts",
                ["set_fact: {x: '{{ inventory_hostname }}'}"] * TASKS,
                forks=FORKS,
            )
            bundle, _ = bundle_jobs.import_file(ctx, build_bundle(src, key, folder))
            path = Path(bundle_jobs.bundle_detail(bundle["name"], "1.0.0")["path"])
            hosts = [
                {
                    "name": f"h{i:03d}",
                    "address": "localhost",
                    "vars": {"ansible_connection": "local"},
                }
                for i in range(HOSTS)
            ]
            inventory = folder / "plain-inventory.yml"
            inventory.write_text(inventory_yaml(hosts, {}))
            times: dict[str, list[float]] = {
                "ours": [],
                "plain": [],
                "lean": [],
                "callback": [],
                "runner": [],
            }
            cpu: dict[str, list[float]] = {k: [] for k in times}
            counts: list[tuple[int, int]] = []
            runner_events = lean_events = 0
            load = os.getloadavg()
            for i in range(rounds):
                site = f"hosts{i}"
                sites.create_site(
                    ctx.store, sites.parse_site({"name": site, "vars": {}, "hosts": hosts})
                )
                env = plain_env(ctx.paths.root)
                times["plain"].append(_timed(cpu["plain"], play, path, inventory, env))
                run = _timed(cpu["ours"], _through_appliance, manager, site, "bench-hosts")
                times["ours"].append(run["wall"])
                time.sleep(0.5)  # the last batch reaches the writer
                counters = [
                    e.counter
                    for e in RunEvent.select(RunEvent.counter).where(RunEvent.run == run["id"])
                ]
                counts.append((len(counters), max(counters)))
                wall, lean_events = _timed(
                    cpu["lean"], _lean, path, inventory, ctx.paths.root, folder
                )
                times["lean"].append(wall)
                env = _callback_env(ctx.paths.root)
                times["callback"].append(_timed(cpu["callback"], play, path, inventory, env))
                wall, runner_events = _timed(
                    cpu["runner"], _runner_alone, path, inventory, ctx.paths.root, folder
                )
                times["runner"].append(wall)
            load_after = os.getloadavg()
        finally:
            ctx.close()
    base = statistics.median(times["plain"])
    pct = (statistics.median(times["ours"]) - base) / base * 100
    print(f"{HOSTS} local hosts x {TASKS} tasks, forks {FORKS}, median of {rounds} (alternating)")
    labels = {
        "plain": "plain ansible-playbook (baseline)",
        "lean": "plain + our callback (appliance_events, FIFO)",
        "ours": "through the appliance (RunManager run)",
        "callback": "not ours: plain + ansible-runner's awx_display",
        "runner": "not ours: ansible_runner.run alone (awx_display)",
    }
    cpu_base = statistics.median(cpu["plain"])
    print("  wall time")
    for key, label in labels.items():
        print(_line(label, times[key], None if key == "plain" else base))
    print("  CPU time (this process + children: less sensitive to the machine's load)")
    for key, label in labels.items():
        print(_line(label, cpu[key], None if key == "plain" else cpu_base))
    for key in ("runner", "ours"):
        print(
            f"    of which in this process ({labels[key].split(' (')[0]}, last round): "
            f"{OWN.get(id(cpu[key]), 0):.1f} s ("
            + ("FIFO reading, our handler, the writer)" if key == "ours" else "pty, decoding)")
        )
    print(
        f"  overhead {pct:+.1f} %   target <= {TARGET:.0f} % -> "
        + ("MET" if pct <= TARGET else "NOT MET")
    )
    stored_all = all(s == e for s, e in counts)
    print(
        "  events stored / emitted per run: "
        + ", ".join(f"{s}/{e}" for s, e in counts)
        + f"   ({'all stored' if stored_all else 'MISSING'}; plain with our callback sent "
        + f"{lean_events}, runner alone with awx_display saw {runner_events})"
    )
    print(
        f"  load average before {load[0]:.2f} {load[1]:.2f}, after {load_after[0]:.2f} "
        f"{load_after[1]:.2f} (2 cores)"
    )
