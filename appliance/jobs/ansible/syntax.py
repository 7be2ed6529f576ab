"""Ansible's own syntax check of a bundle's playbooks, with the paths a run gives them.

``ansible-playbook --syntax-check`` (this appliance's playbook face, in a child process: Ansible
reads its settings once per process) loads every playbook as a run would, so a missing role, an
unresolvable module or action, a bad ``import_*`` and plain YAML errors are found before a
bundle is built, naming the playbook and what it could not find. Dynamic ``include_*`` content
is only loaded when it runs and cannot be checked here.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from appliance.ansible_env import ansible_environment, content_environment
from appliance.compat import launcher_dir, self_command
from appliance.errors import BundleError

TIMEOUT = 600  # seconds for one ansible-playbook --syntax-check
_ERROR = re.compile(r"^(?:\[ERROR\]:|ERROR!)\s*(.*)$")
_ORIGIN = re.compile(r"^Origin:\s*(.*)$")
HINT = (
    "Put the roles the playbook uses in the bundle's roles/ and its collections in "
    "collections/ (ansible-galaxy collection install -p collections/ TARBALL), fix the "
    "playbook, then build again (docs/bundle-format.md)."
)


def _env(project: Path, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ansible_environment(data_dir))
    env.update(content_environment(project, Path(env["ANSIBLE_HOME"]) / "empty.cfg"))
    env.update(
        {
            "PATH": f"{launcher_dir(data_dir / 'bin')}{os.pathsep}{env.get('PATH', os.defpath)}",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
            "APPLIANCE_DATA_DIR": str(data_dir),
        }
    )
    return env


def _run(project: Path, playbooks: Sequence[str], env: dict[str, str]) -> tuple[int, str]:
    command = [*self_command(), "playbook", "--syntax-check", "-i", "localhost,", *playbooks]
    try:
        done = subprocess.run(
            command,
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return -1, f"the syntax check took longer than {TIMEOUT} seconds"
    return done.returncode, done.stdout + "\n" + done.stderr


def first_error(output: str, project: Path) -> str:
    """Ansible's error line (and where it points, relative to the project), on one line."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        match = _ERROR.match(line.strip())
        if not match:
            continue
        text = match.group(1).strip()
        for following in lines[i + 1 : i + 4]:
            origin = _ORIGIN.match(following.strip())
            if origin:
                where = origin.group(1).replace(f"{project}{os.sep}", "")
                text = f"{text} (at {where})"
                break
        return " ".join(text.split())[:1000]
    tail = [line.strip() for line in lines if line.strip()]
    return " ".join(tail[-3:])[:1000] or "ansible-playbook --syntax-check failed"


def check_playbooks(project: Path, playbooks: Sequence[str], data_dir: Path) -> None:
    """Refuse (BundleError) the first playbook Ansible cannot load, naming it and the cause."""
    project = Path(project).resolve()
    if not playbooks:
        return
    env = _env(project, Path(data_dir))
    rc, _ = _run(project, playbooks, env)  # one process when all is well (the usual case)
    if rc == 0:
        return
    for playbook in playbooks:
        rc, output = _run(project, [playbook], env)
        if rc != 0:
            raise BundleError(
                f"{playbook} does not pass Ansible's syntax check: {first_error(output, project)}",
                HINT,
            )
    raise BundleError(  # all pass alone but not together: cannot happen, but never build then
        "the playbooks do not pass Ansible's syntax check together", HINT
    )
