"""The plan is a pure function of the manifest and what the site has installed."""

from __future__ import annotations

import pytest

from appliance.bundle import Component, Manifest
from appliance.errors import BadRequest, Unprocessable
from appliance.jobs.ansible.inventory import build_inventory
from appliance.jobs.runs.plan import Installed, make_plan
from appliance.states import TRANSITIONS, RunState, allowed

STAGES = {s: f"playbooks/{s}.yml" for s in ("preflight", "backup", "verify", "rollback")}


def manifest(version: str, db: str, app: str, upgrade_from=(), stages=STAGES) -> Manifest:
    return Manifest(
        name="demo-platform",
        version=version,
        upgrade_from=tuple(upgrade_from),
        stages=stages,
        components=(
            Component("db", db, "playbooks/db.yml"),
            Component("config", "1.0.0", "playbooks/config.yml"),
            Component("app", app, "playbooks/app.yml"),
        ),
    )


V100 = manifest("1.0.0", "1", "1.0.0")
V110 = manifest("1.1.0", "2", "1.1.0", ["1.0.*"])


def installed_at(m: Manifest) -> dict[str, Installed]:
    return {c.name: Installed(c.version, m.name, m.version) for c in m.components}


def names(plan) -> list[str]:
    return [s.name for s in plan.steps]


def test_install_runs_every_component_between_preflight_and_verify() -> None:
    plan = make_plan(V100, {})
    assert plan.action == "install"
    assert names(plan) == ["preflight", "db", "config", "app", "verify"]
    assert [s.idx for s in plan.steps] == [1, 2, 3, 4, 5]
    app = plan.steps[3]
    assert (app.kind, app.component, app.from_version, app.to_version) == (
        "component",
        "app",
        None,
        "1.0.0",
    )
    assert app.title(5) == "[4/5] component app none -> 1.0.0 (playbooks/app.yml)"
    assert plan.record["app"] == Installed("1.0.0", "demo-platform", "1.0.0")


def test_upgrade_backs_up_and_runs_only_changed_components() -> None:
    plan = make_plan(V110, installed_at(V100))
    assert plan.action == "upgrade" and plan.installed_version == "1.0.0"
    assert names(plan) == ["preflight", "backup", "db", "app", "verify"]
    assert plan.steps[3].title(5) == "[4/5] component app 1.0.0 -> 1.1.0 (playbooks/app.yml)"
    assert set(plan.record) == {"db", "config", "app"}  # config recorded under the new bundle


def test_upgrade_refused_where_upgrade_from_does_not_allow() -> None:
    later = manifest("2.0.0", "4", "2.0.0", ["1.1.*"])
    with pytest.raises(Unprocessable) as e:
        make_plan(later, installed_at(V100))
    assert "upgrades only from '1.1.*', not from 1.0.0" in e.value.message
    assert "upgrades from 1.1.*" in e.value.hint and "the site has 1.0.0" in e.value.hint
    with pytest.raises(Unprocessable, match=r"already at 1\.0\.0"):
        make_plan(V100, installed_at(V100))


def test_explicit_actions_must_fit_what_is_installed() -> None:
    with pytest.raises(Unprocessable, match="installed on the site already"):
        make_plan(V110, installed_at(V100), "install")
    with pytest.raises(Unprocessable, match="nothing of demo-platform is installed"):
        make_plan(V110, {}, "upgrade")
    with pytest.raises(BadRequest, match="unknown action"):
        make_plan(V110, {}, "destroy")


def test_check_runs_components_in_check_mode_and_records_nothing() -> None:
    plan = make_plan(V110, installed_at(V100), "check")
    assert names(plan) == ["preflight", "db", "config", "app"]
    assert [s.check for s in plan.steps] == [False, True, True, True]
    assert "--check --diff" in plan.steps[1].title(4)
    assert plan.record == {}


