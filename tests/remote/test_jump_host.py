"""The appliance on a Linux jump host, used from a laptop through an SSH tunnel (the Windows path
of docs/field-guide.md), driven for real:

- the jump host is a network namespace with its own sshd (tests/support/sshhosts.py; the first
  host of the session's lab, tests/remote/conftest.py: one lab per process); this
  machine reaches it only over the veth pair, as a laptop reaches a site's jump host;
- ``appliance serve`` runs inside that namespace, bound to its loopback, with the SSH variables
  (SSH_CONNECTION, USER, LOGNAME) that a real SSH login of the lab user there got (read with
  ``ssh ... env``). What stands in: it runs as root (the lab user cannot reach this checkout's
  Python), not in that login's session;
- the tunnel is the exact command ``serve`` printed, run by OpenSSH's client here (plus only the
  options that trust the lab's host key and key file); Chromium loads the printed URL through it.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.support.local import free_port, poll
from tests.support.processes import appliance_cmd, child_env
from tests.support.sshhosts import USER, SshLab
from tests.ui.conftest import shot


def ssh_options(lab: SshLab) -> list[str]:
    """What the engineer's own ssh config would hold: the key and the known host key."""
    return [
        "-i",
        str(lab.client_key),
        "-o",
        f"UserKnownHostsFile={lab.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
    ]


def health(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url + "api/health", timeout=2) as resp:
            return resp.status
    except OSError:
        return 0


def test_the_ui_through_the_printed_tunnel_into_a_jump_host(
    browser, lab: SshLab, tmp_path: Path
) -> None:
    host = lab.hosts[0]
    login = subprocess.run(
        ["ssh", *ssh_options(lab), f"{USER}@{host.address}", "env"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert login.returncode == 0, login.stderr
    session = dict(line.split("=", 1) for line in login.stdout.splitlines() if "=" in line)
    assert session["SSH_CONNECTION"].split()[2] == host.address

    port = free_port()  # free here, where the tunnel listens; the namespace has all ports free
    data = tmp_path / "jump-data"
    env = child_env(
        data,
        SSH_CONNECTION=session["SSH_CONNECTION"],
        USER=session["USER"],
        LOGNAME=session["LOGNAME"],
    )
    log_path = tmp_path / "serve.out"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            ["ip", "netns", "exec", host.netns, *appliance_cmd(), "serve", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    tunnel = None
    try:

        def printed() -> re.Match[str] | None:
            assert server.poll() is None, log_path.read_text()
            return re.search(r"^  (ssh .*)\nthen open (\S+)$", log_path.read_text(), re.M)

        found = poll(printed, 60, "serve printing the tunnel command")
        command, url = found.group(1), found.group(2)
        assert command == f"ssh -N -L {port}:127.0.0.1:{port} {USER}@{host.address}"
        assert url.startswith(f"http://127.0.0.1:{port}/?token=")
        # Bound to the jump host's loopback: not reachable from here without the tunnel.
        with pytest.raises(OSError):
            socket.create_connection((host.address, port), timeout=2).close()
        assert health(f"http://127.0.0.1:{port}/") == 0

        argv = shlex.split(command)
        tunnel = subprocess.Popen(
            [argv[0], *ssh_options(lab), "-o", "ExitOnForwardFailure=yes", *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "tunnel.err", "wb"),  # noqa: SIM115 (closed with the process)
        )
        poll(lambda: health(f"http://127.0.0.1:{port}/") == 200, 30, "the tunnel answering")

        context = browser.new_context(locale="en-US", viewport={"width": 1366, "height": 900})
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_selector("#app-header nav")
            assert "token=" not in page.url  # traded for the session cookie
            # Logged in through the tunnel: the API answers the page's own requests.
            status = page.evaluate("fetch('/api/sites').then(r => r.status)")
            assert status == 200
            shot(page, "jump-host-tunnel")
            assert not errors, errors
        finally:
            context.close()
    finally:
        if tunnel is not None:
            tunnel.terminate()
            tunnel.wait(10)
        if server.poll() is None:
            server.terminate()
            server.wait(30)
