"""``appliance site check``: per host, can we log in, is there a Python, does sudo work?

Three ad-hoc Ansible commands through ansible-runner and this appliance's own ``ansible``
launcher face, with the site's inventory and credentials exactly as a run uses them:

1. ``raw`` (needs no Python) on every host: login works (else unreachable, with Ansible's
   message), which Python a run would use (the host's ``ansible_python_interpreter``, else
   ``python3`` or ``python`` on its PATH) and its version. Each carried ansible-core manages
   its own range (appliance/jobs/ansible/cores.py: 2.19 Python 3.8 or newer; 2.16, where
   carried, also 2.7 and 3.6): a host none manages is reported with the way out, and
   :func:`refuse_unmanageable` refuses a run on such a site before it starts (else it returns
   the core the run uses);
2. ``ping`` on the hosts with a Python a carried core manages, through that core: Ansible
   modules run there;
3. sudo: with a become password, ``command: id -u`` with ``--become`` (uid 0 means sudo works
   with that password); without one, ``raw: sudo -n true`` (works without a password, or not).

The private_data_dir lives under ``<data>/tmp`` and is removed afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from appliance.ansible_env import local_remote_temp, target_environment
from appliance.bundle.manifest import Manifest
from appliance.compat import launcher_dir
from appliance.context import Context
from appliance.errors import ApplianceError
from appliance.jobs.ansible import cores, hostkeys
from appliance.jobs.ansible.inventory import inventory_yaml, is_local
from appliance.jobs.ansible.secrets import RunnerSecrets, require_agent, runner_secrets
from appliance.jobs.sites import trust
from appliance.store import credentials, sites

logger = logging.getLogger(__name__)

STEP_TIMEOUT = 120  # seconds for one ad-hoc command over all hosts
# The interpreter a run would use, then its version (a syntax Python 2 reads too). Ansible
# templates module arguments with the host's variables; "auto*" means interpreter discovery.
PYTHON_PROBE = (
    "p='{{ ansible_python_interpreter | default('') }}'; "
    'case "$p" in ""|auto*) p=$(command -v python3 || command -v python) ;; esac; '
    '[ -n "$p" ] || exit 0; echo "$p"; '
    '"$p" -c \'import sys; print("%d.%d.%d" % tuple(sys.version_info[:3]))\''
)


def check_env(data_dir: Path, known_hosts: Path) -> dict[str, str]:
    """The environment Ansible gets (as a run's): launchers first on PATH, Ansible's folders,
    host keys checked against the site's file (a master connection lives 5 s)."""
    env = target_environment(data_dir)
    env.update(hostkeys.environment(known_hosts, persist="5s"))
    env.update(
        {
            "PATH": f"{launcher_dir(data_dir / 'bin')}{os.pathsep}{os.environ.get('PATH', '')}",
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
    kwargs = secrets.run_kwargs(become)  # no secret into env/ files
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
    known_hosts: Path,
    site: str = "SITE",
) -> list[dict[str, Any]]:
    """One result per host: host_key (``trust.survey``), reachable, python, modules, sudo,
    error (secrets redacted); ``site`` names the site in the way to accept a key."""
    keys = trust.survey(known_hosts, hosts, site_vars)
    results = {
        h["name"]: {
            "host": h["name"],
            "address": h["address"],
            "port": h.get("port") or 22,
            "user": h.get("user"),
            "reachable": False,
            "python": None,
            "python_version": None,
            "manageable": None,
            "ansible_core": None,  # the carried ansible-core that would manage it
            "ansible_core_note": None,  # that core outside Ansible's published controller range
            "modules": False,
            "sudo": None,
            "error": None,
            "host_key": trust.public(keys[h["name"]]),
        }
        for h in hosts
    }
    usable = cores.candidates(site_vars)  # those the site may use (it may pin one)
    with _scratch(Path(data_dir), hosts, site_vars, known_hosts) as (private, env):
        found = _adhoc(private, env, secrets, "raw", PYTHON_PROBE, None)
        groups: dict[cores.Core, list[str]] = {}  # the core that manages them -> hosts
        for name, result in results.items():
            status, res = found.get(name, ("unreachable", {"msg": "no answer"}))
            if status == "unreachable":
                result["error"] = _message(res) or "unreachable"
                continue
            result["reachable"] = True
            path, version = _python_found(status, res)
            result["python"], result["python_version"] = path, version
            if not path:
                result["manageable"] = False
                result["error"] = "no python3 on the host (Ansible modules need one)"
                continue
            core = next((c for c in usable if c.manages(version)), None)
            result["manageable"] = core is not None
            result["ansible_core"] = core.version if core else None
            result["ansible_core_note"] = core.outside_matrix() if core else None
            if core is not None:
                groups.setdefault(core, []).append(name)
            else:
                result["error"] = f"{cores.too_old(path, version, usable)}. {cores.way_out(usable)}"
        for core, names in groups.items():  # modules run through the core that manages them
            core_env = {**env, **cores.environment(core, env)}
            for name, (status, res) in _adhoc(
                private, core_env, secrets, "ping", "", names
            ).items():
                results[name]["modules"] = status == "ok"
                if status != "ok":
                    results[name]["error"] = _message(res) or status
        reachable = [n for n, r in results.items() if r["reachable"]]
        if reachable:
            _check_sudo(private, env, secrets, results, reachable, groups)
    for name, result in results.items():
        if refused := trust.problem(name, keys[name], site):
            result["error"] = refused  # ssh's "Host key verification failed", with the way out
        if result["error"]:
            result["error"] = secrets.redact(result["error"])
    logger.info(
        "site check: %s",
        ", ".join(f"{n}={'ok' if r['reachable'] else 'unreachable'}" for n, r in results.items()),
    )
    return list(results.values())


@contextmanager
def _scratch(
    data_dir: Path,
    hosts: Sequence[Mapping[str, Any]],
    site_vars: Mapping[str, Any],
    known_hosts: Path,
) -> Iterator[tuple[Path, dict[str, str]]]:
    """A private_data_dir under ``<data>/tmp`` with the site's inventory, and Ansible's
    environment; both removed afterwards."""
    hosts, site_vars = hostkeys.enforce_vars(hosts, site_vars, known_hosts)
    scratch = data_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix="check-", dir=scratch))
    control_dir = None
    try:
        (private / "inventory").mkdir(mode=0o700)
        (private / "inventory" / "hosts.yml").write_text(
            inventory_yaml(hosts, site_vars, {"ansible_remote_tmp": local_remote_temp(data_dir)})
        )
        (private / "env").mkdir(mode=0o700)
        env = check_env(data_dir, known_hosts)
        # A connection of this check only: a master connection left by a run (or by a check a
        # minute ago, with other credentials) would otherwise answer for the host.
        # (in the system temp folder: a socket path has at most 107 bytes)
        control_dir = tempfile.mkdtemp(prefix="appliance-cp-")
        env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = control_dir
        (private / "env" / "envvars").write_text(yaml.safe_dump(env))
        yield private, env
    finally:
        shutil.rmtree(private, ignore_errors=True)
        if control_dir:
            shutil.rmtree(control_dir, ignore_errors=True)


