"""The status service of a serving appliance: a site's status is refreshed after every run
that ends on it, and every ``status_refresh_minutes`` for every site that declares status
(sites with an active run are left for the refresh that follows their run)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from appliance.context import Context
from appliance.errors import ApplianceError
from appliance.jobs.daytwo.status import refresh
from appliance.jobs.daytwo.targets import status_targets
from appliance.store import daytwo as rows
from appliance.store import sites

logger = logging.getLogger(__name__)


class StatusService:
    def __init__(self, ctx: Context, runs: Any = None) -> None:
        self.ctx = ctx
        self.runs = runs
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._loop_thread: threading.Thread | None = None

    def start(self, every: float | None = None) -> StatusService:
        """Listen to the run manager; refresh every ``every`` seconds (default: the setting
        status_refresh_minutes; 0: never)."""
        if self.runs is not None:
            self.runs.add_listener(self._after_run)
        if every is None:
            every = int(self.ctx.settings.status_refresh_minutes) * 60.0
        if every > 0:
            self._loop_thread = threading.Thread(
                target=self._loop, args=(every,), name="status", daemon=True
            )
            self._loop_thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in [*self.pending(), self._loop_thread]:
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))

    def pending(self) -> list[threading.Thread]:
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            return list(self._threads)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no refresh this service started is running (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        for thread in self.pending():
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.pending()

    def _after_run(self, run: dict[str, Any]) -> None:
        if self._stop.is_set():
            return
        thread = threading.Thread(
            target=self.refresh_quietly,
            args=(run["site_id"], f"after run {run['id']}"),
            name=f"status-after-{run['id']}",
            daemon=True,
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def refresh_quietly(self, site_id: int, why: str) -> dict[str, Any] | None:
        """The site's new status (None: nothing declares status, or it could not be taken:
        logged, never raised)."""
        try:
            if not status_targets(site_id):
                return None
            result = refresh(self.ctx, site_id, stop=self._stop)
            logger.info("status of site %s %s: %s", result["site"], why, result["overall"])
            return result
        except ApplianceError as e:
            logger.info("no status refresh of site %s %s: %s", site_id, why, e.message)
        except Exception:
            logger.exception("status refresh of site %s %s failed", site_id, why)
        finally:
            self.ctx.store.db.close()  # this thread's reader connection
        return None

    def _loop(self, every: float) -> None:
        while not self._stop.wait(every):
            for site in sites.list_sites(limit=100_000):
                if self._stop.is_set():
                    break
                if rows.active_run_id(site["id"]) is None:
                    self.refresh_quietly(site["id"], "on the interval")
