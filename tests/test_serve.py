"""`appliance serve` as a process: prints its URL, answers, stops cleanly, survives SIGKILL."""

from __future__ import annotations

import http.client
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from appliance.backend.security import check_bind_address
from tests.support.cli import run_cli
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


def test_serve_off_a_desktop_prints_the_tunnel_and_the_url(data_dir: Path) -> None:
    """An SSH session (SSH_CONNECTION) on a jump host: the exact ssh -L for the laptop, and the
    login URL through it. The real tunnel is driven in tests/ui/test_jump_host.py."""
    server = ServerProcess(
        data_dir, SSH_CONNECTION="10.0.0.7 50022 10.0.0.9 22", USER="engineer", DISPLAY=":5"
    )
    try:
        port, token = server.url.rstrip("/").rsplit(":", 1)[1], server.info["token"]
        expected = (
            f"  ssh -N -L {port}:127.0.0.1:{port} engineer@10.0.0.9\n"
            f"then open http://127.0.0.1:{port}/?token={token}\n"
        )
        deadline = time.monotonic() + 10
        while expected not in server.output():
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
    finally:
        assert server.terminate() == 0


@pytest.mark.parametrize(
    ("environ", "desktop"),
    [
        ({"DISPLAY": ":0"}, True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, True),
        ({}, False),
        ({"DISPLAY": ":0", "SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"}, False),  # ssh -X
    ],
)
def test_what_counts_as_a_desktop(environ: dict[str, str], desktop: bool) -> None:
    from appliance.cli.serve import on_desktop, tunnel_hint

    assert on_desktop(environ) is desktop
    hint = tunnel_hint({**environ, "USER": "eng"}, "127.0.0.1", 8123, "tok")
    assert (hint is None) is desktop


def test_the_tunnel_names_this_host_without_ssh_and_the_bound_address() -> None:
    import socket

    from appliance.cli.serve import tunnel_hint

    hint = tunnel_hint({"USER": "eng"}, "0.0.0.0", 8123, "tok")
    assert f"ssh -N -L 8123:127.0.0.1:8123 eng@{socket.gethostname()}\n" in hint
    hint = tunnel_hint({"USER": "eng"}, "10.1.2.3", 8123, "tok")
    assert "ssh -N -L 8123:10.1.2.3:8123 " in hint
    assert hint.endswith("then open http://127.0.0.1:8123/?token=tok\n")


def test_under_wsl_the_windows_browser_opens_the_url_itself() -> None:
    from appliance.cli.serve import tunnel_hint

    hint = tunnel_hint({"WSL_DISTRO_NAME": "Debian"}, "127.0.0.1", 8123, "tok")
    assert hint == "On Windows, open http://127.0.0.1:8123/?token=tok in the browser\n"
    ssh_into_wsl = {"WSL_DISTRO_NAME": "Debian", "SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"}
    assert "ssh -N -L" in tunnel_hint(ssh_into_wsl, "127.0.0.1", 8123, "tok")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "appliance.example"])
def test_serving_beyond_this_machine_is_refused_without_allow_remote(
    data_dir: Path, host: str
) -> None:
    done = run_cli(data_dir, "serve", "--host", host, "--port", "0")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and f"refusing to serve on {host}" in done.stderr
    assert "--allow-remote" in done.stderr and "SSH tunnel" in done.stderr
    assert not (data_dir / "server.json").exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_permission(host: str) -> None:
    assert check_bind_address(host, allow_remote=False) is None


def test_allowed_remote_says_so_loudly() -> None:
    # checked without binding: a test listens on loopback only
    warning = check_bind_address("0.0.0.0", allow_remote=True)
    assert warning and warning.startswith("WARNING: serving on 0.0.0.0")
