"""The backups migration lists the backups earlier versions took: every run with a succeeded
backup step gets a row (no host details), nothing else does."""

from __future__ import annotations

from pathlib import Path

from peewee import SqliteDatabase

from appliance.store import migrations


def test_earlier_backups_are_listed_after_the_migration(tmp_path: Path) -> None:
    db = SqliteDatabase(str(tmp_path / "old.db"), pragmas={"foreign_keys": 1})
    ours = next(
        i
        for i, step in enumerate(migrations.MIGRATIONS)
        if step.__closure__ and step.__closure__[0].cell_contents == migrations.V_BACKUPS
    )
    for step in migrations.MIGRATIONS[:ours]:  # the schema just before it
        step(db)
    db.execute_sql("INSERT INTO site (id, name, created_at) VALUES (1, 'lab', 't0')")
    db.execute_sql(
        "INSERT INTO bundle (id, name, version, sha256, key_id, path, manifest, imported_at) "
        "VALUES (1, 'demo-platform', '1.1.0', 'x', 'k', '/b', '{}', 't0')"
    )
    for run, kind, state in (
        (1, "backup", "succeeded"),
        (2, "backup", "failed"),
        (3, "x", "succeeded"),
    ):
        db.execute_sql(
            "INSERT INTO run (id, site_id, bundle_id, action, state, created_at) "
            "VALUES (?, 1, 1, 'upgrade', 'succeeded', 't1')",
            (run,),
        )
        db.execute_sql(
            "INSERT INTO run_step (run_id, idx, name, kind, playbook, state, finished_at) "
            "VALUES (?, 1, ?, ?, 'p.yml', ?, 't2')",
            (run, kind, kind, state),
        )
    migrations.MIGRATIONS[ours](db)
    found = db.execute_sql(
        "SELECT run_id, site_id, bundle_name, bundle_version, created_at, hosts, deleted_at "
        "FROM backup"
    ).fetchall()
    assert found == [(1, 1, "demo-platform", "1.1.0", "t2", "{}", None)]
    db.close()
