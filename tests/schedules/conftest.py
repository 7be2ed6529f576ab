"""Schedules with an injected clock and a recording run starter.

The real RunManager needs real Ansible runs, so these tests start "runs" through a small object
implementing the scheduler's RunStarter protocol: it records every call, writes a run row (so
occurrences can point at it, as with the real engine) and answers 409 Conflict while the test
says the site is busy. The one real end-to-end test is in test_e2e.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from appliance.context import Context, open_context
from appliance.errors import Conflict
from appliance.jobs.schedules.service import Scheduler
from appliance.settings import load_settings
from appliance.store import sites
from appliance.store.bundles import find_bundle
from appliance.store.models import Run, Site
from tests.runs.conftest import built_bundles  # noqa: F401 (a fixture, for test_e2e)
from tests.support.planned import fake_bundle, installed


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.current = now
        self._mono = 1000.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self._mono

    def set(self, moment: datetime) -> None:
        self._mono += max(0.0, (moment - self.current).total_seconds())
        self.current = moment

    def advance(self, **delta: float) -> datetime:
        self.set(self.current + timedelta(**delta))
        return self.current


@dataclass
class RecordingStarter:
    """Implements RunStarter; ``busy`` makes start_run answer 409 like a site with a run."""

    ctx: Context
    busy: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)
    listeners: list[Callable[[dict], None]] = field(default_factory=list)

    def start_run(
        self,
        site: int | str,
        bundle: str,
        version: str,
        action: str | None = None,
        *,
        trigger: str = "manual",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        if self.busy:
            raise Conflict(f"site {site} already has an active run", "Wait for it to end.")
        now = self.ctx.clock.now()

        def write() -> int:
            return Run.create(
                site=Site.get_by_id(site),
                bundle=find_bundle(bundle, version),
                action=action or "upgrade",
                state="succeeded",
                trigger=trigger,
                created_at=self.ctx.store.now(),
            ).id

        run_id = self.ctx.store.write(write)
        self.calls.append(
            {
                "site": site,
                "bundle": bundle,
                "version": version,
                "action": action,
                "trigger": trigger,
                "at": now,
                "id": run_id,
            }
        )
        return {"id": run_id, "state": "queued", "plan": []}

    def add_listener(self, callback: Callable[[dict], None]) -> None:
        self.listeners.append(callback)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class World:
    """A data directory that can be 'restarted': each open() is a new process's view."""

    def __init__(self, data_dir: Path, clock: FakeClock) -> None:
        self.data_dir = data_dir
        self.clock = clock
        self.ctx: Context | None = None
        self.runs: RecordingStarter | None = None
        self.scheduler: Scheduler | None = None

    def open(self) -> Scheduler:
        self.close()
        settings = load_settings(cli={"data_dir": str(self.data_dir)}, env={})
        self.ctx = open_context(settings, clock=self.clock)
        self.runs = RecordingStarter(self.ctx)
        self.scheduler = Scheduler(self.ctx, self.runs)
        return self.scheduler

    def restart(self, busy: bool = False) -> Scheduler:
        calls = self.runs.calls if self.runs else []
        scheduler = self.open()
        self.runs.calls = calls  # one log of starts across "processes"
        self.runs.busy = busy
        return scheduler

    def close(self) -> None:
        if self.ctx is not None:
            self.ctx.close()
            self.ctx = None

    def seed(self, expected_minutes: float | None = None) -> None:
        assert self.ctx is not None
        sites.create_site(
            self.ctx.store,
            sites.parse_site({"name": "plant", "hosts": [{"name": "h1", "address": "127.0.0.1"}]}),
        )
        fake_bundle(self.ctx, "1.1.0", expected_minutes)
        installed(self.ctx, "plant", "1.0.0")  # so the schedules' upgrades pass the plan check


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utc(2026, 1, 10, 12, 0))


@pytest.fixture
def world(data_dir: Path, clock: FakeClock) -> Iterator[World]:
    w = World(data_dir, clock)
    w.open()
    w.seed()
    yield w
    w.close()


def spec(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "site": "plant",
        "bundle": "demo-platform",
        "version": "1.1.0",
        "window_minutes": 60,
    }
    base.update(kw)
    return base
