"""Checks as data (issue 14): what a playbook reports with set_stats under appliance_checks is
stored per step and shown; a failed check fails its step even when the playbook succeeded (the
run stops before any component), a warning does not stop the run but is shown in the API, the
CLI, the report and the end-of-run notification; malformed or oversized data never breaks a run.

Real runs through ansible-runner on a localhost site: the demo platform (warn and fail reached
with its site vars) and a small bundle built here whose preflight reports what a site var says.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.reports.report import render_report
from appliance.jobs.runs.checks import MAX_CHECKS, apply_checks, read_checks
from appliance.jobs.runs.manager import RunManager
from appliance.jobs.runs.runner import StepOutcome
from appliance.jobs.schedules.notify import message_for
from appliance.store import sites
from tests.runs.conftest import DEMO_KEY, site_spec
from tests.support.cli import run_cli
from tests.support.client import Api
from tests.support.local import free_port, kill_everything_under, write_tree

HUGE_MB = 10**9  # more free space than any disk has

MANIFEST = """\
format: 1
name: checked
version: "1.0.0"
components:
  - {name: thing, version: "1", playbook: playbooks/thing.yml}
stages:
  preflight: playbooks/preflight.yml
"""
# reports whatever the site var says, and succeeds
PREFLIGHT = """\
- name: checked preflight
  hosts: all
  gather_facts: false
  tasks:
    - name: Report the checks the site asks for
      ansible.builtin.set_stats:
        per_host: false
        data:
          appliance_checks: "{{ report_checks }}"
      when: report_checks is defined
"""
THING = """\
- name: the component
  hosts: all
  gather_facts: false
  tasks:
    - name: Leave a mark
      ansible.builtin.copy:
        dest: "{{ install_root }}/thing-ran"
        content: "ran\\n"
