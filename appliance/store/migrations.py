"""Forward-only schema migrations, versioned by ``PRAGMA user_version``.

Each entry upgrades the schema from version i to i+1 and runs inside the writer's transaction,
so a failed migration leaves the previous version intact. Never edit a shipped migration; add one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from peewee import Database

from appliance.errors import ConfigError

logger = logging.getLogger(__name__)

V1 = """
CREATE TABLE site (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, vars TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL);
CREATE TABLE host (
  id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES site(id) ON DELETE CASCADE,
  name TEXT NOT NULL, address TEXT NOT NULL, port INTEGER NOT NULL DEFAULT 22, user TEXT,
  groups TEXT NOT NULL DEFAULT '[]', vars TEXT NOT NULL DEFAULT '{}', UNIQUE (site_id, name));
CREATE TABLE bundle (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, sha256 TEXT NOT NULL,
  key_id TEXT NOT NULL, path TEXT NOT NULL, manifest TEXT NOT NULL, imported_at TEXT NOT NULL,
  UNIQUE (name, version));
CREATE TABLE installed_component (
  id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES site(id) ON DELETE CASCADE,
  component TEXT NOT NULL, version TEXT NOT NULL, bundle_name TEXT NOT NULL,
  bundle_version TEXT NOT NULL, run_id INTEGER, updated_at TEXT NOT NULL,
  UNIQUE (site_id, component));
CREATE TABLE run (
  id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES site(id) ON DELETE CASCADE,
  bundle_id INTEGER NOT NULL REFERENCES bundle(id), action TEXT NOT NULL, state TEXT NOT NULL,
  plan TEXT NOT NULL DEFAULT '[]', "trigger" TEXT NOT NULL DEFAULT 'manual',
  created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, error TEXT, hint TEXT,
  owner_pid INTEGER, pgid INTEGER, resumed_from INTEGER, backup_run_id INTEGER);
CREATE UNIQUE INDEX run_one_active_per_site ON run (site_id)
  WHERE state IN ('queued', 'running');
CREATE INDEX run_state ON run (state);
CREATE TABLE run_step (
  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, component TEXT,
  playbook TEXT NOT NULL, from_version TEXT, to_version TEXT,
  state TEXT NOT NULL DEFAULT 'pending', started_at TEXT, finished_at TEXT, rc INTEGER,
  UNIQUE (run_id, idx));
CREATE TABLE run_event (
  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  step_id INTEGER REFERENCES run_step(id) ON DELETE CASCADE, counter INTEGER,
  event TEXT NOT NULL, host TEXT, task TEXT, status TEXT, changed INTEGER NOT NULL DEFAULT 0,
  duration REAL, stdout TEXT, created_at TEXT NOT NULL);
CREATE INDEX run_event_run ON run_event (run_id, id);
CREATE TABLE schedule (
  id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES site(id) ON DELETE CASCADE,
  bundle_id INTEGER NOT NULL REFERENCES bundle(id), action TEXT NOT NULL,
  "trigger" TEXT NOT NULL, at TEXT, cron TEXT, timezone TEXT NOT NULL,
  window_minutes INTEGER NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL);
CREATE TABLE occurrence (
  id INTEGER PRIMARY KEY,
  schedule_id INTEGER NOT NULL REFERENCES schedule(id) ON DELETE CASCADE,
  fire_time TEXT NOT NULL, state TEXT NOT NULL,
  run_id INTEGER REFERENCES run(id) ON DELETE SET NULL, detail TEXT, recorded_at TEXT NOT NULL,
  UNIQUE (schedule_id, fire_time));
"""

# The run engine (issue 4): cross-process cancel, the identity of the owning process (a pid alone
# may be reused), and the site's installed versions before the run (what a rollback restores).
V2 = """
ALTER TABLE run ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run ADD COLUMN owner_start TEXT;
ALTER TABLE run ADD COLUMN installed_before TEXT NOT NULL DEFAULT '{}';
"""


def _sql_script(script: str) -> Callable[[Database], None]:
    def apply(db: Database) -> None:
        for statement in script.split(";"):
            if statement.strip():
                db.execute_sql(statement)

    return apply


# MIGRATIONS[i] upgrades user_version i -> i + 1.
MIGRATIONS: list[Callable[[Database], None]] = [_sql_script(V1), _sql_script(V2)]

# V3, schedules: which missed/skipped occurrences a person has seen (GET /api/schedules lists
# the others under "missed").
V3_OCCURRENCE_ACK = """
CREATE TABLE occurrence_ack (
  occurrence_id INTEGER PRIMARY KEY REFERENCES occurrence(id) ON DELETE CASCADE,
  acknowledged_at TEXT NOT NULL);
