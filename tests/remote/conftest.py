"""Fixtures for remote-site tests: three real SSH hosts made on this machine (see
tests/support/sshhosts.py; needs root), and site descriptions pointing at them.

Each test that changes a host (stops sshd, cuts its network) restores it; the lab is shared by
the whole session and torn down at its end (every process in the hosts' namespaces is killed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.context import Context, open_context
from appliance.jobs.ansible import hostkeys
from appliance.settings import load_settings
from tests.support.sshhosts import USER, SshLab, missing_requirements


@pytest.fixture(scope="session")
def ssh_lab() -> Iterator[SshLab]:
    why = missing_requirements()
    if why:
        pytest.skip(why)
    lab = SshLab(count=3).create()
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def lab(ssh_lab: SshLab) -> Iterator[SshLab]:
    """The lab with every host up (again) after the test."""
    yield ssh_lab
    for host in ssh_lab.hosts:
        host.restore_network()
        host.start()


@pytest.fixture
def remote_data_dir(ssh_lab: SshLab, tmp_path: Path) -> Iterator[Path]:
    """A data directory the hosts cannot see (under the lab's laptop folder)."""
    path = ssh_lab.laptop / tmp_path.name
    path.mkdir()
    yield path


@pytest.fixture
def remote_ctx(remote_data_dir: Path) -> Iterator[Context]:
    context = open_context(load_settings(cli={"data_dir": str(remote_data_dir)}, env={}))
    yield context
    context.close()


def site_spec(lab: SshLab, name: str = "remote", **extra_vars: Any) -> dict[str, Any]:
    """A site of the lab's hosts: each with its own install_root and app port, the app bound to
    the host's address (reachable from here), SSH failing fast. The site's host keys are
    checked against its own file in the data folder (:func:`trust_lab` fills it); the lab's
    known_hosts in the SSH args is overridden by it, as any a site names would be."""
    return {
        "name": name,
        "vars": {
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_common_args": lab.ssh_args(),
            # the laptop's data folder does not exist on the hosts
            "ansible_remote_tmp": "~/.ansible/tmp",
            "ansible_become": True,
            # one SSH round trip per task instead of four (mkdir, put, chmod, run)
            "ansible_pipelining": True,
            **extra_vars,
        },
        "hosts": [
            {
                "name": h.name,
                "address": h.address,
                "user": USER,
                "groups": ["platform"],
                "vars": {
                    "install_root": str(h.root),
                    "app_port": h.app_port,
                    "app_bind": h.address,
                },
            }
            for h in lab.hosts
        ],
    }


def trust_lab(data_dir: Path, site_id: int, lab: SshLab) -> Path:
    """The site trusts the lab's host keys, as ``site trust-keys`` leaves it (the keys come from
    the lab's own files, not from the network): its known_hosts file in the data folder."""
    path = hostkeys.known_hosts_file(data_dir, site_id)
    entries = hostkeys.read(lab.known_hosts)
    hostkeys.write(path, entries)
    return path