"""


# -- reading -------------------------------------------------------------------------------------
def test_statuses_are_validated_and_unknown_ones_fail() -> None:
    rows = read_checks(
        {
            "appliance_checks": {
                "h1": [
                    {"name": "disk", "status": "pass", "message": "5 GB free"},
                    {"name": "port", "status": " WARN ", "message": "slow"},
                    {"name": "ver", "status": "ok", "message": "2.1"},
                    {"status": "fail"},
                ],
                "h2": {"name": "python"},
            }
        }
    )
    assert [(r["host"], r["name"], r["status"]) for r in rows] == [
        ("h1", "disk", "pass"),
        ("h1", "port", "warn"),
        ("h1", "ver", "fail"),
        ("h1", "check 4", "fail"),
        ("h2", "python", "fail"),
    ]
    assert rows[2]["message"] == "unknown status 'ok' (expected pass, warn or fail): 2.1"
    assert rows[4]["message"] == "no status (expected pass, warn or fail)"


def test_a_failed_check_fails_only_a_successful_step_and_names_host_and_check() -> None:
    rows = read_checks(
        {
            "appliance_checks": {
                "web1": [
                    {"name": "license", "status": "fail", "message": "expired"},
                    {"name": "disk", "status": "fail", "message": "full"},
                ]
            }
        }
    )
    ok = StepOutcome(status="successful", rc=0)
    apply_checks(ok, rows)
    assert ok.status == "failed"
    assert ok.failure == "web1: check 'license' failed: expired (and 1 more failed check(s))"
    failed = StepOutcome(status="failed", rc=2, failure="web1: the play's own failure")
    apply_checks(failed, rows)
    assert failed.failure == "web1: the play's own failure"
    warned = StepOutcome(status="successful", rc=0)
    apply_checks(
        warned, read_checks({"appliance_checks": {"h": [{"name": "x", "status": "warn"}]}})
    )
    assert warned.status == "successful"


def test_malformed_and_oversized_data_is_bounded_and_never_raises() -> None:
    for junk in (None, "text", 5, [1, 2], {"appliance_checks": "x"}, {"appliance_checks": [1]}):
        assert read_checks(junk) == []
    mixed = {"appliance_checks": {"h": ["text", 5, None, {"name": "n", "status": "pass"}]}}
    assert [r["name"] for r in read_checks(mixed)] == ["n"]
    many = {
        "appliance_checks": {
            f"h{i}": [{"name": f"c{j}", "status": "pass"} for j in range(150)] for i in range(9)
        }
    }
    many["appliance_checks"]["h8"][-1]["status"] = "fail"  # beyond what is kept
    rows = read_checks(many)
    assert len(rows) == MAX_CHECKS
    assert rows[-1]["status"] == "fail" and "1 of them failed" in rows[-1]["message"]
    outcome = StepOutcome(status="successful", rc=0)
    apply_checks(outcome, rows)
    assert outcome.status == "failed"
    redacted = read_checks(
        {"appliance_checks": {"h": [{"name": "db", "status": "warn", "message": "pw s3cret!"}]}},
        lambda text: text.replace("s3cret!", "********"),
    )
    assert redacted[0]["message"] == "pw ********"


# -- real runs -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checked_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("checked")
    src = folder / "src"
    write_tree(
        src,
        {
            "bundle.yml": MANIFEST,
            "playbooks/preflight.yml": PREFLIGHT,
            "playbooks/thing.yml": THING,
        },
    )
    key = folder / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return build_bundle(src, key, folder)


def _site(ctx: Context, name: str, root: Path, **site_vars) -> None:
    sites.create_site(ctx.store, sites.parse_site(site_spec(name, root, free_port(), **site_vars)))


@pytest.mark.slow
def test_demo_preflight_warning_is_shown_and_the_install_goes_on(
    ctx: Context, manager: RunManager, api: Api, import_bundle, data_dir: Path, tmp_path: Path
) -> None:
    import_bundle("demo-platform@1.1.0")
    root = tmp_path / "root"
    _site(ctx, "warned", root, preflight_warn_free_mb=HUGE_MB)
    try:
        run = manager.wait(manager.start_run("warned", "demo-platform", "1.1.0")["id"], 300)
    finally:
        kill_everything_under(root)
    log = ctx.paths.run_log(run["id"]).read_text()
    assert run["state"] == "succeeded", log[-3000:]
    checks = {c["name"]: c for c in run["checks"]}
    assert set(checks) == {"bundle versions", "python", "install_root", "disk space", "port"}
    assert all(c["step_name"] == "preflight" and c["host"] == "local" for c in checks.values())
    assert checks["disk space"]["status"] == "warn"
    assert f"({HUGE_MB} MB recommended)" in checks["disk space"]["message"]
    assert {c["status"] for n, c in checks.items() if n != "disk space"} == {"pass"}
    assert "1.1.0" in checks["bundle versions"]["message"]

    reply = api.get(f"/api/runs/{run['id']}")
    assert reply.status == 200 and reply.json()["checks"] == run["checks"]

    shown = run_cli(data_dir, "checks", str(run["id"]))
    assert shown.returncode == 0, shown.stderr
    assert "disk space" in shown.stdout and "WARN" in shown.stdout
    assert "checks: 4 passed, 1 warning(s), 0 failed" in shown.stdout
    assert "WARNING: local: disk space: only" in shown.stdout
    as_json = run_cli(data_dir, "checks", str(run["id"]), "--json")
    assert '"status": "warn"' in as_json.stdout

    html = render_report(ctx, run["id"])
    assert "Warnings (1):" in html and "<h2>Checks</h2>" in html
    assert '<td class="c-warn">WARN</td>' in html

    title, body = message_for({**run, "trigger": "schedule"})
    assert "1 warning(s)" in title and "local: disk space: only" in body


@pytest.mark.slow
def test_demo_preflight_failure_stops_the_run_before_anything_changes(
    ctx: Context, manager: RunManager, import_bundle, tmp_path: Path
) -> None:
    import_bundle("demo-platform@1.1.0")
    root = tmp_path / "root"
    _site(ctx, "full", root, preflight_min_free_mb=HUGE_MB)
    run = manager.wait(manager.start_run("full", "demo-platform", "1.1.0")["id"], 300)
    assert run["state"] == "failed"
    assert "[1/5] preflight" in run["error"] and "only" in run["error"], run["error"]
    disk = next(c for c in run["checks"] if c["name"] == "disk space")
    assert disk["status"] == "fail" and f"need {HUGE_MB} MB" in disk["message"]
    assert [s["state"] for s in run["steps"]] == ["failed"] + ["pending"] * 4
    assert not root.exists()  # nothing was installed


LICENSE_EXPIRED = {
    "local": [
        {"name": "license", "status": "fail", "message": "the license expired on 2026-01-01"},
        {"name": "memory", "status": "warn", "message": "2 GB, 4 GB recommended"},
    ]
}


@pytest.mark.slow
def test_a_failed_check_fails_its_step_though_the_playbook_passed(
    ctx: Context, manager: RunManager, checked_bundle: Path, tmp_path: Path
) -> None:
    bundle_jobs.import_file(ctx, checked_bundle)
    root = tmp_path / "root"
    root.mkdir()
    _site(ctx, "gated", root, report_checks=LICENSE_EXPIRED)
    run = manager.wait(manager.start_run("gated", "checked", "1.0.0")["id"], 300)
    log = ctx.paths.run_log(run["id"]).read_text()
    assert run["state"] == "failed", log[-3000:]
    assert "failed=0" in log.split("PLAY RECAP")[1]  # the playbook itself passed
    assert run["error"] == (
        "failed at step [1/2] preflight (playbooks/preflight.yml): local: check 'license' "
        "failed: the license expired on 2026-01-01"
    )
    assert [s["state"] for s in run["steps"]] == ["failed", "pending"]
    assert not (root / "thing-ran").exists()  # the component never ran
    assert [(c["name"], c["status"]) for c in run["checks"]] == [
        ("license", "fail"),
        ("memory", "warn"),
    ]

    # fixed at the site: resuming runs the preflight again and its checks replace the old ones
    fixed = {"local": [{"name": "license", "status": "pass"}]}
    spec = site_spec("gated", root, free_port(), report_checks=fixed)
    sites.update_site(ctx.store, sites.find_site("gated").id, sites.parse_site(spec))
    resumed = manager.wait(manager.resume(run["id"])["id"], 300)
    assert resumed["state"] == "succeeded", resumed["error"]
    assert [(c["name"], c["status"]) for c in resumed["checks"]] == [("license", "pass")]
    assert (root / "thing-ran").exists()


@pytest.mark.slow
def test_appliance_run_prints_the_check_table_after_the_log(
    ctx: Context, checked_bundle: Path, data_dir: Path, tmp_path: Path
) -> None:
    bundle_jobs.import_file(ctx, checked_bundle)
    root = tmp_path / "root"
    root.mkdir()
    _site(ctx, "gated", root, report_checks=LICENSE_EXPIRED)
    done = run_cli(data_dir, "run", "gated", "checked@1.0.0")
    assert done.returncode == 1, done.stdout[-3000:]
    table = done.stdout.split("PLAY RECAP")[1]
    assert "license" in table and "FAIL" in table and "WARN" in table
    assert "checks: 0 passed, 1 warning(s), 1 failed" in table
    assert "FAILED: local: license: the license expired on 2026-01-01" in table
    assert "WARNING: local: memory: 2 GB, 4 GB recommended" in table
    assert "check 'license' failed" in done.stderr
    assert not (root / "thing-ran").exists()


def test_checks_command_refuses_an_unknown_run(ctx: Context, data_dir: Path) -> None:
    for ref in ("4242", "abc"):
        done = run_cli(data_dir, "checks", ref)
        assert done.returncode != 0 and ref in done.stderr
        assert len(done.stderr.strip().splitlines()) <= 2, done.stderr  # error and hint


@pytest.mark.slow
def test_malformed_set_stats_data_does_not_break_a_run(
    ctx: Context, manager: RunManager, checked_bundle: Path, tmp_path: Path
) -> None:
    bundle_jobs.import_file(ctx, checked_bundle)
    root = tmp_path / "root"
    root.mkdir()
    report = {
        "local": ["text", 5, None, {"name": "kept", "status": "pass", "extra": {"deep": [1]}}]
        + [{"name": f"c{i}", "status": "pass", "message": "x" * 5000} for i in range(250)],
        "ghost": "not a list",
        "other": [[1, 2], {"status": "pass"}],
    }
    _site(ctx, "odd", root, report_checks=report)
    run = manager.wait(manager.start_run("odd", "checked", "1.0.0", "check")["id"], 300)
    assert run["state"] == "succeeded", run["error"]
    local = [c for c in run["checks"] if c["host"] == "local"]
    # the first 200 records of a host are read (3 of them were not records)
    assert local[0]["name"] == "kept" and len(local) == 197
    assert max(len(c["message"]) for c in local) == 2000
    assert [(c["host"], c["name"]) for c in run["checks"] if c["host"] != "local"] == [
        ("other", "check 1")
    ]
