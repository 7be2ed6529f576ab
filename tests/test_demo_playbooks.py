"""The demo-platform bundles and the test fixture bundles, run with real Ansible on localhost.

The slow tests drive ansible-playbook as the run engine would: one playbook per step, the site's
variables in the inventory, the run's variables as extra vars. The app they start is a real
daemon; a finalizer kills it (and anything else started under the test's install_root).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.demoapp import DemoAppProbe
from tests.support.local import free_port, kill_everything_under, poll, proc_state

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "bundles" / "demo-platform"
FIXTURES = REPO / "tests" / "fixtures" / "bundles"
V100 = DEMO / "1.0.0"
V110 = DEMO / "1.1.0"
BROKEN = FIXTURES / "broken-platform" / "1.2.0"
SLOW = FIXTURES / "slow-platform" / "1.0.0"
ALL_BUNDLES = [V100, V110, BROKEN, SLOW]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def manifest(bundle: Path) -> dict[str, Any]:
    return yaml.safe_load((bundle / "bundle.yml").read_text())


def playbook(bundle: Path, step: str) -> Path:
    """A component name or stage name -> its playbook, as the manifest says."""
    doc = manifest(bundle)
    for component in doc["components"]:
        if component["name"] == step:
            return bundle / component["playbook"]
    return bundle / doc["stages"][step]


def ansible_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_REMOTE_TEMP=str(home / "remote-tmp"),
        LC_ALL="C.UTF-8",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    return env


@dataclass
class Site(DemoAppProbe):
    """One customer site made of localhost: install_root and app_port are site (inventory) vars."""

    root: Path
    port: int
    inventory: Path
    work: Path
    env: dict[str, str]

    def run(
        self,
        bundle: Path,
        *steps: str,
        backup: str = "manual",
        expect_ok: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """ansible-playbook with the variables the appliance passes (its backup_dir, an inventory
        variable of local hosts, goes in as an extra var here); returns the output."""
        doc = manifest(bundle)
        extra_vars = {
            "bundle_name": doc["name"],
            "bundle_version": str(doc["version"]),
            "backup_dir": str(self.work / "backups" / backup),
            "component_versions": {c["name"]: str(c["version"]) for c in doc["components"]},
            **(extra or {}),
        }
        cmd = [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            str(self.inventory),
            "-e",
            json.dumps(extra_vars),
            *(str(playbook(bundle, step)) for step in steps),
        ]
        proc = subprocess.run(
            cmd, env=self.env, cwd=self.work, capture_output=True, text=True, timeout=180
        )
        output = proc.stdout + proc.stderr
        if expect_ok:
            assert proc.returncode == 0, f"{' '.join(steps)} failed:\n{output[-6000:]}"
        else:
            assert proc.returncode != 0, f"{' '.join(steps)} should have failed:\n{output}"
        return output

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.root / "data" / "demo.db")

    def schema(self) -> int:
        con = self.db()
        try:
            return con.execute("PRAGMA user_version").fetchone()[0]
        finally:
            con.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    root = tmp_path / "root"
    port = free_port()
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable} "
        f"install_root={root} app_port={port}\n"
    )
    home = tmp_path / "ansible-home"
    yield Site(root, port, inventory, tmp_path, ansible_env(home))
    kill_everything_under(root)


def recap_changed(output: str) -> list[int]:
    return [
        int(line.split("changed=")[1].split()[0])
        for line in output.splitlines()
        if "changed=" in line and "ok=" in line
    ]


# --- fast --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bundle", ALL_BUNDLES, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_playbooks_pass_syntax_check(bundle: Path, tmp_path: Path) -> None:
    doc = manifest(bundle)
    books = sorted({c["playbook"] for c in doc["components"]} | set(doc["stages"].values()))
    assert set(doc["stages"]) == {"preflight", "backup", "verify", "rollback"}
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "--syntax-check", "-i", "localhost,", *books],
        cwd=bundle,
        env=ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("bundle", ALL_BUNDLES, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_source_bundles_build(bundle: Path, tmp_path: Path) -> None:
    """The bundle tool accepts each source folder (no files: key, no links, playbooks present)."""
    from appliance.bundle import generate_keypair
    from appliance.bundle.build import build_bundle

    assert "files" not in manifest(bundle)
    key, _pub = generate_keypair(tmp_path / "vendor")
    built = build_bundle(bundle, key, tmp_path)
    assert built.name == f"{manifest(bundle)['name']}-{manifest(bundle)['version']}.bundle"


def test_demo_versions() -> None:
    def versions(bundle: Path) -> dict[str, str]:
        return {c["name"]: c["version"] for c in manifest(bundle)["components"]}

    assert versions(V100) == {"db": "1", "config": "1.0.0", "app": "1.0.0"}
    assert versions(V110) == {"db": "2", "config": "1.0.0", "app": "1.1.0"}
    assert versions(BROKEN) == {"db": "3", "config": "1.0.0", "app": "1.2.0"}
    assert manifest(V110)["upgrade_from"] == ["1.0.*"]
    assert manifest(BROKEN)["name"] == "demo-platform"
    # The two releases are copies: what should not change between them does not.
    for same in ("playbooks/app.yml", "playbooks/config.yml", "templates/app.ini.j2"):
        assert (V100 / same).read_text() == (V110 / same).read_text(), same


def test_migrate_script_keeps_data_and_refuses_to_go_back(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"

    def migrate(bundle: Path, target: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                str(bundle / "files/db/migrate.py"),
                "migrate",
                "--db",
                str(db),
                "--target",
                str(target),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )

    first = migrate(V100, 1)
    assert first.returncode == 0 and "migrated" in first.stdout
    con = sqlite3.connect(db)
    with con:
        con.execute("INSERT INTO items (name) VALUES ('kept')")
    con.close()
    again = migrate(V100, 1)
    assert again.returncode == 0 and "migrated" not in again.stdout
    up = migrate(V110, 2)
    assert up.returncode == 0 and "schema 1 -> 2" in up.stdout
    con = sqlite3.connect(db)
    assert con.execute("SELECT name, quantity FROM items").fetchall() == [("kept", 1)]
    con.close()
    back = migrate(V100, 1)
    assert back.returncode == 3 and "newer than this bundle's schema 1" in back.stderr


# --- slow: real runs ---------------------------------------------------------------------------


@pytest.mark.slow
def test_install_upgrade_rollback_broken_upgrade(site: Site) -> None:
    # install 1.0.0: preflight, every component in order, verify
    out = site.run(V100, "preflight", "db", "config", "app", "verify", backup="run1")
    assert "app 1.0.0 healthy on schema 1" in out
    health = site.health()
    assert (health["version"], health["schema"], health["status"]) == ("1.0.0", 1, "ok")
    assert os.readlink(site.root / "app" / "current") == "1.0.0"
    assert str(site.port) in (site.root / "etc" / "app.ini").read_text()

    # components are idempotent: a second pass changes nothing and keeps the same process
    pid = health["pid"]
    out = site.run(V100, "db", "config", "app")
    assert recap_changed(out) == [0, 0, 0], out
    assert site.health()["pid"] == pid

    con = site.db()
    with con:
        con.execute("INSERT INTO items (name) VALUES ('widget')")
    con.close()
    assert site.get("/items") == (200, {"items": [{"id": 1, "name": "widget"}]})

    # upgrade to 1.1.0: preflight (port held by our app is fine), backup, changed components
    site.run(V110, "preflight", "backup", "db", "app", "verify", backup="run2")
    health = site.health()
    assert (health["version"], health["schema"]) == ("1.1.0", 2)
    assert health["pid"] != pid
    assert site.get("/items")[1]["items"] == [{"id": 1, "name": "widget", "quantity": 1}]
    backup = site.work / "backups" / "run2"
    assert (backup / "app_version").read_text().strip() == "1.0.0"
    assert (backup / "etc" / "app.ini").is_file()
    old = sqlite3.connect(backup / "data" / "demo.db")
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    old.close()

    # rollback with the upgrade's backup: 1.0.0 again, on its own data
    con = site.db()
    with con:
        con.execute("INSERT INTO items (name, quantity) VALUES ('after-upgrade', 5)")
    con.close()
    site.run(V110, "rollback", backup="run2")
    health = site.health()
    assert (health["version"], health["schema"]) == ("1.0.0", 1)
    assert site.schema() == 1
    assert site.get("/items") == (200, {"items": [{"id": 1, "name": "widget"}]})
    assert os.readlink(site.root / "app" / "current") == "1.0.0"
    assert int((site.root / "run" / "app.pid").read_text()) == health["pid"]

    # a broken upgrade (1.0.0 -> 1.2.0): db migrates 1 -> 3, then app fails with a clear message
    site.run(BROKEN, "db", backup="run3")
    assert site.schema() == 3
    out = site.run(BROKEN, "app", backup="run3", expect_ok=False)
    flag = site.root / "etc" / "feature.flag"
    assert f"app 1.2.0 refuses to start: missing {flag} (create it to fix)" in out
    assert not site.answers()  # failed mid-upgrade, with the old app already stopped

    flag.touch()  # the operator's fix; then the run resumes from the failed step
    site.run(BROKEN, "app", "verify", backup="run3")
    health = site.health()
    assert (health["version"], health["schema"]) == ("1.2.0", 3)
    assert os.readlink(site.root / "app" / "current") == "1.2.0"
    assert site.get("/items")[1]["items"] == [{"id": 1, "name": "widget", "quantity": 1}]


@pytest.mark.slow
def test_preflight_says_what_to_fix(site: Site) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", site.port))
        squatter.listen()
        out = site.run(V100, "preflight", expect_ok=False)
    assert f"port {site.port} on 127.0.0.1 is in use by another process" in out
    assert "set app_port for this host or site" in out
    assert not site.root.exists()  # preflight writes nothing

    site.inventory.write_text(site.inventory.read_text().replace(f"install_root={site.root}", ""))
    out = site.run(V100, "db", expect_ok=False)
    assert "install_root is not set" in out


@pytest.mark.slow
def test_slow_fixture_sleeps_then_marks_done(site: Site) -> None:
    site.run(SLOW, "preflight", "sleeper", extra={"slow_seconds": 1})
    assert (site.root / "sleeper.done").is_file()


def _status_of(site: Site, bundle: Path) -> dict[str, str]:
    """The app status playbook's record for localhost: its run-wide set_stats, which the default
    callback prints as one `RUN: {json}` line when custom stats are shown."""
    env = {**site.env, "ANSIBLE_SHOW_CUSTOM_STATS": "1"}
    cmd = [
        str(ANSIBLE_PLAYBOOK),
        "-i",
        str(site.inventory),
        str(bundle / "playbooks/app-status.yml"),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    runs = [line for line in proc.stdout.splitlines() if line.strip().startswith("RUN: ")]
    assert len(runs) == 1, proc.stdout[-4000:]
    return json.loads(runs[0].strip()[5:])["appliance_status"]["localhost"]


@pytest.mark.slow
@pytest.mark.parametrize("bundle", [V100, V110], ids=["1.0.0", "1.1.0"])
def test_status_calls_a_zombie_stopped(site: Site, bundle: Path) -> None:
    """A killed app that nobody reaped (its parent does not wait, as a container's first process
    may not) still has /proc/<pid>: it is stopped, not "runs but does not answer"."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time\n"
            "pid = os.fork()\n"
            "if pid == 0:\n    os._exit(0)\n"
            "print(pid, flush=True)\ntime.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        zombie = int(parent.stdout.readline())
        (site.root / "run").mkdir(parents=True)
        pidfile = site.root / "run" / "app.pid"
        pidfile.write_text(f"{zombie}\n")
        poll(lambda: proc_state(zombie) == "Z", 10, "the forked child became a zombie")
        record = _status_of(site, bundle)
        assert record["state"] == "stopped", record
        assert "stale pid file" in record["detail"], record

        pidfile.write_text(f"{parent.pid}\n")  # alive, and not answering on the port
        record = _status_of(site, bundle)
        assert record["state"] == "degraded", record
        assert f"pid {parent.pid} runs but" in record["detail"], record
    finally:
        parent.kill()
        parent.wait()
