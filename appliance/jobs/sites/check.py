"""``appliance site check``: per host, can we log in, is there a Python, does sudo work?

Three ad-hoc Ansible commands through ansible-runner and this appliance's own ``ansible``
launcher face, with the site's inventory and credentials exactly as a run uses them:

1. ``raw: command -v python3 || command -v python`` on every host: login works (else
   unreachable, with Ansible's message) and which Python is there (raw needs none);
2. ``ping`` on the hosts with a Python: Ansible modules run there;
3. sudo: with a become password, ``command: id -u`` with ``--become`` (uid 0 means sudo works
   with that password); without one, ``raw: sudo -n true`` (works without a password, or not).

The private_data_dir lives under ``<data>/tmp`` and is removed afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from appliance.ansible_env import local_remote_temp, target_environment
from appliance.compat import launcher_dir
from appliance.jobs.ansible.inventory import inventory_yaml
from appliance.jobs.ansible.secrets import RunnerSecrets

logger = logging.getLogger(__name__)

STEP_TIMEOUT = 120  # seconds for one ad-hoc command over all hosts
PYTHON_PROBE = "command -v python3 || command -v python"


def check_env(data_dir: Path) -> dict[str, str]:
    """The environment Ansible gets (as a run's): launchers first on PATH, Ansible's folders,
    host keys checked."""
    env = target_environment(data_dir)
    env.update(
        {
            "PATH": f"{launcher_dir(data_dir / 'bin')}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_FORCE_COLOR": "0",
            "APPLIANCE_DATA_DIR": str(data_dir),
        }
    )
    return env


def _message(res: Mapping[str, Any]) -> str:
    text = res.get("msg") or res.get("stderr") or res.get("module_stderr") or ""
    if not text and res.get("rc") not in (None, 0):
        text = f"exit code {res.get('rc')}"
    return " ".join(str(text).split())[:500]


def _adhoc(
    private: Path,
    env: Mapping[str, str],
    secrets: RunnerSecrets,
    module: str,
    args: str,
    limit: Sequence[str] | None,
    become: bool = False,
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Run one ad-hoc command; host -> (status ok|failed|unreachable, result)."""
    import ansible_runner  # heavy; only a check needs it

    found: dict[str, tuple[str, dict[str, Any]]] = {}

    def on_event(event: dict[str, Any]) -> bool:
        name = event.get("event", "")
        data = event.get("event_data") or {}
        status = {
            "runner_on_ok": "ok",
            "runner_on_failed": "failed",
            "runner_on_unreachable": "unreachable",
        }.get(name)
        if status and data.get("host"):
            res = data.get("res") if isinstance(data.get("res"), dict) else {}
            found[data["host"]] = (status, res)
        return False

    flags = list(secrets.flags if become else [f for f in secrets.flags if "become" not in f])
    # extra vars outrank the site's own ansible_become, whichever way it is set
    flags += ["--become", "-e", "ansible_become=true"] if become else ["-e", "ansible_become=false"]
    passwords = (
        secrets.passwords
        if become
        else {k: v for k, v in secrets.passwords.items() if "BECOME" not in k}
    )
    kwargs: dict[str, Any] = {"suppress_env_files": True}  # no secret into env/ files
    if secrets.ssh_key:
        kwargs["ssh_key"] = secrets.ssh_key
    if passwords:
        kwargs["passwords"] = dict(passwords)
    ansible_runner.run(
        private_data_dir=str(private),
        host_pattern="all",
        module=module,
        module_args=args,
        limit=",".join(limit) if limit is not None else None,
        cmdline=" ".join(flags) or None,
        envvars=dict(env),
        event_handler=on_event,
        quiet=True,
        timeout=STEP_TIMEOUT,
        **kwargs,
    )
    return found


def check_hosts(
    data_dir: Path,
    hosts: Sequence[Mapping[str, Any]],
    site_vars: Mapping[str, Any],
    secrets: RunnerSecrets,
) -> list[dict[str, Any]]:
    """One result per host: reachable, python, modules, sudo, error (secrets redacted)."""
    data_dir = Path(data_dir)
    scratch = data_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix="check-", dir=scratch))
    control_dir = None
    results = {
        h["name"]: {
            "host": h["name"],
            "address": h["address"],
            "port": h.get("port") or 22,
            "user": h.get("user"),
            "reachable": False,
            "python": None,
            "modules": False,
            "sudo": None,
            "error": None,
        }
        for h in hosts
    }
    try:
        (private / "inventory").mkdir(mode=0o700)
        (private / "inventory" / "hosts.yml").write_text(
            inventory_yaml(hosts, site_vars, {"ansible_remote_tmp": local_remote_temp(data_dir)})
        )
        (private / "env").mkdir(mode=0o700)
        env = check_env(data_dir)
        # A connection of this check only: a master connection left by a run (or by a check a
        # minute ago, with other credentials) would otherwise answer for the host.
        # (in the system temp folder: a socket path has at most 107 bytes)
        control_dir = tempfile.mkdtemp(prefix="appliance-cp-")
        env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = control_dir
        env["ANSIBLE_SSH_ARGS"] = "-C -o ControlMaster=auto -o ControlPersist=5s"
        (private / "env" / "envvars").write_text(yaml.safe_dump(env))
        found = _adhoc(private, env, secrets, "raw", PYTHON_PROBE, None)
        with_python = []
        for name, result in results.items():
            status, res = found.get(name, ("unreachable", {"msg": "no answer"}))
            if status == "unreachable":
                result["error"] = _message(res) or "unreachable"
                continue
            result["reachable"] = True
            path = (res.get("stdout") or "").strip().splitlines()
            if status == "ok" and path:
                result["python"] = path[0]
                with_python.append(name)
            else:
                result["error"] = "no python3 on the host (Ansible modules need one)"
        if with_python:
            for name, (status, res) in _adhoc(
                private, env, secrets, "ping", "", with_python
            ).items():
                results[name]["modules"] = status == "ok"
                if status != "ok":
                    results[name]["error"] = _message(res) or status
        reachable = [n for n, r in results.items() if r["reachable"]]
        if reachable:
            _check_sudo(private, env, secrets, results, reachable, with_python)
    finally:
        shutil.rmtree(private, ignore_errors=True)
        if control_dir:
            shutil.rmtree(control_dir, ignore_errors=True)
    for result in results.values():
        if result["error"]:
            result["error"] = secrets.redact(result["error"])
    logger.info(
        "site check: %s",
        ", ".join(f"{n}={'ok' if r['reachable'] else 'unreachable'}" for n, r in results.items()),
    )
    return list(results.values())


