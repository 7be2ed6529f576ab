"""`appliance serve` as a process: prints its URL, answers, stops cleanly, survives SIGKILL."""

from __future__ import annotations

import http.client
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.support.processes import ServerProcess


def test_serve_prints_url_and_stops_cleanly_on_sigterm(data_dir: Path) -> None:
    server = ServerProcess(data_dir)
    try:
        assert server.api.get("/api/health", token=False).status == 200
        deadline = time.monotonic() + 10
        while f"?token={server.info['token']}" not in server.output():
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        code = server.terminate()
    assert code == 0
    assert not (data_dir / "server.json").exists()


@pytest.mark.slow
def test_sigkill_during_writes_loses_no_acknowledged_write(data_dir: Path) -> None:
    server = ServerProcess(data_dir)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        i = 0
        while not stop.is_set():
            name = f"k{n}-{i}"
            try:
                reply = server.api.post("/api/sites", {"name": name})
            except (OSError, http.client.HTTPException):
                return  # the server died under us (or mid-answer): never acknowledged
            if reply.status == 201:
                with lock:
                    acknowledged.append(name)
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # SIGKILL with writes in flight
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acknowledged) >= 300

    restarted = ServerProcess(data_dir)
    try:
        names = {s["name"] for s in restarted.api.get("/api/sites?limit=100000").json()}
        assert set(acknowledged) <= names
    finally:
        assert restarted.terminate() == 0
    raw = sqlite3.connect(data_dir / "appliance.db")
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()


def test_a_second_sigterm_during_shutdown_does_not_cut_it_short(data_dir: Path) -> None:
    """systemd, make (which forwards SIGTERM to its children) or a second Ctrl+C: the shutdown
    still finishes and cleans up."""
    import os
    import signal

    server = ServerProcess(data_dir)
    log = data_dir / "logs" / "appliance.log"
    os.kill(server.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while "shutting down" not in log.read_text():  # the second one lands inside the shutdown
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.01)
    if server.proc.poll() is None:
        os.kill(server.proc.pid, signal.SIGTERM)
    assert server.terminate() == 0
    assert not (data_dir / "server.json").exists()