def _python_found(status: str, res: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(interpreter path, version) from the probe's output; (None, None) when there is none."""
    lines = (res.get("stdout") or "").strip().splitlines() if status == "ok" else []
    path = lines[0].strip() if lines else None
    version = lines[1].strip() if len(lines) > 1 else None
    return path, version


def refuse_unmanageable(
    data_dir: Path,
    hosts: Sequence[Mapping[str, Any]],
    site_vars: Mapping[str, Any],
    load_secrets: Callable[[], RunnerSecrets],
    known_hosts: Path,
    requires: str | None = None,
) -> tuple[cores.Core, dict[str, str | None]]:
    """Before a run starts: the site's remote hosts' Python, probed as the check does, and the
    carried ansible-core the run uses (:func:`cores.choose`, with the bundle's
    ``requires_ansible``); raises Unprocessable (nothing started) when no carried core manages
    them. A host that cannot be reached or read, or credentials that cannot be loaded, are left
    to the run, which reports them as it always did. Returns the core and host -> Python version
    found (None: not read)."""
    remote = [h for h in hosts if not is_local(h, site_vars)]
    pythons: dict[str, tuple[str | None, str | None]] = {}
    try:
        secrets: RunnerSecrets | None = load_secrets()
    except ApplianceError:
        secrets = None
    if secrets is not None and secrets.ssh_key:
        require_agent()  # every step of a site with a key loads it into an ssh-agent
    if secrets is not None and remote:  # hosts on this machine run the appliance's own Python
        with _scratch(Path(data_dir), remote, site_vars, known_hosts) as (private, env):
            found = _adhoc(private, env, secrets, "raw", PYTHON_PROBE, None)
        for host in remote:
            pythons[host["name"]] = _python_found(*found.get(host["name"], ("unreachable", {})))
    core = cores.choose(pythons, site_vars, requires)
    cores.refuse_password(core, secrets is not None and "--ask-pass" in secrets.flags)
    return core, {name: version for name, (_, version) in pythons.items()}


def refuse_unmanageable_site(
    ctx: Context, site_id: int, site_vars: Mapping[str, Any], manifest: Manifest | None = None
) -> cores.Core:
    """:func:`refuse_unmanageable` for a stored site and the bundle a run applies (the run
    manager calls it before a run, so the hosts' Python and the bundle's ``requires_ansible``
    choose the ansible-core, or refuse), with the credentials as the run loads them (a key
    unlocked from the window included); first refused while a host's key is unknown or changed.
    Returns the core the run uses."""
    root = ctx.paths.root
    unlocked = ctx.services.get("credential_key")
    hosts = sites.site_hosts(site_id)
    known_hosts = hostkeys.known_hosts_file(root, site_id)
    trust.refuse_untrusted(known_hosts, hosts, site_vars, sites.find_site(site_id).name)
    return refuse_unmanageable(
        root,
        hosts,
        site_vars,
        lambda: runner_secrets(credentials.load_credentials(root, site_id, key=unlocked)),
        known_hosts,
        manifest.requires_ansible if manifest is not None else None,
    )[0]


def _check_sudo(
    private: Path,
    env: Mapping[str, str],
    secrets: RunnerSecrets,
    results: dict[str, dict[str, Any]],
    reachable: list[str],
    groups: Mapping[cores.Core, list[str]],
) -> None:
    has_become_password = any("BECOME" in k for k in secrets.passwords)
    if has_become_password and groups:
        for core, names in groups.items():
            core_env = {**env, **cores.environment(core, env)}
            for name, (status, res) in _adhoc(
                private, core_env, secrets, "command", "id -u", names, become=True
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
    return all(
        r["reachable"] and r["python"] and r.get("manageable") is not False and r["modules"]
        for r in results
    )