CREATE INDEX occurrence_state ON occurrence (state);
"""
MIGRATIONS.append(_sql_script(V3_OCCURRENCE_ACK))

# Site credentials (issue 9): only AES-GCM ciphertext, never plaintext (store/credentials.py).
V_CREDENTIAL = """
CREATE TABLE credential (
  id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES site(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('ssh_key', 'password', 'become_password')),
  key_id TEXT NOT NULL, nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, created_at TEXT NOT NULL,
  UNIQUE (site_id, kind));
"""
MIGRATIONS.append(_sql_script(V_CREDENTIAL))

# Per-host results of a step as Ansible counted them (its playbook_on_stats event, issue 13):
# JSON {host: {ok, changed, unreachable, failed, skipped, rescued, ignored}}; NULL until the
# step's playbook ended (a cancelled or killed step never gets one).
V_STEP_STATS = """
ALTER TABLE run_step ADD COLUMN stats TEXT;
"""
MIGRATIONS.append(_sql_script(V_STEP_STATS))

# Retention (issue 23): a pruned run keeps its summary, steps and per-host results; its events
# and log are gone.
V_RETENTION = """
ALTER TABLE run ADD COLUMN pruned_at TEXT;
ALTER TABLE run ADD COLUMN kept_hosts TEXT;
CREATE INDEX run_site_finished ON run (site_id, finished_at);
"""
MIGRATIONS.append(_sql_script(V_RETENTION))

# Time zones (issue 18): a site's own zone (NULL: not chosen, the laptop's zone is used), for
# its reports and as the default zone of its schedules; when a schedule was last edited (its
# fire times are counted from then, so an edit never makes earlier fire times "missed").
V_TIMEZONES = """
ALTER TABLE site ADD COLUMN timezone TEXT;
ALTER TABLE schedule ADD COLUMN edited_at TEXT;
"""
MIGRATIONS.append(_sql_script(V_TIMEZONES))

# Checks a step reported as data (issue 14, set_stats key ``appliance_checks``): one row per
# host and check, in the order reported; replaced when the step runs again.
V_RUN_CHECK = """
CREATE TABLE run_check (
  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  step_id INTEGER NOT NULL REFERENCES run_step(id) ON DELETE CASCADE,
  host TEXT NOT NULL, name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
  message TEXT NOT NULL DEFAULT '');
CREATE INDEX run_check_run ON run_check (run_id, step_id);
"""
MIGRATIONS.append(_sql_script(V_RUN_CHECK))

# Day two (issue 15): each site's last status (one row, the whole result as JSON), and the
# acknowledgements of a failed run that marked the site as needing attention (kept: history).
V_DAYTWO = """
CREATE TABLE site_status (
  site_id INTEGER PRIMARY KEY REFERENCES site(id) ON DELETE CASCADE,
  checked_at TEXT NOT NULL, result TEXT NOT NULL);
CREATE TABLE attention_ack (
  id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES site(id) ON DELETE CASCADE,
  run_id INTEGER NOT NULL, reason TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX attention_ack_site ON attention_ack (site_id, run_id);
"""
MIGRATIONS.append(_sql_script(V_DAYTWO))

# Declared configuration (issue 14): one row per site, bundle name and item; a password item
# has only ciphertext (AES-256-GCM with the credentials key), any other its JSON value.
V_SITE_CONFIG = """
CREATE TABLE site_config (
  id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES site(id) ON DELETE CASCADE,
  bundle_name TEXT NOT NULL, name TEXT NOT NULL, value TEXT, key_id TEXT, nonce BLOB,
  ciphertext BLOB, updated_at TEXT NOT NULL, UNIQUE (site_id, bundle_name, name));
"""
MIGRATIONS.append(_sql_script(V_SITE_CONFIG))

LATEST = len(MIGRATIONS)


def schema_version(db: Database) -> int:
    return db.execute_sql("PRAGMA user_version").fetchone()[0]


def migrate(db: Database) -> int:
    """Bring the schema to LATEST; returns the version found before. Runs on the writer."""
    found = schema_version(db)
    if found > LATEST:
        raise ConfigError(
            f"the database has schema version {found}, newer than this appliance knows ({LATEST})",
            "Use the newer appliance that wrote it, or point --data-dir at another folder.",
        )
    for version in range(found, LATEST):
        logger.info("migrating database schema %d -> %d", version, version + 1)
        MIGRATIONS[version](db)
        # PRAGMA cannot take parameters; the value is our own integer.
        db.execute_sql(f"PRAGMA user_version = {version + 1}")
    return found
