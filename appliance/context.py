"""One object holding what the running appliance is made of: settings, paths, store, clock,
and the services later layers attach (run manager, scheduler). Built by the command line."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from appliance.clock import Clock, SystemClock
from appliance.logs import configure_logging
from appliance.paths import Paths
from appliance.settings import Settings
from appliance.store import Store

logger = logging.getLogger(__name__)


@dataclass
class Context:
    settings: Settings
    paths: Paths
    store: Store
    clock: Clock
    # Services started by the command that needs them (None when not running).
    services: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        for name, service in reversed(list(self.services.items())):
            stop = getattr(service, "stop", None)
            if stop is not None:
                try:
                    stop()
                except Exception:
                    logger.exception("stopping %s failed", name)
        self.services.clear()
        self.store.close()


def open_context(settings: Settings, clock: Clock | None = None) -> Context:
    """Create the data directory, configure logging, open the store (migrating it)."""
    paths = Paths(settings.data_path)
    paths.ensure()
    configure_logging(paths.logs, settings.log_level)
    paths.remove_leftovers()
    clock = clock or SystemClock()
    store = Store(paths.db, clock).open()
    paths.repair_permissions()  # after the store: a new database's files are made 0644
    return Context(settings=settings, paths=paths, store=store, clock=clock)
