"""Backups on a local site, end to end with the demo platform through real Ansible: a backup run,
an upgrade's backup, a second backup run, rollback to the first one (its versions and data
come back), the list over HTTP, delete, retention."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.context import Context, open_context
from appliance.jobs.runs.manager import RunManager
from appliance.settings import load_settings
from appliance.store import sites
from tests.runs.conftest import LocalSite
from tests.support.client import Api

KEEP = 3


@pytest.fixture
def ctx(data_dir: Path) -> Iterator[Context]:
    """This module's appliance keeps the newest 3 backups per site."""
    settings = load_settings(cli={"data_dir": str(data_dir), "keep_backups_per_site": KEEP}, env={})
    context = open_context(settings)
    yield context
    context.close()


def add_item(site: LocalSite, name: str) -> None:
    con = sqlite3.connect(site.root / "data" / "demo.db")
    with con:
        con.execute("INSERT INTO items (name) VALUES (?)", (name,))
    con.close()


def run_ok(manager: RunManager, *args: str, **kw) -> dict:
    started = manager.start_run("lab", *args, **kw)
    done = manager.wait(started["id"], 300)
    assert done["state"] == "succeeded", (done["error"], done["hint"])
    return done


def versions(ctx: Context) -> dict[str, tuple[str, str]]:
    installed = sites.get_site("lab")["installed"]
    return {c: (v["version"], v["bundle_version"]) for c, v in installed.items()}


@pytest.mark.slow
def test_backups_listed_chosen_deleted_and_kept_to_the_newest(
    ctx: Context,
    manager: RunManager,
    local_site: LocalSite,
    import_bundle,
    api: Api,
    data_dir: Path,
) -> None:
    import_bundle("demo-platform@1.0.0")
    import_bundle("demo-platform@1.1.0")
    run_ok(manager, "demo-platform", "1.0.0")
    add_item(local_site, "widget")

    # a backup run: just the backup stage, nothing recorded as changed
    plan = manager.start_run("lab", "demo-platform", "1.0.0", "backup", dry_run=True)
    assert [s["kind"] for s in plan["plan"]] == ["backup"]
    first = run_ok(manager, "demo-platform", "1.0.0", "backup")
    assert versions(ctx)["app"] == ("1.0.0", "1.0.0")
    add_item(local_site, "gadget")

    upgrade = run_ok(manager, "demo-platform", "1.1.0")  # takes a backup too
    second = run_ok(manager, "demo-platform", "1.1.0", "backup")
    assert local_site.health()["version"] == "1.1.0"

    # the list: newest first, with hosts, path, size and components the stage reported
    reply = api.get("/api/sites/lab/backups")
    assert reply.status == 200
    listed = reply.json()
    assert [b["run"] for b in listed] == [second["id"], upgrade["id"], first["id"]]
    oldest = listed[-1]
    assert oldest["action"] == "backup" and oldest["bundle"] == "demo-platform"
    assert oldest["versions"] == {"db": "1", "config": "1.0.0", "app": "1.0.0"}
    assert listed[0]["versions"]["app"] == "1.1.0"
    (host,) = oldest["hosts"]
    assert host["host"] == "local"
    assert host["path"] == str(ctx.paths.backups / "lab" / str(first["id"]))
    assert host["size_bytes"] > 0 and oldest["size_bytes"] == host["size_bytes"]
    assert set(host["components"]) == {"db", "config", "app"}

    # without a choice a rollback restores the latest upgrade's backup, as it always did
    plan = manager.start_run("lab", "demo-platform", "1.1.0", "rollback", dry_run=True)
    assert plan["backup_run"] == upgrade["id"]

    # roll back to the first backup (not the latest): app 1.0.0 and its data come back
    plan = manager.start_run(
        "lab", "demo-platform", "1.1.0", "rollback", dry_run=True, backup=first["id"]
    )
    assert plan["backup_run"] == first["id"]
    back = run_ok(manager, "demo-platform", "1.1.0", "rollback", backup=first["id"])
    assert back["backup_run"] == first["id"]
    assert local_site.health()["version"] == "1.0.0"
    assert [i["name"] for i in local_site.get("/items")[1]["items"]] == ["widget"]
    assert versions(ctx) == {
        "db": ("1", "1.0.0"),
        "config": ("1.0.0", "1.0.0"),
        "app": ("1.0.0", "1.0.0"),
    }

    # delete the upgrade's backup: gone on the host and from the list
    reply = api.delete(f"/api/sites/lab/backups/{upgrade['id']}")
    assert reply.status == 200, reply.json()
    removed = str(ctx.paths.backups / "lab" / str(upgrade["id"]))
    assert reply.json()["removed"] == [{"host": "local", "path": removed}]
    assert not (ctx.paths.backups / "lab" / str(upgrade["id"])).exists()
    assert [b["run"] for b in api.get("/api/sites/lab/backups").json()] == [
        second["id"],
        first["id"],
    ]
    reply = api.delete(f"/api/sites/lab/backups/{upgrade['id']}")
    assert reply.status == 422 and "deleted already" in reply.json()["error"]

    # retention: two more backups; the site keeps its newest three
    third = run_ok(manager, "demo-platform", "1.0.0", "backup")
    fourth = run_ok(manager, "demo-platform", "1.0.0", "backup")
    listed = [b["run"] for b in api.get("/api/sites/lab/backups").json()]
    assert listed == [fourth["id"], third["id"], second["id"]]
    assert not (ctx.paths.backups / "lab" / str(first["id"])).exists()
    assert (ctx.paths.backups / "lab" / str(second["id"]) / "app_version").is_file()

    # a deleted backup cannot be restored: 422 with a hint, nothing run
    reply = api.post(
        "/api/runs",
        {
            "site": "lab",
            "bundle": "demo-platform",
            "version": "1.0.0",
            "action": "rollback",
            "backup": first["id"],
        },
    )
    body = reply.json()
    assert reply.status == 422 and "was deleted" in body["error"] and "backups lab" in body["hint"]
    assert api.get("/api/runs?site=lab").json()[0]["id"] == fourth["id"]
