"""A serving appliance refreshes every site's status on an interval (status_refresh_minutes;
here the service's period is shortened), leaving out sites without declarations."""

from __future__ import annotations

from pathlib import Path

from appliance.bundle import generate_keypair
from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.daytwo.service import StatusService
from appliance.store import daytwo as rows
from appliance.store import runs as run_rows
from appliance.store import sites
from tests.support.local import poll, write_tree

STATUS = """\
- name: tiny status
  hosts: all
  gather_facts: false
  tasks:
    - name: Report
      ansible.builtin.set_stats:
        per_host: false
        data:
          appliance_status: "{{ {inventory_hostname: {'state': 'running', 'version': '1'}} }}"
"""


def test_the_interval_refreshes_declared_sites(ctx: Context, tmp_path: Path) -> None:
    src = tmp_path / "tiny"
    write_tree(
        src,
        {
            "bundle.yml": "format: 1\nname: tiny\nversion: '1.0.0'\ncomponents:\n"
            "  - {name: svc, version: '1', playbook: p/svc.yml, status: p/status.yml}\n",
            "p/svc.yml": "- hosts: all\n  gather_facts: false\n  tasks: []\n",
            "p/status.yml": STATUS,
        },
    )
    key, pub = generate_keypair(tmp_path / "k")
    bundle_jobs.add_key(ctx, pub)
    bundle_jobs.import_file(ctx, build_bundle(src, key, tmp_path))
    local = {"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}
    for name in ("tiny", "bare"):
        sites.create_site(ctx.store, sites.parse_site({"name": name, "hosts": [local]}))
    tiny = sites.find_site("tiny").id
    record = {"svc": {"version": "1", "bundle_name": "tiny", "bundle_version": "1.0.0"}}
    ctx.store.write(run_rows.record_installed, tiny, None, record, ctx.store.now())

    service = StatusService(ctx)
    service.start(every=0.2)  # seconds instead of status_refresh_minutes
    try:
        found = poll(lambda: rows.last_status(tiny), 120, "the interval's refresh", every=0.2)
    finally:
        service.stop()
    assert found["overall"] == "healthy"
    assert found["components"][0]["hosts"][0]["version"] == "1"
    assert rows.last_status(sites.find_site("bare").id) is None
