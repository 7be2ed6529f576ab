"""Many hosts from the frozen binary (issue 23): 200 local hosts x 20 tasks (forks 50) run by
``dist/appliance run`` (the CLI of the shipped file, its own data folder, PATH without Python,
as tests/frozen/support.py runs it), timed from the command's start to its exit, beside plain
``ansible-playbook`` (the venv's) on the same inventory and forks, in rounds that alternate
which goes first. Target: the frozen appliance within 10 % of plain. Every event Ansible
emitted (the highest event counter) must be stored.

Of the 20 tasks per host, 18 are ``set_fact`` (as in ``bench manyhosts``: no process on the
host) and 2 are modules, ``command: true`` and ``stat: /``: the everyday action and check of an
install playbook, each an interpreter start per host (400 in all), which is where the frozen
build differs: local hosts run modules under the appliance's own interpreter, frozen the onedir
executable in the unpack cache (through the ``local_python`` script), where plain
``ansible-playbook`` runs them under the venv's ``python`` (``ansible_playbook_python``). The
binary starts slower than the venv's Python (~70 ms CPU to the first line of a script, against
~20) but keeps the code it compiles from the module payloads (appliance/zipcode.py), which the
venv's Python compiles at every module run: the first run of the frozen line fills that cache.

Two more lines split the difference (one run each per round): plain ``ansible-playbook`` with
the frozen binary as the hosts' Python (the same ``local_python`` script the frozen run uses:
the cost of the module starts alone), and the appliance from the source checkout (a RunManager
run in this process: the run engine alone, venv Python for modules).

``python -m bench frozenhosts``; BENCH_ROUNDS (default 2) rounds. Builds nothing: measures
dist/appliance (``make binary``) and says so when it is missing.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from appliance.bundle import generate_keypair
from appliance.bundle.build import build_bundle
from appliance.context import open_context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.ansible.inventory import inventory_yaml
from appliance.jobs.ansible.local_python import local_interpreter
from appliance.jobs.runs.manager import RunManager
from appliance.settings import load_settings
from appliance.store import sites
from appliance.store.models import Run, RunEvent
from bench.binary import binary_ready
from bench.manyhosts import FORKS, HOSTS, TARGET, TASKS, _line
from bench.runs import _bundle_source, _through_appliance, plain_env, play
from tests.frozen.support import BINARY, clean_env

SET_FACT = "set_fact: {x: '{{ inventory_hostname }}'}"
MODULE_TASKS = {6: "ansible.builtin.command: 'true'", 13: "ansible.builtin.stat: {path: /}"}
BUNDLE = "bench-frozen"


def _tasks() -> list[str]:
    return [MODULE_TASKS.get(i, SET_FACT) for i in range(TASKS)]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _binary(env: dict[str, str], *args: str, out: Path | None = None) -> str:
    """``dist/appliance ARGS`` as a laptop runs it; its stdout (to ``out`` when given)."""
    with open(out or os.devnull, "wb") as sink:
        proc = subprocess.run(
            [str(BINARY), *args],
            env=env,
            cwd=env["HOME"],
            stdin=subprocess.DEVNULL,
            stdout=sink if out else subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=1800,
        )
    if proc.returncode != 0:
        tail = out.read_text(errors="replace")[-3000:] if out else ""
        raise RuntimeError(
            f"appliance {' '.join(args)}: rc {proc.returncode}\n{tail}\n{proc.stderr}"
        )
    return "" if out else proc.stdout.decode()


def _site_args(hosts: list[dict]) -> list[str]:
    """The hosts as ``site add`` takes them: localhost, no interpreter (the appliance picks)."""
    return [arg for h in hosts for arg in ("--host", f"{h['name']}={h['address']}")]


def _events(data: Path) -> list[tuple[int, int]]:
    """(stored, highest counter) per run of the frozen data folder, oldest first."""
    ctx = open_context(load_settings(cli={"data_dir": str(data)}, env={}))
    try:
        found = []
        for run in Run.select().order_by(Run.id):
            counters = [
                e.counter for e in RunEvent.select(RunEvent.counter).where(RunEvent.run == run.id)
            ]
            found.append((len(counters), max(counters, default=0)))
        return found
    finally:
        ctx.close()


def main() -> None:
    if not binary_ready():
        return
    rounds = int(os.environ.get("BENCH_ROUNDS", "2"))
    base = Path(tempfile.mkdtemp(prefix="bench-frozenhosts-"))
    try:
        _bench(base, rounds)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _bench(base: Path, rounds: int) -> None:
    env = clean_env(base / "laptop")
    key, pub = generate_keypair(base / "bench")
    src = _bundle_source(base, BUNDLE, _tasks(), forks=FORKS)
    bundle_file = build_bundle(src, key, base)
    started = time.monotonic()
    _binary(env, "key", "add", str(pub))  # the first launch: unpacks into the cache
    first = time.monotonic() - started
    _binary(env, "bundle", "import", str(bundle_file))
    exe, version = _binary(
        env, "-c", "import sys; print(sys.executable, sys.version.split()[0])"
    ).rsplit(maxsplit=1)
    frozen_python = local_interpreter(exe)  # what the frozen run gives its local hosts
    hosts = [
        {"name": f"h{i:03d}", "address": "localhost", "vars": {"ansible_connection": "local"}}
        for i in range(HOSTS)
    ]
    inventory = base / "plain-inventory.yml"  # interpreter: ansible_playbook_python (the venv's)
    inventory.write_text(inventory_yaml(hosts, {}))
    as_binary = base / "binary-python-inventory.yml"
    as_binary.write_text(
        inventory_yaml(hosts, {}, {"ansible_python_interpreter": frozen_python or exe})
    )
    ctx = open_context(load_settings(cli={"data_dir": str(base / "source-data")}, env={}))
    manager = RunManager(ctx).start()
    ctx.services["runs"] = manager
    keys = ("plain", "binary_python", "source", "frozen")
    times: dict[str, list[float]] = {k: [] for k in keys}
    cpu: dict[str, list[float]] = {k: [] for k in keys}
    own_cpu: list[float] = []  # the source run's share in this process
    load = os.getloadavg()
    try:
        bundle_jobs.add_key(ctx, pub)
        bundle_jobs.import_file(ctx, bundle_file)
        plain_data = base / "plain-data"

        def plain(_: str) -> float:
            return play(src, inventory, plain_env(plain_data))

        def binary_python(_: str) -> float:
            return play(src, as_binary, plain_env(plain_data))

        def source(site: str) -> float:
            before = _self_cpu()
            wall = _through_appliance(manager, site, BUNDLE)["wall"]
            own_cpu.append(_self_cpu() - before)
            return wall

        def frozen(site: str) -> float:
            log = base / f"{site}.out"
            started = time.monotonic()
            _binary(env, "run", site, f"{BUNDLE}@1.0.0", "--action", "install", out=log)
            return time.monotonic() - started

        for i in range(rounds):
            site = f"hosts{i}"
            _binary(env, "site", "add", site, *_site_args(hosts))
            sites.create_site(
                ctx.store, sites.parse_site({"name": site, "vars": {}, "hosts": hosts})
            )
            order = [("plain", plain), ("frozen", frozen)]
            order += [("binary_python", binary_python), ("source", source)]
            if i % 2:
                order.reverse()
            for name, fn in order:
                before = _children_cpu() + _self_cpu()
                times[name].append(fn(site))
                cpu[name].append(_children_cpu() + _self_cpu() - before)
        load_after = os.getloadavg()
    finally:
        ctx.close()
    counts = _events(Path(env["APPLIANCE_DATA_DIR"]))
    caches = sorted(p.name for p in (Path(env["HOME"]) / ".cache" / "appliance").iterdir())
    _report(
        rounds,
        times,
        cpu,
        own_cpu,
        counts,
        first,
        f"{exe} (Python {version})",
        frozen_python,
        caches,
    )
    print(
        f"  load average before {load[0]:.2f} {load[1]:.2f}, after {load_after[0]:.2f} "
        f"{load_after[1]:.2f} ({os.cpu_count()} cores)"
    )


def _report(rounds, times, cpu, own_cpu, counts, first, exe, frozen_python, caches) -> None:
    modules = len(MODULE_TASKS)
    print(
        f"{HOSTS} local hosts x {TASKS} tasks ({TASKS - modules} set_fact, {modules} modules: "
        f"{HOSTS * modules} module runs), forks {FORKS}, median of {rounds} (alternating)"
    )
    labels = {
        "plain": "plain ansible-playbook, venv python (baseline)",
        "binary_python": "plain, the frozen binary as the hosts' Python",
        "source": "appliance from the source (RunManager run)",
        "frozen": "frozen appliance (`dist/appliance run`)",
    }
    base, cpu_base = statistics.median(times["plain"]), statistics.median(cpu["plain"])
    print("  wall time (frozen: the command's start to its exit)")
    for key, label in labels.items():
        print(_line(label, times[key], None if key == "plain" else base))
    print("  CPU time (every process: less sensitive to the machine's load)")
    for key, label in labels.items():
        print(_line(label, cpu[key], None if key == "plain" else cpu_base))
    if own_cpu:
        print(
            f"    of which in this process (the source run: runner, handler, writer): "
            f"{statistics.median(own_cpu):.1f} s"
        )
    for what, figures, baseline in (("wall", times, base), ("CPU", cpu, cpu_base)):
        pct = (statistics.median(figures["frozen"]) - baseline) / baseline * 100
        verdict = "MET" if pct <= TARGET else "NOT MET"
        print(f"  frozen overhead ({what}) {pct:+.1f} %   target <= {TARGET:.0f} % -> {verdict}")
    stored_all = bool(counts) and all(s == e and e > 0 for s, e in counts)
    print(
        "  frozen events stored / emitted per run: "
        + ", ".join(f"{s}/{e}" for s, e in counts)
        + f"   ({'all stored' if stored_all else 'MISSING'})"
    )
    print(f"  frozen module interpreter: {frozen_python} -> {exe}")
    print(f"  plain module interpreter: {sys.executable} (Python {platform.python_version()})")
    print(f"  first launch (unpacking, not measured above) {first:.1f} s; cache holds {caches}")
