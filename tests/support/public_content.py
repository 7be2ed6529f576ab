"""Public Ansible content nobody here wrote, fetched at test time and cached outside the repo.

Collections come from the ``ansible`` package on PyPI (12.x, built on ansible-core 2.19, the
version the appliance pins): ``pip download --no-deps`` of its wheel, then one collection
unpacked from it. Never ``pip install ansible``: it would make every collection resolvable
through ``sys.path`` and replace the pinned ansible-core.

The cache (``$APPLIANCE_TEST_CACHE`` or ``~/.cache/appliance-tests``) keeps the wheel and the
unpacked collections between test sessions; without it and without network the tests skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

ANSIBLE_REQUIREMENT = "ansible>=12,<13"
WHEEL_GLOB = "ansible-12.*-py3-none-any.whl"


def cache_dir() -> Path:
    explicit = os.environ.get("APPLIANCE_TEST_CACHE")
    folder = Path(explicit) if explicit else Path.home() / ".cache" / "appliance-tests"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ansible_wheel() -> Path:
    """The cached ``ansible`` 12.x wheel, downloaded (without dependencies) the first time."""
    cache = cache_dir()
    found = sorted(cache.glob(WHEEL_GLOB))
    if found:
        return found[-1]
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary",
                ":all:",
                "--disable-pip-version-check",
                "-d",
                tmp,
                ANSIBLE_REQUIREMENT,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        wheels = list(Path(tmp).glob(WHEEL_GLOB))
        if done.returncode != 0 or not wheels:
            pytest.skip(f"cannot download {ANSIBLE_REQUIREMENT} from PyPI: {done.stderr[-300:]}")
        target = cache / wheels[0].name
        os.replace(wheels[0], target)
    return target


def collection(namespace: str, name: str) -> Path:
    """``<cache>/collections/<wheel>/ansible_collections/<namespace>/<name>``, unpacked once."""
    wheel = ansible_wheel()
    root = cache_dir() / "collections" / wheel.stem
    target = root / "ansible_collections" / namespace / name
    if target.is_dir():
        return target
    prefix = f"ansible_collections/{namespace}/{name}/"
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".unpack-") as tmp:
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m.startswith(prefix) and not m.endswith("/")]
            if not members:
                raise AssertionError(f"{wheel.name} holds no collection {namespace}.{name}")
            for member in members:
                zf.extract(member, tmp)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(Path(tmp, prefix), target)
        except OSError:  # another session unpacked it meanwhile
            if not target.is_dir():
                raise
    return target


def vendor_collection(project: Path, namespace: str, name: str) -> Path:
    """Copy a cached collection into a bundle project's ``collections/`` as ansible-galaxy's
    ``collection install -p collections/`` lays it out."""
    target = project / "collections" / "ansible_collections" / namespace / name
    shutil.copytree(collection(namespace, name), target)
    return target
