"""The run engine's cost over plain Ansible, and how fast it stores events.

1. Overhead: wall time of a 50-task playbook (``command: true`` on localhost) run through the
   appliance (a real RunManager run: ansible-runner, the playbook face, events stored, log
   written) beside the same playbook with plain ``ansible-playbook``, alternating, median of
   REPEATS each. Target: overhead <= 10 %.
2. Ingestion: one run over 100 local hosts x 20 tasks (forks 20). Every event Ansible emitted
   (the highest event counter) must be stored, with no backlog: the last row is committed right
   after the last event was emitted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

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

REPEATS = 2
SERIAL_TASKS = 50
FANOUT_HOSTS, FANOUT_TASKS, FORKS = 100, 20, 20
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
LOCAL = {"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}


def _bundle_source(folder: Path, name: str, tasks: list[str], forks: int | None = None) -> Path:
    src = folder / name
    (src / "playbooks").mkdir(parents=True)
    (src / "bundle.yml").write_text(
        f"format: 1\nname: {name}\nversion: '1.0.0'\ncomponents:\n"
        "  - {name: work, version: '1', playbook: playbooks/work.yml}\n"
    )
    body = "".join(f"    - name: task {i}\n      {task}\n" for i, task in enumerate(tasks))
    (src / "playbooks" / "work.yml").write_text(
        f"- name: {name}\n  hosts: all\n  gather_facts: false\n  tasks:\n{body}"
    )
    if forks:
        (src / "ansible.cfg").write_text(f"[defaults]\nforks = {forks}\n")
    return src


def _plain(bundle: Path, folder: Path, data: Path, hosts: list[dict] | None = None) -> float:
    """The same playbook with plain ansible-playbook (the venv's), same inventory and env."""
    inventory = folder / "plain-inventory.yml"
    inventory.write_text(inventory_yaml(hosts or [LOCAL], {}))
    return play(bundle, inventory, plain_env(data))


def plain_env(data: Path) -> dict[str, str]:
    """The environment of a plain ansible-playbook run beside the appliance's."""
    return {
        **os.environ,
        **ansible_environment(data),
        "ANSIBLE_FORCE_COLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
    }


def play(bundle: Path, inventory: Path, env: dict[str, str], timeout: float = 900) -> float:
    """Wall seconds of ``ansible-playbook playbooks/work.yml`` in ``bundle``."""
    started = time.monotonic()
    subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), "playbooks/work.yml"],
        cwd=bundle,
        env=env,
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    return time.monotonic() - started


def _through_appliance(manager: RunManager, site: str, bundle: str) -> dict:
    started = time.monotonic()
    run = manager.start_run(site, bundle, "1.0.0")
    run = manager.wait(run["id"], 600)
    run["wall"] = time.monotonic() - started
    if run["state"] != "succeeded":
        raise RuntimeError(f"bench run failed: {run['error']}")
    return run


def overhead(ctx, manager: RunManager, bundle_path: Path, folder: Path) -> None:
    ours, plain = [], []
    for i in range(REPEATS):
        sites.create_site(
            ctx.store, sites.parse_site({"name": f"serial{i}", "vars": {}, "hosts": [LOCAL]})
        )
        ours.append(_through_appliance(manager, f"serial{i}", "bench-serial")["wall"])
        plain.append(_plain(bundle_path, folder, ctx.paths.root))
    a, b = statistics.median(ours), statistics.median(plain)
    pct = (a - b) / b * 100
    print(f"{SERIAL_TASKS}-task playbook on localhost (median of {REPEATS}, alternating)")
    print(
        f"  through the appliance (RunManager run)   {a:7.2f} s   runs: "
        + ", ".join(f"{x:.2f}" for x in ours)
    )
    print(
        f"  plain ansible-playbook (baseline)        {b:7.2f} s   runs: "
        + ", ".join(f"{x:.2f}" for x in plain)
    )
    print(f"  overhead {pct:+.1f} %   target <= 10 % -> {'MET' if pct <= 10 else 'NOT MET'}")


