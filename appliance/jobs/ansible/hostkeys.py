"""SSH host keys of a site's hosts: the per-site known-hosts file, how every SSH connection of
Ansible is made to use it strictly, and reading a host's keys (``ssh-keyscan``).

The file is ``<data>/sites/<id>/known_hosts`` (mode 0600), written only by the appliance, one
plain line per key (``address`` or ``[address]:port``, type, key; never hashed): the engineer's
``~/.ssh`` is never read or written. Every connection gets, through ``ANSIBLE_SSH_ARGS`` (which
Ansible puts before the site's own ``ansible_ssh_common_args``, and ssh takes the first value
it sees of an option), ``UserKnownHostsFile=<file>``, ``GlobalKnownHostsFile=/dev/null`` and
``StrictHostKeyChecking=yes``; a site or host that sets ``ansible_ssh_args`` (which would replace
the variable) has the same options put in front of its own (:func:`enforce_vars`).

Fingerprints are those ``ssh-keygen -lf`` prints: ``SHA256:`` and the unpadded base64 of the
SHA-256 of the key blob.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import shlex
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.errors import ConfigError
from appliance.jobs.ansible.inventory import is_local
from appliance.paths import Paths

FILE_NAME = "known_hosts"
SCAN_TIMEOUT = 5  # seconds ssh-keyscan waits for a host
SCAN_TYPES = "ed25519,ecdsa,rsa"
# the order OpenSSH prefers host key types in: the one shown first is the one ssh checks
PREFERENCE = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
CONTROL = "-C -o ControlMaster=auto -o ControlPersist={persist}"  # Ansible's default ssh_args


@dataclass(frozen=True)
class HostKey:
    type: str  # as in known_hosts: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa
    blob: str  # base64

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(base64.b64decode(self.blob)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    @property
    def label(self) -> str:
        """The type as ssh-keygen -l shows it: ED25519, ECDSA, RSA."""
        name = self.type.removeprefix("ssh-").split("-")[0]
        return {"ecdsa": "ECDSA", "rsa": "RSA", "ed25519": "ED25519"}.get(name, name.upper())

    def to_json(self) -> dict[str, str]:
        return {"type": self.label, "fingerprint": self.fingerprint}


def known_hosts_file(root: Path, site_id: int) -> Path:
    return Paths(Path(root)).sites / str(site_id) / FILE_NAME


def _option(name: str, value: str) -> str:
    # ssh splits a file option's value on spaces unless quoted, and expands % in it
    return shlex.quote(f'{name}="{value.replace("%", "%%")}"')


def strict_options(known_hosts: Path) -> str:
    return " ".join(
        [
            "-o",
            _option("UserKnownHostsFile", str(known_hosts)),
            "-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes",
            "-o UpdateHostKeys=no -o CheckHostIP=no",
        ]
    )


def environment(known_hosts: Path, persist: str = "60s") -> dict[str, str]:
    """What a run's or check's Ansible needs in its environment for these host keys."""
    return {
        "ANSIBLE_SSH_ARGS": f"{CONTROL.format(persist=persist)} {strict_options(known_hosts)}",
        "ANSIBLE_HOST_KEY_CHECKING": "True",  # ansible-runner turns it off unless told
    }


def enforce_vars(
    hosts: Sequence[Mapping[str, Any]], site_vars: Mapping[str, Any], known_hosts: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Hosts and site vars where an ``ansible_ssh_args`` of the site's own starts with the
    strict options (it would otherwise replace ``ANSIBLE_SSH_ARGS``)."""
    strict = strict_options(known_hosts)

    def fixed(values: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(values)
        if "ansible_ssh_args" in out:
            out["ansible_ssh_args"] = f"{strict} {out['ansible_ssh_args'] or ''}".strip()
        return out

    return [{**h, "vars": fixed(h.get("vars") or {})} for h in hosts], fixed(site_vars)


def target(host: Mapping[str, Any], site_vars: Mapping[str, Any]) -> tuple[str, int] | None:
    """The address and port ssh connects to (as the inventory gives them); None when local."""
    if is_local(host, site_vars):
        return None
    own = host.get("vars") or {}
    address = str(own.get("ansible_host") or host["address"])
    port = own.get("ansible_port") or host.get("port") or 22  # as build_inventory writes it
    return address, int(port)


def host_field(address: str, port: int) -> str:
    """The host as ssh looks it up in known_hosts."""
    return address.lower() if port == 22 else f"[{address.lower()}]:{port}"


def _parse_line(line: str) -> tuple[str, HostKey] | None:
    parts = line.split()
    if len(parts) < 3 or line.startswith(("#", "@")):
        return None
    try:
        base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        return None
    return parts[0], HostKey(parts[1], parts[2])


def read(known_hosts: Path) -> dict[str, list[HostKey]]:
    """host field -> trusted keys."""
    try:
        text = known_hosts.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    found: dict[str, list[HostKey]] = {}
    for line in text.splitlines():
        parsed = _parse_line(line.strip())
        if parsed:
            found.setdefault(parsed[0], []).append(parsed[1])
    return found


def write(known_hosts: Path, entries: Mapping[str, Iterable[HostKey]]) -> None:
    """Replace the file with these entries (host field -> keys): 0600, written aside then
    renamed, its folder 0700."""
    known_hosts.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = known_hosts.with_name(f".{known_hosts.name}.tmp")
    lines = [f"{field} {k.type} {k.blob}\n" for field, keys in entries.items() for k in keys]
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(lines)
    os.chmod(tmp, 0o600)
    os.replace(tmp, known_hosts)


def preferred(keys: Sequence[HostKey]) -> HostKey | None:
    """The key ssh would check first (ED25519, then ECDSA, then RSA)."""
    order = {name: i for i, name in enumerate(PREFERENCE)}
    return min(keys, key=lambda k: order.get(k.type, len(order)), default=None)


def _keyscan(address: str, port: int) -> list[HostKey] | str:
    try:
        done = subprocess.run(
            ["ssh-keyscan", "-T", str(SCAN_TIMEOUT), "-t", SCAN_TYPES, "-p", str(port), address],
            capture_output=True,
            text=True,
            timeout=SCAN_TIMEOUT * 4,
            check=False,
        )
    except FileNotFoundError as e:
        raise ConfigError(
            "ssh-keyscan is not installed",
            "Install the OpenSSH client (it carries ssh, which runs need too).",
        ) from e
    except subprocess.TimeoutExpired:
        return f"no answer from {address}:{port} within {SCAN_TIMEOUT * 4} s"
    keys = [p[1] for p in map(_parse_line, done.stdout.splitlines()) if p]
    if keys:
        return keys
    errors = [x for x in done.stderr.splitlines() if x and not x.startswith("#")]
    return " ".join(errors)[:300] or f"no SSH host key from {address}:{port}"


def scan(targets: Mapping[str, tuple[str, int]]) -> dict[str, list[HostKey] | str]:
    """host name -> the keys its SSH server offers, or why none were read (all in parallel)."""
    if not targets:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
        futures = {name: pool.submit(_keyscan, *t) for name, t in targets.items()}
        return {name: f.result() for name, f in futures.items()}


def compare(offered: Sequence[HostKey], trusted: Sequence[HostKey]) -> str:
    """trusted | unknown (nothing trusted yet) | changed (a trusted key differs, or none of the
    trusted types is offered any more)."""
    if not trusted:
        return "unknown"
    by_type = {k.type: k.blob for k in offered}
    common = {k.type for k in trusted} & by_type.keys()
    for kind in common:
        if by_type[kind] not in {k.blob for k in trusted if k.type == kind}:
            return "changed"
    return "trusted" if common else "changed"
