"""A site with an SSH key on a machine without ssh-agent: ansible-runner would hand the key to a
named pipe nobody reads, and its writer would wait for ever (the run, and the appliance's exit,
with it). A run is refused before it starts instead, saying what to install, and a step outside
a run fails with the reason; a step that must not become gets no become password. The machine
really lacks the tools here: PATH names an empty folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.context import Context
from appliance.errors import Unprocessable
from appliance.jobs.ansible.secrets import BECOME_PROMPT, SSH_PROMPT, RunnerSecrets
from appliance.jobs.runs.log import RunLog
from appliance.jobs.runs.manager import RunManager
from appliance.jobs.runs.runner import StepSpec, run_step
from appliance.jobs.sites.service import set_site_credentials
from appliance.store import runs
from tests.support.keys import openssh_private_key
from tests.support.processes import REPO

KEY = openssh_private_key()


def test_the_kwargs_need_an_agent_only_for_a_key(monkeypatch, tmp_path: Path) -> None:
    both = {SSH_PROMPT: "ssh-pw", BECOME_PROMPT: "become-pw"}
    with_key = RunnerSecrets(ssh_key=KEY, passwords=both)
    assert with_key.run_kwargs()["ssh_key"] == KEY  # this machine has the OpenSSH client
    assert with_key.run_kwargs(become=False)["passwords"] == {SSH_PROMPT: "ssh-pw"}
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(Unprocessable, match="ssh-agent and ssh-add not found") as refused:
        with_key.run_kwargs()
    assert "openssh-client" in refused.value.hint
    assert RunnerSecrets(passwords=both).run_kwargs()["passwords"] == both  # no key, no agent


def test_a_run_with_a_key_is_refused_before_it_starts_without_ssh_agent(
    ctx: Context, manager: RunManager, local_site, import_bundle, monkeypatch, tmp_path: Path
) -> None:
    import_bundle("demo-platform@1.0.0")
    set_site_credentials(ctx, "lab", {"ssh_key": KEY}, key_source="file")
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(Unprocessable, match="ssh-agent and ssh-add not found"):
        manager.start_run("lab", "demo-platform", "1.0.0", "install")
    assert runs.list_runs() == []  # nothing started


@pytest.mark.slow
def test_a_step_with_a_key_fails_and_says_why_without_ssh_agent(
    local_site, monkeypatch, tmp_path: Path
) -> None:
    """Steps outside a run (status, backup removal) have no refusal before them: the step
    itself fails with the reason, at once (before the fix it waited for ever)."""
    spec = StepSpec(
        private_dir=tmp_path / "step",
        project=REPO / "bundles" / "demo-platform" / "1.0.0",
        playbook="playbooks/app-status.yml",
        inventory="all:\n  hosts:\n    localhost:\n      ansible_connection: local\n",
        envvars={},
        extravars={},
        secrets=RunnerSecrets(ssh_key=KEY),
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    log = RunLog(tmp_path / "step.log")
    outcome = run_step(
        spec, log, on_event=lambda e: None, should_cancel=lambda: False, on_process=print
    )
    log.close()
    assert outcome.status == "error" and "ssh-agent" in (outcome.failure or ""), outcome
