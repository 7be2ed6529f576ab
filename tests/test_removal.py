"""Deleting sites and bundles over HTTP: refused with the reason while something refers to them,
files removed with the rows, and a deleted carried bundle staying deleted across a restart."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance.context import Context, open_context
from appliance.jobs import bundles as bundle_jobs
from appliance.settings import load_settings
from appliance.store.models import Run
from tests.support.client import Api
from tests.test_bundles_wiring import demo_bundles  # noqa: F401 (fixture)
from tests.ui.helpers import make_run

SITE = {"name": "plant", "hosts": [{"name": "h1", "address": "10.0.0.1"}]}


def import_demo(api: Api, archive: Path) -> dict:
    reply = api.post("/api/bundles", raw=archive.read_bytes())
    assert reply.status in (200, 201), reply.body
    return reply.json()


def test_delete_site_refused_while_a_run_or_schedule_refers_to_it(
    api: Api,
    ctx: Context,
    demo_bundles: dict[str, Path],  # noqa: F811
) -> None:
    import_demo(api, demo_bundles["1.0.0"])
    site = api.post("/api/sites", SITE).json()
    run_id = make_run(ctx, state="running", site="busy", hosts=["a"])
    run_dir = ctx.paths.run_dir(run_id)
    run_dir.mkdir(parents=True)
    (run_dir / "output.log").write_text("log\n")

    refused = api.delete("/api/sites/busy")
    assert refused.status == 409
    assert refused.json()["error"] == f"site busy has a run in progress (#{run_id})"
    assert "cancel" in refused.json()["hint"]

    at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    schedule = {"site": "plant", "bundle": "demo-platform", "version": "1.0.0"}
    made = api.post(
        "/api/schedules", {**schedule, "action": "install", "at": at, "window_minutes": 60}
    )
    assert made.status == 201, made.body
    refused = api.delete(f"/api/sites/{site['id']}")
    assert refused.status == 409
    assert refused.json()["error"] == f"site plant has schedules ({made.json()['id']})"
    assert api.get("/api/sites/plant").status == 200

    assert api.delete(f"/api/schedules/{made.json()['id']}").status == 200
    gone = api.delete(f"/api/sites/{site['id']}")
    assert gone.status == 200, gone.body
    assert gone.json()["site"] == "plant"
    assert api.get("/api/sites/plant").status == 404
    assert api.delete("/api/sites/plant").json()["error"] == "no site 'plant'"

    # the run ended: the site goes with its history and the run's folder
    ctx.store.write(lambda: Run.update(state="failed").where(Run.id == run_id).execute())
    gone = api.delete("/api/sites/busy")
    assert gone.status == 200 and gone.json()["runs"] == [run_id]
    assert not run_dir.exists()
    assert api.get(f"/api/runs/{run_id}").status == 404


def test_delete_bundle_refused_while_used_then_removed_with_its_folder(
    api: Api,
    ctx: Context,
    demo_bundles: dict[str, Path],  # noqa: F811
) -> None:
    import_demo(api, demo_bundles["1.0.0"])
    import_demo(api, demo_bundles["1.1.0"])
    site = api.post("/api/sites", SITE).json()
    at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    body = {"site": "plant", "bundle": "demo-platform", "version": "1.1.0"}
    made = api.post(
        "/api/schedules", {**body, "action": "install", "at": at, "window_minutes": 60}
    ).json()
    refused = api.delete("/api/bundles/demo-platform/1.1.0")
    assert refused.status == 409
    assert refused.json()["error"] == (
        f"bundle demo-platform 1.1.0 is in use: schedules {made['id']} use it"
    )
    assert api.get("/api/bundles/demo-platform/1.1.0").status == 200
    assert api.delete("/api/bundles/demo-platform/9.9.9").status == 404

    folder = ctx.paths.bundles / "demo-platform" / "1.0.0"
    assert folder.is_dir()
    gone = api.delete("/api/bundles/demo-platform/1.0.0")
    assert gone.status == 200, gone.body
    assert gone.json()["version"] == "1.0.0"
    assert not folder.exists()
    assert (ctx.paths.bundles / "demo-platform" / "1.1.0").is_dir()
    assert [b["version"] for b in api.get("/api/bundles").json()] == ["1.1.0"]
    assert list(ctx.paths.tmp.iterdir()) == []
    # importing it again on purpose brings it back
    assert api.post("/api/bundles", raw=demo_bundles["1.0.0"].read_bytes()).status == 201
    assert bundle_jobs.removal.deleted_bundles(ctx) == {}
    assert site["id"]


def test_deleted_carried_bundle_is_not_imported_again(
    api: Api,
    ctx: Context,
    tmp_path: Path,
    demo_bundles: dict[str, Path],  # noqa: F811
) -> None:
    carried = tmp_path / "carried"
    carried.mkdir()
    for archive in demo_bundles.values():
        shutil.copy(archive, carried)
    assert sorted(bundle_jobs.import_carried(ctx, carried)) == [
        "demo-platform 1.0.0",
        "demo-platform 1.1.0",
    ]
    assert api.delete("/api/bundles/demo-platform/1.0.0").status == 200
    ctx.close()
    # the next start (a new context on the same data folder): the deleted one stays away
    again = open_context(load_settings(cli={"data_dir": str(ctx.paths.root)}, env={}))
    try:
        assert bundle_jobs.import_carried(again, carried) == []
        assert [b["version"] for b in bundle_jobs.rows.list_bundles()] == ["1.1.0"]
        assert not (again.paths.bundles / "demo-platform" / "1.0.0").exists()
    finally:
        again.close()


def test_rm_on_the_command_line(
    data_dir: Path,
    tmp_path: Path,
    demo_bundles: dict[str, Path],  # noqa: F811
) -> None:
    from tests.support.processes import run_cli

    assert run_cli(data_dir, "bundle", "import", str(demo_bundles["1.0.0"])).returncode == 0
    assert run_cli(data_dir, "site", "add", "plant", "--host", "h1=10.0.0.1").returncode == 0
    done = run_cli(data_dir, "bundle", "rm", "demo-platform@1.0.0")
    assert (done.returncode, done.stdout) == (0, "deleted bundle demo-platform 1.0.0\n")
    done = run_cli(data_dir, "bundle", "rm", "demo-platform@1.0.0")
    assert done.returncode != 0 and done.stderr.count("\n") == 1, done.stderr
    assert "no bundle demo-platform 1.0.0" in done.stderr
    done = run_cli(data_dir, "site", "rm", "plant")
    assert (done.returncode, done.stdout) == (0, "deleted site plant (0 runs in its history)\n")
    done = run_cli(data_dir, "site", "rm", "plant")
    assert done.returncode != 0 and "no site 'plant'" in done.stderr
    assert "Traceback" not in done.stderr
