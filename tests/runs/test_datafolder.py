"""The appliance's own data: backup of a data folder with a real run, a schedule and stored
credentials; restore into a new folder (the original key file gone); a wrong passphrase or a
non-empty target refused with nothing written; a backup taken while a run writes events."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from appliance.context import Context, open_context
from appliance.errors import BadRequest, Conflict
from appliance.jobs.datafolder import backup, read_manifest, restore
from appliance.jobs.reports.report import write_report
from appliance.jobs.runs.manager import RunManager
from appliance.jobs.schedules.service import Scheduler
from appliance.jobs.sites.service import set_site_credentials
from appliance.settings import load_settings
from appliance.store import bundles, credentials, runs, sites
from appliance.store.events import list_events
from tests.support.cli import run_cli
from tests.support.keys import openssh_private_key
from tests.support.local import poll
from tests.support.processes import REPO, appliance_cmd, child_env

PASSPHRASE = "correct horse battery"
SSH_KEY = openssh_private_key()


def _open(root: Path) -> Context:
    return open_context(load_settings(cli={"data_dir": str(root)}, env={}))


@pytest.mark.slow
def test_backup_restore_into_a_new_folder(
    ctx: Context, data_dir: Path, tmp_path: Path, import_bundle, local_site, manager: RunManager
) -> None:
    import_bundle("demo-platform@1.0.0")
    run = manager.start_run("lab", "demo-platform", "1.0.0", "install")
    done = manager.wait(run["id"], timeout=300)
    assert done["state"] == "succeeded", done
    report = write_report(ctx, run["id"]).read_text()
    from appliance.store import site_snapshots

    [taken] = site_snapshots.list_snapshots(ctx.paths.snapshots)  # before the run changed it
    assert taken["reason"] == f"before run {run['id']}: install on lab" and taken["sites"] == [
        "lab"
    ]
    set_site_credentials(
        ctx, "lab", {"become_password": "s3cret-become", "ssh_key": SSH_KEY}, key_source="file"
    )
    scheduler = Scheduler(ctx, None)
    scheduler.add(
        {
            "site": "lab",
            "bundle": "demo-platform",
            "version": "1.0.0",
            "action": "check",
            "cron": "0 2 * * 6",
            "timezone": "Asia/Shanghai",
            "window_minutes": 120,
        }
    )
    before = {
        "site": sites.get_site("lab"),
        "run": runs.get_run(run["id"]),
        "events": list_events(run["id"], limit=100_000),
        "bundles": bundles.list_bundles(),
        "log": ctx.paths.run_log(run["id"]).read_bytes(),
    }
    archive = tmp_path / "lab.backup"
    with pytest.raises(BadRequest, match="passphrase of at least"):
        backup(ctx, archive, None)
    assert not archive.exists()
    written = backup(ctx, archive, PASSPHRASE)
    assert written["key"] == "wrapped" and written["files"] > 10
    assert read_manifest(archive)["schema"] >= 1
    ctx.close()

    # the original key file is gone: only the backup's wrapped key can open the credentials
    (data_dir / "credentials.key").unlink()
    new = tmp_path / "new-laptop" / "data"
    with pytest.raises(BadRequest, match="wrong backup passphrase"):
        restore(archive, new, "not the passphrase")
    assert not new.exists() and list(new.parent.iterdir()) == []  # nothing left behind

    restored = restore(archive, new, PASSPHRASE)
    assert restored["root"] == str(new)
    assert (new / "credentials.key").stat().st_mode & 0o077 == 0
    assert new.stat().st_mode & 0o777 == 0o700
    again = _open(new)
    try:
        assert again.store.integrity_check() == "ok"
        assert sites.get_site("lab") == before["site"]
        assert runs.get_run(run["id"]) == before["run"]
        assert list_events(run["id"], limit=100_000) == before["events"]
        assert bundles.list_bundles() == before["bundles"]
        assert again.paths.run_log(run["id"]).read_bytes() == before["log"]
        assert (again.paths.reports / f"{run['id']}.html").read_text() == report
        kept = Scheduler(again, None).list()
        assert [(s["site"]["name"], s["cron"], s["timezone"]) for s in kept] == [
            ("lab", "0 2 * * 6", "Asia/Shanghai")
        ]
        secrets = credentials.load_credentials(new, sites.find_site("lab").id)
        assert secrets.become_password == "s3cret-become" and secrets.ssh_key == SSH_KEY
        # the bundle is usable: its files are there and a check run plans from it
        plan = RunManager(again).start_run("lab", "demo-platform", "1.0.0", "check", dry_run=True)
        assert plan["plan"]
    finally:
        again.close()

    with pytest.raises(Conflict, match="not empty"):
        restore(archive, new, PASSPHRASE)


@pytest.mark.slow
def test_backup_while_a_run_writes_events(
    ctx: Context, tmp_path: Path, slow_site, manager: RunManager
) -> None:
    run = manager.start_run("slow", "slow-platform", "1.0.0", "install")
    poll(lambda: list_events(run["id"], limit=5), timeout=120, what="the run's first events")
    archive = tmp_path / "busy.backup"
    written = backup(ctx, archive, None)  # no credentials: no passphrase needed
    assert written["key"] == "none"
    manager.cancel(run["id"])
    new = tmp_path / "copy"
    restore(archive, new, None)
    db = sqlite3.connect(new / "appliance.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (state,) = db.execute("SELECT state FROM run WHERE id = ?", (run["id"],)).fetchone()
        assert state in {"running", "queued"}  # as it was when the snapshot was taken
        events = db.execute("SELECT count(*) FROM run_event WHERE run_id = ?", (run["id"],))
        assert events.fetchone()[0] >= 1
        orphans = db.execute(
            "SELECT count(*) FROM run_event e LEFT JOIN run r ON r.id = e.run_id WHERE r.id IS NULL"
        ).fetchone()[0]
        assert orphans == 0
    finally:
        db.close()


def test_cli_backup_and_restore(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = run_cli(data, "site", "add", "plant", "--host", "db1=10.0.0.5")
    assert made.returncode == 0, made.stderr
    archive = tmp_path / "plant.backup"
    done = run_cli(data, "data", "backup", str(archive))
    assert done.returncode == 0, done.stderr
    assert "no credentials are stored" in done.stdout

    target = tmp_path / "other"
    back = run_cli(target, "data", "restore", str(archive))
    assert back.returncode == 0, back.stderr
    assert f"--data-dir {target}" in back.stdout
    listed = run_cli(target, "site", "list")
    assert "plant" in listed.stdout

    refused = run_cli(target, "data", "restore", str(archive))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "not empty" in refused.stderr and "--force" in refused.stderr

    forced = run_cli(target, "data", "restore", str(archive), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "previous contents are in" in forced.stdout

    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a tar at all")
    bad = run_cli(tmp_path / "third", "data", "restore", str(junk))
    assert bad.returncode == 2 and "not an appliance backup" in bad.stderr
    assert not (tmp_path / "third").exists()


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "zeroed header", "damaged pages", "a folder"],
)
def test_damaged_database_is_refused_by_every_command(tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    assert run_cli(data, "site", "add", "plant", "--host", "db1=10.0.0.5").returncode == 0
    for i in range(40):  # enough rows for a few pages of sites and hosts
        run_cli(data, "site", "add", f"s{i}", "--host", f"h{i}=10.0.{i}.1")
    db = data / "appliance.db"
    for extra in ("appliance.db-wal", "appliance.db-shm"):
        (data / extra).unlink(missing_ok=True)
    raw = db.read_bytes()
    assert len(raw) > 4096 * 4
    if damage == "garbage":
        db.write_bytes(b"\x8f" * len(raw))
    elif damage == "truncated":
        db.write_bytes(raw[: len(raw) // 2 + 100])
    elif damage == "zeroed header":
        db.write_bytes(b"\0" * 100 + raw[100:])
    elif damage == "damaged pages":
        page = 4096
        db.write_bytes(raw[: page * 2] + b"\xa5" * page * 2 + raw[page * 4 :])
    else:
        db.unlink()
        db.mkdir()
    for args in (["site", "list"], ["runs"], ["bundle", "list"], ["prune"]):
        done = run_cli(data, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "damaged or unreadable" in done.stderr and "restore" in done.stderr


@pytest.mark.slow
def test_import_killed_midway_leaves_nothing_after_the_next_start(tmp_path: Path) -> None:
    """A real `bundle import` of 5,000 files, SIGKILLed while it extracts; the next command
    (any: here `bundle list`) removes what it left, and the bundle was never half-imported."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "bundles" / "demo-platform" / "1.0.0", src)
    for i in range(5000):
        folder = src / "files" / "many" / f"d{i // 500}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.bin").write_bytes(os.urandom(8192))
    key = tmp_path / "demo.key"
    shutil.copyfile(REPO / "bundles" / "DEMO-ONLY-signing.key", key)
    key.chmod(0o600)
    archive = tmp_path / "big.bundle"
    built = run_cli(
        tmp_path / "vendor", "bundle", "build", str(src), "--key", str(key), "-o", str(archive)
    )
    assert built.returncode == 0, built.stderr

    data = tmp_path / "data"
    proc = subprocess.Popen(
        [*appliance_cmd(), "bundle", "import", str(archive)],
        env=child_env(data),
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    scratch = data / "tmp" / str(proc.pid)

    def extracting() -> bool:
        return any(True for _ in scratch.rglob("f*.bin")) if scratch.is_dir() else False

    try:
        poll(extracting, timeout=120, what="the import extracting files", every=0.01)
    finally:
        proc.kill()
        proc.wait()
    assert any(scratch.rglob("*")), "the kill came after the import had finished"

    listed = run_cli(data, "bundle", "list")
    assert listed.returncode == 0, listed.stderr
    assert "demo-platform" not in listed.stdout  # never half-imported
    assert not scratch.exists()
    left = [p for p in (data / "tmp").iterdir() if p.name != str(os.getpid())]
    assert left == []
    assert not any((data / "bundles").rglob("*.bin"))


def test_snapshot_of_the_sites_records_and_its_restore(ctx: Context, data_dir: Path) -> None:
    """A snapshot keeps sites, hosts, credentials and installed versions; restoring puts them
    back in place while the site's runs stay; a busy site or an unknown snapshot is refused."""
    from appliance.errors import NotFound
    from appliance.store import site_snapshots
    from tests.support.planned import fake_bundle, installed

    spec = {
        "name": "plant",
        "vars": {"install_root": "/opt/a"},
        "hosts": [{"name": "db1", "address": "10.0.0.5"}, {"name": "app1", "address": "10.0.0.6"}],
    }
    site_id = sites.create_site(ctx.store, sites.parse_site(spec))["id"]
    fake_bundle(ctx, "1.0.0")
    installed(ctx, "plant", "1.0.0")
    set_site_credentials(ctx, "plant", {"become_password": "before-pw"}, key_source="file")
    before = sites.get_site("plant")
    number = site_snapshots.take(ctx.paths.db, ctx.paths.snapshots, "before run 1", 20)
    assert number == 1

    # the site changes afterwards: renamed, other hosts, another version, new credentials,
    # and a run of its own
    changed = {"name": "plant2", "vars": {}, "hosts": [{"name": "x", "address": "10.9.9.9"}]}
    sites.update_site(ctx.store, site_id, sites.parse_site(changed))
    installed(ctx, "plant2", "1.1.0")
    set_site_credentials(ctx, "plant2", {"become_password": "after-pw"})
    run_id = runs.create_run(
        ctx.store,
        site_id=site_id,
        bundle_id=1,
        action="install",
        plan=[],
        trigger="manual",
        installed_before={},
        backup_run_id=None,
        owner_pid=os.getpid(),
        owner_start=None,
    )
    with pytest.raises(Conflict, match=f"run {run_id} is active"):
        site_snapshots.restore(ctx.store, ctx.paths.snapshots, 1)
    runs.finish_run(ctx.store, run_id, "cancelled")
    with pytest.raises(NotFound):
        site_snapshots.restore(ctx.store, ctx.paths.snapshots, 7)

    done = site_snapshots.restore(ctx.store, ctx.paths.snapshots, 1)
    assert done == {"snapshot": 1, "sites": ["plant"]}
    assert sites.get_site("plant") == before
    assert credentials.load_credentials(data_dir, site_id).become_password == "before-pw"
    assert runs.get_run(run_id)["site"] == "plant"  # the run stayed, with its site

    listed = site_snapshots.list_snapshots(ctx.paths.snapshots)
    assert [(s["id"], s["reason"], s["sites"]) for s in listed] == [(1, "before run 1", ["plant"])]
    for n in range(2, 25):
        site_snapshots.take(ctx.paths.db, ctx.paths.snapshots, f"before run {n}", 20)
    assert [s["id"] for s in site_snapshots.list_snapshots(ctx.paths.snapshots)][-1] == 5


def test_cli_snapshots_and_restore(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run_cli(data, "site", "add", "plant", "--host", "db1=10.0.0.5").returncode == 0
    none = run_cli(data, "data", "snapshots")
    assert none.returncode == 0 and "no snapshots yet" in none.stdout
    neither = run_cli(data, "data", "restore")
    assert neither.returncode == 2 and "FILE or --snapshot N" in neither.stderr
    missing = run_cli(data, "data", "restore", "--snapshot", "3")
    assert missing.returncode == 2 and "no snapshot 3" in missing.stderr
    bad = run_cli(data, "data", "restore", "--snapshot", "x")
    assert bad.returncode == 2 and "not an id" in bad.stderr
