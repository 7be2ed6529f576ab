"""Fixtures for run-engine tests: signed bundles built once per session, a site made of
localhost with a temporary install_root and a free app port, a started RunManager, and a
finalizer that kills whatever the runs left running under install_root."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.runs.manager import RunManager
from appliance.store import sites
from tests.support.demoapp import DemoAppProbe
from tests.support.local import free_port, kill_everything_under

REPO = Path(__file__).resolve().parents[2]
SOURCES = {
    "demo-platform@1.0.0": REPO / "bundles" / "demo-platform" / "1.0.0",
    "demo-platform@1.1.0": REPO / "bundles" / "demo-platform" / "1.1.0",
    "demo-platform@1.2.0": REPO / "tests" / "fixtures" / "bundles" / "broken-platform" / "1.2.0",
    "slow-platform@1.0.0": REPO / "tests" / "fixtures" / "bundles" / "slow-platform" / "1.0.0",
    "conf-platform@1.0.0": REPO / "tests" / "fixtures" / "bundles" / "conf-platform" / "1.0.0",
    "conf-platform@1.1.0": REPO / "tests" / "fixtures" / "bundles" / "conf-platform" / "1.1.0",
}
DEMO_KEY = REPO / "bundles" / "DEMO-ONLY-signing.key"
TERMINAL = {"succeeded", "failed", "cancelled", "interrupted"}


@pytest.fixture(scope="session")
def built_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every bundle the run tests use, signed with the demo key (trusted by the appliance)."""
    folder = tmp_path_factory.mktemp("bundles")
    key = folder / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)  # git does not keep the key's mode
    return {ref: build_bundle(src, key, folder) for ref, src in SOURCES.items()}


@dataclass
class LocalSite(DemoAppProbe):
    """A site of one host, ``local`` at address ``localhost`` with a local connection."""

    name: str
    root: Path  # install_root
    port: int  # app_port


def site_spec(name: str, root: Path, port: int, **extra_vars: Any) -> dict[str, Any]:
    return {
        "name": name,
        "vars": {"install_root": str(root), "app_port": port, **extra_vars},
        "hosts": [
            {"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}
        ],
    }


@pytest.fixture
def import_bundle(ctx: Context, built_bundles: dict[str, Path]) -> Callable[[str], dict]:
    def do(ref: str) -> dict:
        bundle, _created = bundle_jobs.import_file(ctx, built_bundles[ref])
        return bundle

    return do


@pytest.fixture
def local_site(ctx: Context, tmp_path: Path) -> Iterator[LocalSite]:
    root = tmp_path / "root"
    port = free_port()
    site = LocalSite("lab", root, port)
    sites.create_site(ctx.store, sites.parse_site(site_spec("lab", root, port)))
    yield site
    kill_everything_under(root)


@pytest.fixture
def manager(ctx: Context) -> Iterator[RunManager]:
    runs = RunManager(ctx).start()
    ctx.services["runs"] = runs
    yield runs
    # ctx.close() stops it


def sleepers(marker: str) -> list[int]:
    """Live `sleep` processes carrying the run's marker (APPLIANCE_RUN) in their environment."""
    from appliance.jobs.runs import processes

    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if (
            argv[:1] == [b"sleep"]
            and state != "Z"
            and processes.carries_marker(int(entry.name), marker)
        ):
            found.append(int(entry.name))
    return found


@pytest.fixture
def slow_site(ctx: Context, tmp_path: Path, import_bundle) -> Iterator[LocalSite]:
    """A site for the slow-platform fixture (its one component sleeps slow_seconds)."""
    root = tmp_path / "slow-root"
    import_bundle("slow-platform@1.0.0")
    sites.create_site(ctx.store, sites.parse_site(site_spec("slow", root, free_port())))
    yield LocalSite("slow", root, 0)
    kill_everything_under(root)
