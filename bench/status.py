"""Day two: one status refresh of a 20-host site (local hosts) beside a plain
``ansible-playbook`` run of the same status playbook with the same inventory, variables and
environment (alternating, median of REPEATS each). Target: within 20 %.

The refresh's extra cost is ansible-runner (events through its callback), reading the site
and its credentials, and storing the result; the playbook's own time is the same.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from appliance.bundle import generate_keypair
from appliance.bundle.build import build_bundle
from appliance.context import open_context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.daytwo import status
from appliance.settings import load_settings
from appliance.store import runs as run_rows
from appliance.store import sites

REPEATS = 3
HOSTS = 20
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
STATUS_PLAYBOOK = """\
- name: bench status
  hosts: all
  gather_facts: false
  tasks:
    - name: Look at the service's folder
      ansible.builtin.stat:
        path: /proc/1
        get_checksum: false
      register: bench_proc
    - name: Report
      ansible.builtin.set_stats:
        per_host: false
        data:
          appliance_status: "{{ {inventory_hostname: {'state': 'running' if bench_proc.stat.exists
            else 'stopped', 'version': '1', 'detail': 'pid 1'}} }}"
"""


def _bundle(folder: Path) -> tuple[Path, Path]:
    src = folder / "bench-status"
    (src / "playbooks").mkdir(parents=True)
    (src / "bundle.yml").write_text(
        "format: 1\nname: bench-status\nversion: '1.0.0'\ncomponents:\n"
        "  - {name: svc, version: '1', playbook: playbooks/svc.yml, "
        "status: playbooks/svc-status.yml}\n"
    )
    (src / "playbooks" / "svc.yml").write_text(
        "- name: svc\n  hosts: all\n  gather_facts: false\n  tasks: []\n"
    )
    (src / "playbooks" / "svc-status.yml").write_text(STATUS_PLAYBOOK)
    key, pub = generate_keypair(folder / "bench")
    return build_bundle(src, key, folder), pub


def _plain(private: Path) -> float:
    """The same playbook, inventory, extra vars and environment, with plain ansible-playbook."""
    envvars = yaml.safe_load((private / "env" / "envvars").read_text())
    started = time.monotonic()
    subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            str(private / "inventory" / "hosts.yml"),
            "-e",
            f"@{private / 'env' / 'extravars'}",
            "playbooks/svc-status.yml",
        ],
        cwd=private / "project",
        env={**os.environ, **envvars},
        check=True,
        capture_output=True,
        timeout=600,
    )
    return time.monotonic() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        folder = Path(tmp)
        settings = load_settings(cli={"data_dir": str(folder / "data")}, env={})
        ctx = open_context(settings)
        try:
            archive, pub = _bundle(folder)
            bundle_jobs.add_key(ctx, pub)
            bundle_jobs.import_file(ctx, archive)
            hosts = [
                {
                    "name": f"h{i:02d}",
                    "address": "localhost",
                    "vars": {"ansible_connection": "local"},
                }
                for i in range(1, HOSTS + 1)
            ]
            site = sites.create_site(
                ctx.store, sites.parse_site({"name": "twenty", "vars": {}, "hosts": hosts})
            )
            record = {
                "svc": {"version": "1", "bundle_name": "bench-status", "bundle_version": "1.0.0"}
            }
            ctx.store.write(run_rows.record_installed, site["id"], None, record, ctx.store.now())
            status.refresh(ctx, "twenty")  # warm-up: the bundle's view, caches
            private = status.status_dir(ctx, site["id"]) / "private" / "svc"
            ours, plain = [], []
            for _ in range(REPEATS):
                started = time.monotonic()
                result = status.refresh(ctx, "twenty")
                ours.append(time.monotonic() - started)
                assert result["overall"] == "healthy", result
                plain.append(_plain(private))
        finally:
            ctx.close()
    a, b = statistics.median(ours), statistics.median(plain)
    pct = (a - b) / b * 100
    print(f"status of a {HOSTS}-host local site (median of {REPEATS}, alternating)")
    print(f"  one refresh (ansible-runner, stored): {a:6.2f} s  {[round(x, 2) for x in ours]}")
    print(f"  plain ansible-playbook:               {b:6.2f} s  {[round(x, 2) for x in plain]}")
    print(f"  overhead: {pct:+.1f} % (target: within 20 %) {'OK' if pct <= 20 else 'OVER'}")


if __name__ == "__main__":
    main()
