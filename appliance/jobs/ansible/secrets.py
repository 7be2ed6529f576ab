"""Handing a site's credentials to ansible-runner without writing them anywhere.

- the SSH key: ansible-runner's ``ssh_key`` (written to a fifo in the artifacts folder that
  ``ssh-add`` reads once into a per-step ``ssh-agent``; nothing stays on disk);
- the SSH and become passwords: ``--ask-pass`` / ``--ask-become-pass`` on the command line (the
  flags, not the values) and ansible-runner's ``passwords`` (prompt regex -> answer, typed into
  Ansible's pty by pexpect, never echoed). Ansible passes the SSH password on to ssh through
  SSH_ASKPASS (the ``ansible`` launcher face) and shared memory, the become password through
  the connection's stdin.

Every text the appliance writes while a step runs goes through ``redact`` first.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import Any

from appliance.errors import Unprocessable
from appliance.store.credentials import Redactor, SiteSecrets

SSH_PROMPT = r"^SSH password:\s*?$"
# With --ask-pass too, Ansible asks "BECOME password[defaults to SSH password]:".
BECOME_PROMPT = r"^BECOME password.*:\s*?$"


@dataclass(frozen=True)
class RunnerSecrets:
    ssh_key: str | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()  # added to the ansible / ansible-playbook command line
    redact: Redactor = field(default_factory=lambda: Redactor([]))

    def __repr__(self) -> str:
        return f"RunnerSecrets(ssh_key={self.ssh_key is not None}, flags={self.flags})"

    def cmdline(self, base: str = "") -> str | None:
        """The ``cmdline`` argument for ansible-runner (``base``: what the step already has)."""
        text = " ".join([base.strip(), *self.flags]).strip()
        return text or None

    def run_kwargs(self, become: bool = True) -> dict[str, Any]:
        """Keyword arguments for ``ansible_runner.run``: ``ssh_key`` and ``passwords`` (without
        the become password unless ``become``), and ``suppress_env_files`` (without it
        ansible-runner writes both, and the command line, into ``env/`` of the
        private_data_dir). Unprocessable when a key needs an ssh-agent this machine lacks."""
        kwargs: dict[str, Any] = {"suppress_env_files": True}
        if self.ssh_key:
            require_agent()
            kwargs["ssh_key"] = self.ssh_key
        passwords = {k: v for k, v in self.passwords.items() if become or k != BECOME_PROMPT}
        if passwords:
            kwargs["passwords"] = passwords
        return kwargs


AGENT_TOOLS = ("ssh-agent", "ssh-add")


def require_agent() -> None:
    """ansible-runner hands a key to ``ssh-add`` under a per-step ``ssh-agent`` through a named
    pipe: without them nobody reads the pipe and its writer waits for ever (the step, and the
    appliance's exit, with it). Refused before, saying what to install."""
    missing = [tool for tool in AGENT_TOOLS if shutil.which(tool) is None]
    if missing:
        raise Unprocessable(
            f"{' and '.join(missing)} not found on this machine's PATH: a site's SSH key is "
            "loaded into an ssh-agent for each step",
            "Install the OpenSSH client here (Debian/Ubuntu: apt install openssh-client), or "
            "give the site a password credential instead of a key.",
        )


def runner_secrets(secrets: SiteSecrets, become: bool = True) -> RunnerSecrets:
    """What ansible-runner needs for these credentials (``become``: offer the become password)."""
    passwords: dict[str, str] = {}
    flags: list[str] = []
    if secrets.password:
        passwords[SSH_PROMPT] = secrets.password
        flags.append("--ask-pass")
    if become and secrets.become_password:
        passwords[BECOME_PROMPT] = secrets.become_password
        flags.append("--ask-become-pass")
    return RunnerSecrets(
        ssh_key=secrets.ssh_key,
        passwords=passwords,
        flags=tuple(flags),
        redact=secrets.redactor(),
    )


def redact_row(row: dict[str, Any], redact: Redactor) -> dict[str, Any]:
    """An event row (runner.event_row) with secrets removed from its texts."""
    if redact:
        for key in ("stdout", "task"):
            if isinstance(row.get(key), str):
                row[key] = redact(row[key])
    return row
