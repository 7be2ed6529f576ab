"""Log search on three real SSH hosts: the demo platform installed for real, then the app's own
start line found on every host (each with its own port), a grep and a host filter, one host
down reported as unreachable while the others answer, and no credential in what comes back;
the site's support bundle holds each host's app log and no secret or other site's name."""

from __future__ import annotations

import json
import shutil
import stat
import tarfile
from pathlib import Path

import pytest

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.logsearch.engine import open_search
from appliance.jobs.logsearch.request import plan_search
from appliance.jobs.runs.manager import RunManager
from appliance.store import runs as rows
from appliance.store import sites
from tests.remote.conftest import clean_roots, lab_site, site_spec
from tests.support.cli import run_cli
from tests.support.sshhosts import SshLab

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEMO_KEY = REPO / "bundles" / "DEMO-ONLY-signing.key"


def test_search_finds_the_app_line_on_every_host(
    remote_ctx: Context, lab: SshLab, tmp_path: Path
) -> None:
    ctx = remote_ctx
    key = tmp_path / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    archive = build_bundle(REPO / "bundles" / "demo-platform" / "1.0.0", key, tmp_path)
    bundle_jobs.import_file(ctx, archive)
    clean_roots(lab)  # a clean install root on every host
    lab_site(ctx, lab, "logs3")
    # another customer's site: its name must never reach this site's support bundle
    sites.create_site(ctx.store, sites.parse_site(site_spec(lab, "othercustomer")))
    # the same hosts as a site that trusts no host key yet (installed as recorded, not run)
    stranger = sites.create_site(ctx.store, sites.parse_site(site_spec(lab, "untrusted")))
    record = {
        "app": {"version": "1.0.0", "bundle_name": "demo-platform", "bundle_version": "1.0.0"}
    }
    ctx.store.write(rows.record_installed, stranger["id"], None, record, ctx.store.now())
    manager = RunManager(ctx).start()
    ctx.services["runs"] = manager
    run = manager.start_run("logs3", "demo-platform", "1.0.0", "install")
    run = manager.wait(run["id"], 600)
    assert run["state"] == "succeeded", run["error"]

    items = list(open_search(ctx, plan_search("logs3", "app", grep="listening on")))
    summary = items.pop()["summary"]
    for host in lab.hosts:
        found = [i for i in items if i["host"] == host.name]
        assert found, f"nothing from {host.name}: {summary['hosts'][host.name]}"
        assert found[-1]["file"] == f"{host.root}/logs/app.log"  # templated per host
        assert f"{host.address}:{host.app_port} " in found[-1]["line"]
        assert summary["hosts"][host.name]["error"] is None

    # one host, through the CLI; the grep filters (every line has the pattern)
    one = lab.hosts[2]
    result = run_cli(ctx.paths.root, "logs", "logs3", "--host", one.name, "--grep", "GET /health")
    assert result.returncode == 0, result.stderr
    assert result.stdout and all(
        line.startswith(f"{one.name}  ") and "GET /health" in line
        for line in result.stdout.splitlines()
    )

    # the support bundle: each host's app log and facts, no secret, no other site's name
    out = tmp_path / "support.tar.gz"
    result = run_cli(ctx.paths.root, "support-bundle", "logs3", "-o", str(out))
    assert result.returncode == 0, result.stderr
    with tarfile.open(out) as tar:
        texts = {m.name: tar.extractfile(m).read().decode() for m in tar if m.isfile()}
    for host in lab.hosts:
        log = texts[
            f"support-logs3/hosts/{host.name}/logs/{str(host.root).strip('/')}/logs/app.log"
        ]
        assert f"{host.address}:{host.app_port} " in log
        assert json.loads(texts[f"support-logs3/hosts/{host.name}/facts.json"])["python"]
    assert "support-logs3/index.html" in texts and "support-logs3/site.json" in texts
    assert any(n.endswith("/output.log") for n in texts)
    everything = "".join(texts.values())
    key_lines = [ln for ln in lab.key_text.splitlines() if len(ln) >= 16 and "-----" not in ln]
    for secret in [lab.password, *key_lines]:
        assert secret not in everything
    assert "othercustomer" not in everything

    # host keys are checked against the site's own file: a site that trusts none reads nothing
    result = run_cli(ctx.paths.root, "logs", "untrusted", "--json")
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1 and len(items) == 1
    for summary in items[0]["summary"]["hosts"].values():
        assert summary["unreachable"] and "host key" in summary["error"].lower()

    # a host down: the others answer, the summary names it unreachable; exit 1
    down = lab.hosts[0]
    down.stop()
    result = run_cli(ctx.paths.root, "logs", "logs3", "--grep", "listening on", "--json")
    assert result.returncode == 1
    items = [json.loads(line) for line in result.stdout.splitlines()]
    hosts = items[-1]["summary"]["hosts"]
    assert hosts[down.name]["unreachable"] is True and hosts[down.name]["error"]
    assert {i["host"] for i in items[:-1]} == {h.name for h in lab.hosts[1:]}
    text = result.stdout + result.stderr
    assert lab.password not in text and lab.key_text.splitlines()[1] not in text
