"""Per-host results are Ansible's own: one playbook producing every outcome (ok, changed,
failed, skipped, unreachable, rescued, ignored) through the appliance and through plain
``ansible-playbook``; the appliance's figures equal the PLAY RECAP host by host, and the run's
error is the failure that failed it (not the rescued or ignored ones before it)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.runs.manager import RunManager
from appliance.store import sites
from appliance.store.events import COUNTS
from tests.runs.conftest import DEMO_KEY
from tests.support.local import free_port, write_tree

MANIFEST = """\
format: 1
name: outcomes
version: "1.0.0"
components:
  - {name: outcomes, version: "1", playbook: playbooks/all.yml}
"""

# Tasks that need no connection run on both hosts; the first that connects finds "down"
# unreachable, after local has already failed for real.
PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: An ok
      ansible.builtin.debug:
        msg: hello
    - name: A skip
      ansible.builtin.debug:
        msg: never
      when: false
    - name: An ignored failure
      ansible.builtin.fail:
        msg: ignored failure
      ignore_errors: true
    - name: A rescued failure
      block:
        - name: Fails inside the block
          ansible.builtin.fail:
            msg: rescued failure
      rescue:
        - name: The rescue
          ansible.builtin.debug:
            msg: rescued
    - name: Included tasks count too
      ansible.builtin.include_tasks: ../tasks/more.yml
    - name: A change
      ansible.builtin.command: "true"
      when: inventory_hostname == 'local'
    - name: The real failure
      ansible.builtin.fail:
        msg: the real failure
      when: inventory_hostname == 'local'
    - name: Connect
      ansible.builtin.ping:
"""

MORE = """\
- name: An included ok
  ansible.builtin.debug:
    msg: included
"""

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
RECAP_LINE = re.compile(r"^(\S+)\s*:\s*((?:\w+=\d+\s*)+)$")


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP of plain ansible-playbook output: host -> {ok, changed, ...}."""
    text = output.split("PLAY RECAP", 1)[1]
    found = {}
    for line in text.splitlines():
        match = RECAP_LINE.match(line.strip())
        if match:
            pairs = dict(p.split("=") for p in match.group(2).split())
            found[match.group(1)] = {k: int(v) for k, v in pairs.items()}
    return found


def expected_shape(recap: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {host: {k: counts[k] for k in COUNTS} for host, counts in recap.items()}


@pytest.fixture(scope="session")
def outcomes_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("outcomes")
    src = folder / "src"
    write_tree(
        src,
        {
            "bundle.yml": MANIFEST,
            "playbooks/all.yml": PLAYBOOK,
            "tasks/more.yml": MORE,
        },
    )
    key = folder / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return src, build_bundle(src, key, folder)


@pytest.mark.slow
def test_host_figures_equal_ansibles_play_recap(
    ctx: Context, manager: RunManager, outcomes_bundle: tuple[Path, Path], tmp_path: Path
) -> None:
    src, archive = outcomes_bundle
    bundle_jobs.import_file(ctx, archive)
    site = sites.create_site(
        ctx.store,
        sites.parse_site(
            {
                "name": "mixed",
                "vars": {},
                "hosts": [
                    {"name": "local", "address": "localhost"},
                    # nothing listens there: ssh is refused at once
                    {"name": "down", "address": "127.0.0.1", "port": free_port(), "user": "x"},
                ],
            }
        ),
    )
    run = manager.start_run("mixed", "outcomes", "1.0.0")
    run = manager.wait(run["id"], timeout=300)
    log = ctx.paths.run_log(run["id"]).read_text()
    assert run["state"] == "failed", log[-3000:]
    # the failure that failed the run: not the ignored or the rescued one before it
    assert run["error"].endswith("(playbooks/all.yml): local: the real failure"), run["error"]

    # the same playbook and inventory through plain ansible-playbook
    inventory = ctx.paths.site_inventory(site["id"]) / "hosts.yml"
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_CONFIG": str(tmp_path / "none.cfg"),
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }
    plain = subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", str(inventory), "playbooks/all.yml"],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert plain.returncode != 0, plain.stdout
    expected = recap(plain.stdout)
    assert set(expected) == {"local", "down"}, plain.stdout
    got = {host: {k: counts[k] for k in COUNTS} for host, counts in run["hosts"].items()}
    assert got == expected, (got, plain.stdout[-2000:])
    # every outcome happened (the test covers what it says)
    local, down = expected["local"], expected["down"]
    for outcome in ("ok", "changed", "failed", "skipped", "rescued", "ignored"):
        assert local[outcome] >= 1, (outcome, local)
    assert down["unreachable"] == 1
    assert run["partial_steps"] == [] and run["step_hosts"] == {"1": expected_shape(expected)}

    # remote temp: Ansible's default on hosts reached over SSH, the data folder's only locally
    hosts = yaml.safe_load(inventory.read_text())["all"]["hosts"]
    assert hosts["local"]["ansible_remote_tmp"].startswith(str(ctx.paths.root))
    assert "ansible_remote_tmp" not in hosts["down"]
    private = ctx.paths.run_dir(run["id"]) / "private" / "1-outcomes"
    envvars = yaml.safe_load((private / "env" / "envvars").read_text())
    assert envvars["ANSIBLE_REMOTE_TEMP"] == "~/.ansible/tmp"


@pytest.mark.slow
def test_a_playbook_that_never_starts_fails_with_ansibles_error(
    ctx: Context, manager: RunManager, local_site, tmp_path: Path
) -> None:
    """Built without the syntax check (the library alone): the run says what Ansible said."""
    src = tmp_path / "src"
    (src / "playbooks").mkdir(parents=True)
    (src / "bundle.yml").write_text(MANIFEST.replace("outcomes", "no-role"))
    (src / "playbooks/all.yml").write_text("- hosts: all\n  roles: [nowhere_role]\n")
    key = tmp_path / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    bundle_jobs.import_file(ctx, build_bundle(src, key, tmp_path))
    run = manager.wait(manager.start_run("lab", "no-role", "1.0.0")["id"], timeout=300)
    assert run["state"] == "failed"
    assert "the role 'nowhere_role' was not found" in run["error"], run["error"]
    assert "exited with" not in run["error"] and "(at playbooks/all.yml:2:" in run["error"]
    assert run["hosts"] == {}


@pytest.mark.slow
def test_a_cancelled_step_is_counted_from_its_events_and_marked_partial(
    ctx: Context, manager: RunManager, slow_site
) -> None:
    from tests.runs.test_cancel import blocked_run

    run_id, _pgid, _marker = blocked_run(ctx, manager)
    run = manager.cancel(run_id)
    assert run["state"] == "cancelled"
    assert run["partial_steps"] == [2]  # the sleeper: no recap, cut short
    assert set(run["step_hosts"]) == {"1"}  # preflight ended with Ansible's recap
    assert run["hosts"]["local"]["ok"] == run["step_hosts"]["1"]["local"]["ok"]  # + no results