def test_rollback_needs_the_stage_and_a_backup() -> None:
    before = installed_at(V100)
    plan = make_plan(V110, installed_at(V110), "rollback", restore=before)
    assert names(plan) == ["rollback"] and plan.record == before
    with pytest.raises(Unprocessable, match="no earlier run"):
        make_plan(V110, installed_at(V110), "rollback", restore=None)
    no_stage = manifest("1.1.0", "2", "1.1.0", ["1.0.*"], stages={"preflight": "p.yml"})
    with pytest.raises(Unprocessable, match="has no rollback stage"):
        make_plan(no_stage, installed_at(V110), "rollback", restore=before)


def test_missing_optional_stages_are_left_out() -> None:
    bare = manifest("1.0.0", "1", "1.0.0", stages={})
    assert names(make_plan(bare, {})) == ["db", "config", "app"]


def test_other_bundles_do_not_count_as_installed() -> None:
    other = {"db": Installed("9", "other-product", "9.0")}
    plan = make_plan(V100, other)
    assert plan.action == "install"
    assert plan.steps[1].from_version == "9"


def test_state_table() -> None:
    assert allowed("queued", "running") and allowed("running", "succeeded")
    for state in ("failed", "cancelled", "interrupted"):
        assert allowed(state, "running")  # resume
    assert not allowed("succeeded", "running")
    assert not allowed("running", "queued")
    assert all(RunState(s).terminal for s in ("succeeded", "failed", "cancelled", "interrupted"))
    assert set(TRANSITIONS) == set(RunState)


def test_inventory_local_and_remote_hosts() -> None:
    hosts = [
        {
            "name": "local",
            "address": "localhost",
            "port": 22,
            "user": None,
            "groups": ["app"],
            "vars": {},
        },
        {
            "name": "db1",
            "address": "10.0.0.5",
            "port": 2222,
            "user": "deploy",
            "groups": ["db", "all"],
            "vars": {"role": "primary"},
        },
        {
            "name": "lab",
            "address": "lab.example",
            "port": 22,
            "user": None,
            "groups": [],
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/py"},
        },
    ]
    inv = build_inventory(hosts, {"install_root": "/opt/demo"})
    entries = inv["all"]["hosts"]
    assert entries["local"] == {
        "ansible_host": "localhost",
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    }
    assert entries["db1"] == {
        "ansible_host": "10.0.0.5",
        "ansible_port": 2222,
        "ansible_user": "deploy",
        "role": "primary",
    }
    assert entries["lab"]["ansible_python_interpreter"] == "/usr/bin/py"
    assert inv["all"]["vars"] == {"install_root": "/opt/demo"}
    assert inv["all"]["children"] == {
        "app": {"hosts": {"local": None}},
        "db": {"hosts": {"db1": None}},
    }
    site_python = build_inventory(hosts[:1], {"ansible_python_interpreter": "/x"})
    assert "ansible_python_interpreter" not in site_python["all"]["hosts"]["local"]

    # a run's backup_dir (a path in the data directory) goes to local hosts only, unless the
    # site or the host names its own
    backup = {"backup_dir": "/data/backups/lab/7"}
    inv = build_inventory(hosts, {"install_root": "/opt/demo"}, backup)
    entries = inv["all"]["hosts"]
    assert entries["local"]["backup_dir"] == "/data/backups/lab/7"
    assert entries["lab"]["backup_dir"] == "/data/backups/lab/7"
    assert "backup_dir" not in entries["db1"]
    own = [{**hosts[2], "vars": {**hosts[2]["vars"], "backup_dir": "/srv/b"}}]
    assert build_inventory(own, {}, backup)["all"]["hosts"]["lab"]["backup_dir"] == "/srv/b"
    site_wide = build_inventory(hosts, {"backup_dir": "/srv/all"}, backup)
    assert all("backup_dir" not in e for e in site_wide["all"]["hosts"].values())
    assert site_wide["all"]["vars"]["backup_dir"] == "/srv/all"