def ingestion(ctx, manager: RunManager, bundle_path: Path, folder: Path) -> None:
    hosts = [
        {"name": f"h{i:03d}", "address": "localhost", "vars": {"ansible_connection": "local"}}
        for i in range(FANOUT_HOSTS)
    ]
    sites.create_site(ctx.store, sites.parse_site({"name": "fanout", "vars": {}, "hosts": hosts}))
    stored_at: list[float] = []  # wall time when the row count last grew
    stop = threading.Event()

    def watch(run_id: int) -> None:
        last = -1
        while not stop.is_set():
            n = RunEvent.select().where(RunEvent.run == run_id).count()
            if n != last:
                last = n
                stored_at.append(time.time())
            time.sleep(0.01)
        ctx.store.db.close()

    started = time.monotonic()
    run = manager.start_run("fanout", "bench-fanout", "1.0.0")
    watcher = threading.Thread(target=watch, args=(run["id"],))
    watcher.start()
    run = manager.wait(run["id"], 600)
    time.sleep(0.5)  # the watcher's last look: rows committed after the run ended would show
    stop.set()
    watcher.join()
    wall = time.monotonic() - started
    if run["state"] != "succeeded":
        raise RuntimeError(f"bench run failed: {run['error']}")
    plain = _plain(bundle_path, folder, ctx.paths.root, hosts)
    events = list(
        RunEvent.select(RunEvent.counter, RunEvent.created_at)
        .where(RunEvent.run == run["id"])
        .order_by(RunEvent.counter)
    )
    emitted = max(e.counter for e in events)
    stored = len(events)
    first = datetime.fromisoformat(events[0].created_at).timestamp()
    last = datetime.fromisoformat(events[-1].created_at).timestamp()
    rate = stored / max(last - first, 1e-9)
    lag = (stored_at[-1] - last) * 1000
    print(
        f"{FANOUT_HOSTS} local hosts x {FANOUT_TASKS} tasks, forks {FORKS}: through the "
        f"appliance {wall:.1f} s, plain ansible-playbook {plain:.1f} s (baseline)"
    )
    print(f"  events emitted by Ansible (highest counter)  {emitted:7d}")
    print(
        f"  events stored                                {stored:7d}   "
        f"{'all stored' if stored == emitted else 'MISSING ' + str(emitted - stored)}"
    )
    print(
        f"  ingestion while the playbook ran             {rate:7.0f} events/s   "
        "(baseline: writer capacity ~7,900 rows/s, bench writer)"
    )
    print(
        f"  last event emitted -> last row stored        {lag:7.0f} ms   "
        f"(target: no backlog; watcher polls every 10 ms) -> "
        f"{'MET' if stored == emitted and lag < 1000 else 'NOT MET'}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ctx = open_context(load_settings(cli={"data_dir": str(folder / "data")}, env={}))
        manager = RunManager(ctx).start()
        ctx.services["runs"] = manager
        try:
            key, pub = generate_keypair(folder / "bench")
            bundle_jobs.add_key(ctx, pub)
            serial = _bundle_source(folder, "bench-serial", ["command: 'true'"] * SERIAL_TASKS)
            fanout = _bundle_source(
                folder,
                "bench-fanout",
                ["set_fact: {x: '{{ inventory_hostname }}'}"] * FANOUT_TASKS,
                forks=FORKS,
            )
            imported = {}
            for src in (serial, fanout):
                bundle, _ = bundle_jobs.import_file(ctx, build_bundle(src, key, folder))
                imported[bundle["name"]] = Path(
                    bundle_jobs.bundle_detail(bundle["name"], "1.0.0")["path"]
                )
            overhead(ctx, manager, imported["bench-serial"], folder)
            ingestion(ctx, manager, imported["bench-fanout"], folder)
        finally:
            ctx.close()
