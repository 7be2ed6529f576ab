"""Fixtures for remote-site tests: three real SSH hosts made on this machine (see
tests/support/sshhosts.py; needs root), and site descriptions pointing at them.

Each test that changes a host (stops sshd, cuts its network) restores it; the lab is shared by
the whole session and torn down at its end (every process in the hosts' namespaces is killed):
``ssh_lab`` lives in tests/conftest.py, one definition for every folder (one lab per process).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.context import Context, open_context
from appliance.jobs.ansible import hostkeys
from appliance.settings import load_settings
from tests.support.local import kill_everything_under
from tests.support.sshhosts import USER, SshLab

logger = logging.getLogger(__name__)


@pytest.fixture
def lab(ssh_lab: SshLab) -> Iterator[SshLab]:
    """The lab with every host up before and after the test (``start`` waits for each sshd's
    banner, and starts one found dead), and nothing a test started there (the demo app) still
    running afterwards: the next test finds its ports free."""
    for host in ssh_lab.hosts:
        exit_code = host.proc.poll() if host.proc is not None else None
        if host.start():  # said, not hidden: something outside the lab's tests ended it
            logger.warning("sshd of %s was found dead (%s); started again", host.name, exit_code)
    yield ssh_lab
    for host in ssh_lab.hosts:
        kill_everything_under(host.root)
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


def clean_roots(lab: SshLab) -> None:
    """An empty install root on every host (what an earlier test installed is gone, and
    stopped)."""
    for host in lab.hosts:
        kill_everything_under(host.root)
        shutil.rmtree(host.root, ignore_errors=True)
        host.root.mkdir()


def lab_site(ctx: Context, lab: SshLab, spec: dict[str, Any] | str) -> dict[str, Any]:
    """A site over the lab's hosts, ready to run: created (``spec``, or a name for
    :func:`site_spec`), its host keys trusted and the lab's credentials set."""
    from appliance.jobs.sites import service as remote_sites
    from appliance.store import sites

    if isinstance(spec, str):
        spec = site_spec(lab, spec)
    site = sites.create_site(ctx.store, sites.parse_site(spec))
    trust_lab(ctx.paths.root, site["id"], lab)
    remote_sites.set_site_credentials(
        ctx,
        site["id"],
        {"ssh_key": lab.key_text, "password": lab.password, "become_password": lab.password},
        key_source="file",
    )
    return site
