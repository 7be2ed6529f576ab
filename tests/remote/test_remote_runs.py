"""The demo platform installed and upgraded on three real SSH hosts through the RunManager, with
one host's network cut in the middle of the upgrade, and no secret left anywhere."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.bundle.build import build_bundle
from appliance.context import Context
from appliance.jobs import bundles as bundle_jobs
from appliance.jobs.runs.manager import RunManager
from appliance.store import sites
from appliance.store.models import RunEvent, RunStep
from tests.remote.conftest import clean_roots, lab_site
from tests.support.local import poll
from tests.support.sshhosts import SshHost, SshLab

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEMO_KEY = REPO / "bundles" / "DEMO-ONLY-signing.key"
TERMINAL = {"succeeded", "failed", "cancelled", "interrupted"}


@pytest.fixture(scope="module")
def demo_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bundles")
    key = folder / "demo.key"
    shutil.copyfile(DEMO_KEY, key)
    key.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return {
        v: build_bundle(REPO / "bundles" / "demo-platform" / v, key, folder)
        for v in ("1.0.0", "1.1.0")
    }


@pytest.fixture
def manager(remote_ctx: Context) -> Iterator[RunManager]:
    runs = RunManager(remote_ctx).start()
    remote_ctx.services["runs"] = runs
    yield runs


def health(host: SshHost) -> dict[str, Any] | None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{host.address}:{host.app_port}/health", timeout=3) as resp:
            return json.loads(resp.read())
    except OSError:
        return None


def wait_run(manager: RunManager, run_id: int, timeout: float = 600) -> dict[str, Any]:
    run = manager.wait(run_id, timeout)
    assert run["state"] in TERMINAL, f"run {run_id} still {run['state']} after {timeout}s"
    return run


class ProcessWatch:
    """Samples /proc/<pid>/cmdline and environ of this process's descendants while a run goes
    (the run engine runs in this process: its children are ours)."""

    def __init__(self, needles: list[bytes]) -> None:
        self.needles = needles
        self.found: list[str] = []
        self.seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _descendants(self) -> list[int]:
        parents: dict[int, list[int]] = {}
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
        found, todo = [], [os.getpid()]
        while todo:
            for child in parents.get(todo.pop(), []):
                found.append(child)
                todo.append(child)
        return found

    def _loop(self) -> None:
        while not self._stop.is_set():
            for pid in self._descendants():
                for name in ("cmdline", "environ"):
                    try:
                        data = Path(f"/proc/{pid}/{name}").read_bytes()
                    except OSError:
                        continue
                    self.seen += 1
                    for needle in self.needles:
                        if needle in data:
                            self.found.append(f"{pid}/{name}")
            self._stop.wait(0.05)


def first_event(run_id: int, where: Callable[[RunEvent], bool]) -> RunEvent | None:
    for event in RunEvent.select().where(RunEvent.run == run_id).order_by(RunEvent.id):
        if where(event):
            return event
    return None


def test_install_upgrade_cut_and_resume(
    remote_ctx: Context, lab: SshLab, manager: RunManager, demo_bundles: dict[str, Path]
) -> None:
    ctx = remote_ctx
    for archive in demo_bundles.values():
        bundle_jobs.import_file(ctx, archive)
    clean_roots(lab)  # a clean install root on every host
    lab_site(ctx, lab, "remote3")
    key_lines = [ln for ln in lab.key_text.splitlines() if not ln.startswith("-----")]
    needles = [lab.password.encode(), *(ln.encode() for ln in key_lines if len(ln) >= 16)]

    with ProcessWatch(needles) as watch:
        # install 1.0.0 on the three hosts
        run = manager.start_run("remote3", "demo-platform", "1.0.0", "install")
        run = wait_run(manager, run["id"])
        assert run["state"] == "succeeded", (run["error"], ctx.paths.run_log(run["id"]).read_text())
        for host in lab.hosts:
            assert (health(host) or {}).get("version") == "1.0.0", host.name

        # upgrade to 1.1.0; cut h2's network once the app step has started on it
        victim = lab.hosts[1]
        run = manager.start_run("remote3", "demo-platform", "1.1.0", "upgrade")
        run_id = run["id"]
        app_idx = next(s["idx"] for s in run["steps"] if s["component"] == "app")
        app_step = RunStep.get((RunStep.run == run_id) & (RunStep.idx == app_idx)).id
        poll(
            lambda: (
                first_event(
                    run_id,
                    lambda e: (
                        e.step_id == app_step
                        and e.host == victim.name
                        and e.event == "runner_on_ok"
                    ),
                )
                or manager.wait(run_id, 0)["state"] in TERMINAL
            ),
            600,
            "the app step to reach h2",
        )
        victim.cut_network()
        run = wait_run(manager, run_id)
    assert watch.seen > 0 and not watch.found, watch.found

    assert run["state"] == "failed", run
    assert run["hosts"][victim.name]["unreachable"] >= 1, run["hosts"]
    assert victim.name in run["error"] and "resume" in run["hint"]
    for other in (lab.hosts[0], lab.hosts[2]):
        assert run["hosts"][other.name]["unreachable"] == 0
        assert run["hosts"][other.name]["failed"] == 0
        assert (health(other) or {}).get("version") == "1.1.0", other.name  # the others finished
    # each host's backup is on that host, under its install root, not at a laptop path
    for other in (lab.hosts[0], lab.hosts[2]):
        marker = other.root / "backups" / f"run-{run_id}" / "app_version"
        assert marker.read_text().strip() == "1.0.0", other.name
        assert not list(other.view.rglob("backups")), list(other.view.rglob("*"))
    assert not (ctx.paths.backups / "remote3").exists()
    log = ctx.paths.run_log(run_id).read_text()
    assert "UNREACHABLE" in log
    stdouts = [e.stdout for e in RunEvent.select().where(RunEvent.run == run_id) if e.stdout]
    assert stdouts and all(s in log for s in stdouts)  # nothing lost from the log

    # the host comes back; the resumed run completes the upgrade everywhere
    victim.restore_network()
    run = manager.resume(run_id)
    run = wait_run(manager, run_id)
    assert run["state"] == "succeeded", (
        run["error"],
        ctx.paths.run_log(run_id).read_text()[-3000:],
    )
    for host in lab.hosts:
        assert (health(host) or {}).get("version") == "1.1.0", host.name
    assert sites.get_site("remote3")["installed"]["app"]["version"] == "1.1.0"

    assert_no_secrets(ctx, needles)


def assert_no_secrets(ctx: Context, needles: list[bytes]) -> None:
    ctx.store.write(lambda: None)  # everything queued is committed
    found = []
    for path in ctx.paths.root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path}: {n[:6]!r}..." for n in needles if n in data]
    assert not found, found
    con = sqlite3.connect(ctx.paths.db)
    try:
        for stdout, task in con.execute("SELECT stdout, task FROM run_event"):
            for n in needles:
                assert n.decode() not in (stdout or "") + (task or "")
        for error, hint in con.execute("SELECT error, hint FROM run"):
            for n in needles:
                assert n.decode() not in (error or "") + (hint or "")
    finally:
        con.close()
    app_log = ctx.paths.logs / "appliance.log"
    assert app_log.exists()
    assert not any(n in app_log.read_bytes() for n in needles)
