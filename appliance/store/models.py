"""Peewee models. The database is a proxy bound when a Store opens (nothing at import time).

The schema itself is created by the migrations (appliance/store/migrations.py) in SQL; these
models mirror it. JSON columns hold text; helpers decode them.
"""

from __future__ import annotations

import json
from typing import Any

from peewee import (
    BlobField,
    BooleanField,
    CharField,
    DatabaseProxy,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

database = DatabaseProxy()


class JSONField(TextField):
    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Site(BaseModel):
    name = CharField(unique=True)
    vars = JSONField(default=dict)
    created_at = CharField()
    timezone = CharField(null=True)  # None: not chosen (the laptop's zone)


class Host(BaseModel):
    site = ForeignKeyField(Site, backref="hosts", on_delete="CASCADE")
    name = CharField()
    address = CharField()
    port = IntegerField(default=22)
    user = CharField(null=True)
    groups = JSONField(default=list)
    vars = JSONField(default=dict)

    class Meta:
        indexes = ((("site", "name"), True),)


class Bundle(BaseModel):
    name = CharField()
    version = CharField()
    sha256 = CharField()
    key_id = CharField()
    path = CharField()
    manifest = JSONField()
    imported_at = CharField()

    class Meta:
        indexes = ((("name", "version"), True),)


class InstalledComponent(BaseModel):
    site = ForeignKeyField(Site, backref="installed", on_delete="CASCADE")
    component = CharField()
    version = CharField()
    bundle_name = CharField()
    bundle_version = CharField()
    run_id = IntegerField(null=True)
    updated_at = CharField()

    class Meta:
        table_name = "installed_component"
        indexes = ((("site", "component"), True),)


class Run(BaseModel):
    site = ForeignKeyField(Site, backref="runs", on_delete="CASCADE")
    bundle = ForeignKeyField(Bundle, backref="runs")
    action = CharField()
    state = CharField()
    plan = JSONField(default=list)
    trigger = CharField(default="manual")
    created_at = CharField()
    started_at = CharField(null=True)
    finished_at = CharField(null=True)
    error = TextField(null=True)
    hint = TextField(null=True)
    owner_pid = IntegerField(null=True)
    pgid = IntegerField(null=True)
    resumed_from = IntegerField(null=True)
    backup_run_id = IntegerField(null=True)
    cancel_requested = BooleanField(default=False)
    owner_start = CharField(null=True)  # "<boot id>:<start ticks>" of owner_pid (pids get reused)
    installed_before = JSONField(default=dict)  # the site's installed versions before this run
    pruned_at = CharField(null=True)  # retention removed its events and log then
    kept_hosts = JSONField(null=True)  # per-host results, kept when the events went


class RunStep(BaseModel):
    run = ForeignKeyField(Run, backref="steps", on_delete="CASCADE")
    idx = IntegerField()
    name = CharField()
    kind = CharField()
    component = CharField(null=True)
    playbook = CharField()
    from_version = CharField(null=True)
    to_version = CharField(null=True)
    state = CharField(default="pending")
    started_at = CharField(null=True)
    finished_at = CharField(null=True)
    rc = IntegerField(null=True)
    stats = JSONField(null=True)  # {host: {ok, changed, ...}} from Ansible's playbook_on_stats

    class Meta:
        table_name = "run_step"
        indexes = ((("run", "idx"), True),)


class RunEvent(BaseModel):
    """One Ansible event; ``id`` is the stream cursor (``?after=SEQ``)."""

    run = ForeignKeyField(Run, backref="events", on_delete="CASCADE")
    step = ForeignKeyField(RunStep, null=True, on_delete="CASCADE")
    counter = IntegerField(null=True)
    event = CharField()
    host = CharField(null=True)
    task = TextField(null=True)
    status = CharField(null=True)
    changed = BooleanField(default=False)
    duration = FloatField(null=True)
    stdout = TextField(null=True)
    created_at = CharField()

    class Meta:
        table_name = "run_event"


class RunCheck(BaseModel):
    """One check a step reported for one host (pass | warn | fail; store/checks.py)."""

    run = ForeignKeyField(Run, on_delete="CASCADE")
    step = ForeignKeyField(RunStep, backref="checks", on_delete="CASCADE")
    host = CharField()
    name = TextField()
    status = CharField()
    message = TextField(default="")

    class Meta:
        table_name = "run_check"


class Schedule(BaseModel):
    site = ForeignKeyField(Site, backref="schedules", on_delete="CASCADE")
    bundle = ForeignKeyField(Bundle, backref="schedules")
    action = CharField()
    trigger = CharField()
    at = CharField(null=True)
    cron = CharField(null=True)
    timezone = CharField()
    window_minutes = IntegerField()
    enabled = BooleanField(default=True)
    created_at = CharField()
    edited_at = CharField(null=True)


class Occurrence(BaseModel):
    schedule = ForeignKeyField(Schedule, backref="occurrences", on_delete="CASCADE")
    fire_time = CharField()
    state = CharField()
    run = ForeignKeyField(Run, null=True, on_delete="SET NULL")
    detail = TextField(null=True)
    recorded_at = CharField()

    class Meta:
        indexes = ((("schedule", "fire_time"), True),)


class OccurrenceAck(BaseModel):
    """A missed or skipped occurrence someone has seen (migration V3)."""

    occurrence = ForeignKeyField(Occurrence, primary_key=True, on_delete="CASCADE")
    acknowledged_at = CharField()

    class Meta:
        table_name = "occurrence_ack"


class Credential(BaseModel):
    """One secret of a site, AES-GCM encrypted (see appliance/store/credentials.py)."""

    site = ForeignKeyField(Site, backref="credentials", on_delete="CASCADE")
    kind = CharField()  # ssh_key | password | become_password
    key_id = CharField()
    nonce = BlobField()
    ciphertext = BlobField()
    created_at = CharField()

    class Meta:
        indexes = ((("site", "kind"), True),)


class SiteConfig(BaseModel):
    """One declared config value of a site for a bundle (see appliance/store/siteconfig.py)."""

    site = ForeignKeyField(Site, backref="config", on_delete="CASCADE")
    bundle_name = CharField()
    name = CharField()
    value = JSONField(null=True)  # NULL for a password
    key_id = CharField(null=True)
    nonce = BlobField(null=True)
    ciphertext = BlobField(null=True)
    updated_at = CharField()

    class Meta:
        table_name = "site_config"
        indexes = ((("site", "bundle_name", "name"), True),)