def _check_sudo(
    private: Path,
    env: Mapping[str, str],
    secrets: RunnerSecrets,
    results: dict[str, dict[str, Any]],
    reachable: list[str],
    with_python: list[str],
) -> None:
    has_become_password = any("BECOME" in k for k in secrets.passwords)
    if has_become_password and with_python:
        for name, (status, res) in _adhoc(
            private, env, secrets, "command", "id -u", with_python, become=True
        ).items():
            ok = status == "ok" and (res.get("stdout") or "").strip() == "0"
            results[name]["sudo"] = "ok" if ok else "failed"
            if not ok:
                results[name]["error"] = "sudo with the become password failed: " + (
                    _message(res) or status
                )
        return
    for name, (status, res) in _adhoc(
        private, env, secrets, "raw", "sudo -n true", reachable
    ).items():
        if status == "ok":
            results[name]["sudo"] = "ok"
        else:
            text = " ".join(str(res.get(k) or "") for k in ("stderr", "stdout", "msg"))
            text = " ".join(text.split())[:500]
            results[name]["sudo"] = "needs password" if "password is required" in text else "failed"
            if results[name]["sudo"] == "failed":
                results[name]["error"] = f"sudo: {text}"


def summary_ok(results: Sequence[Mapping[str, Any]]) -> bool:
    return all(r["reachable"] and r["python"] and r["modules"] for r in results)
