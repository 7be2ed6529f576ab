"""Day-two tests use the run tests' fixtures (signed bundles, a localhost site, a run manager)
and a status service listening to that manager."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from appliance.context import Context
from appliance.jobs.daytwo.service import StatusService
from appliance.jobs.runs.manager import RunManager
from tests.runs.conftest import (  # noqa: F401 - fixtures
    built_bundles,
    import_bundle,
    local_site,
    manager,
    slow_site,
)


@pytest.fixture
def status_service(ctx: Context, manager: RunManager) -> Iterator[StatusService]:  # noqa: F811
    service = StatusService(ctx, manager).start()
    ctx.services["status"] = service
    yield service
    # ctx.close() stops it
