"""Host keys of a site's hosts as the engineer sees them: what each host offers now against
what the site trusts (the host check shows it), accepting them (trust on first use, per site
or per host; a changed key only with ``replace``), and refusing a run while a key is unknown
or changed. The file and ssh's side are in ``jobs/ansible/hostkeys.py``."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from appliance.context import Context
from appliance.errors import BadRequest, Conflict, Unprocessable
from appliance.jobs.ansible import hostkeys
from appliance.store import sites

logger = logging.getLogger(__name__)

COMPARE_HINT = (
    "Compare the fingerprint with the server's own (on its console: ssh-keygen -lf "
    "/etc/ssh/ssh_host_ed25519_key.pub) before you accept it."
)


def _pick(offered: Sequence[hostkeys.HostKey], trusted: Sequence[hostkeys.HostKey]):
    """(key shown as offered, key shown as trusted): for a changed key, the type that differs."""
    blobs = {k.type: k.blob for k in offered}
    for key in trusted:
        if key.type in blobs and blobs[key.type] != key.blob:
            return next(k for k in offered if k.type == key.type), key
    return hostkeys.preferred(offered), hostkeys.preferred(trusted)


def survey(
    known_hosts: Path, hosts: Sequence[Mapping[str, Any]], site_vars: Mapping[str, Any]
) -> dict[str, dict[str, Any] | None]:
    """host name -> {target, status (trusted|unknown|changed|unreachable), type, fingerprint,
    trusted: {type, fingerprint} | None, error}; None for a host on this machine."""
    targets = {h["name"]: t for h in hosts if (t := hostkeys.target(h, site_vars))}
    offered = hostkeys.scan(targets)
    trusted = hostkeys.read(known_hosts)
    found: dict[str, dict[str, Any] | None] = {}
    for host in hosts:
        name = host["name"]
        if name not in targets:
            found[name] = None
            continue
        field = hostkeys.host_field(*targets[name])
        mine = trusted.get(field, [])
        keys = offered[name]
        info: dict[str, Any] = {"target": field, "error": None, "keys": []}
        if isinstance(keys, str):
            shown, had = None, hostkeys.preferred(mine)
            info.update(status="unreachable", error=keys)
        else:
            shown, had = _pick(keys, mine)
            info.update(status=hostkeys.compare(keys, mine), keys=keys)
        info["type"] = shown.label if shown else None
        info["fingerprint"] = shown.fingerprint if shown else None
        info["trusted"] = had.to_json() if had else None
        found[name] = info
    return found


def public(info: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A survey entry as the API and the CLI's --json show it (keys as type and fingerprint)."""
    if info is None:
        return None
    return {**info, "keys": [k.to_json() for k in info["keys"]]}


def problem(host: str, info: Mapping[str, Any] | None, site: str) -> str | None:
    """Why ssh will refuse this host, with the way to accept its key; None when it will not."""
    if info is None or info["status"] in ("trusted", "unreachable"):
        return None
    offered = f"{info['type']} {info['fingerprint']}"
    if info["status"] == "unknown":
        return (
            f"host key not trusted yet: {offered}; accept it with Accept in the host check or "
            f"appliance site trust-keys {site} --host {host}"
        )
    was = info["trusted"] or {}
    return (
        f"HOST KEY CHANGED: trusted {was.get('type')} {was.get('fingerprint')}, the host now "
        f"offers {offered}. A reinstalled server explains it; if nobody can say why, do not "
        f"connect. To accept the new key: appliance site trust-keys {site} --host {host} "
        "--replace (or Replace key in the host check)"
    )


def refuse_untrusted(
    known_hosts: Path, hosts: Sequence[Mapping[str, Any]], site_vars: Mapping[str, Any], site: str
) -> None:
    """Before a run: Unprocessable (nothing started) while a host's key is unknown or changed.
    A host whose key cannot be read is left to the run (it reports it unreachable)."""
    found = survey(known_hosts, hosts, site_vars)
    problems = [f"{n}: {p}" for n, info in found.items() if (p := problem(n, info, site))]
    if problems:
        raise Unprocessable("; ".join(problems), COMPARE_HINT)


def _selected(hosts: list[dict[str, Any]], names: Sequence[str], site: str) -> list[dict]:
    if not names:
        return hosts
    known = {h["name"] for h in hosts}
    missing = [n for n in names if n not in known]
    if missing:
        raise BadRequest(
            f"site {site} has no host {', '.join(missing)}",
            f"Its hosts: {', '.join(sorted(known)) or 'none'}.",
        )
    return [h for h in hosts if h["name"] in names]


def preview(ctx: Context, site_ref: int | str, names: Sequence[str] = ()) -> dict[str, Any]:
    """What :func:`trust_keys` would accept: each host's key now, against the site's file."""
    site = sites.find_site(site_ref)
    hosts = _selected(sites.site_hosts(site.id), names, site.name)
    known_hosts = hostkeys.known_hosts_file(ctx.paths.root, site.id)
    found = survey(known_hosts, hosts, site.vars)
    rows = [{"host": n, **public(i)} for n, i in found.items() if i]  # type: ignore[dict-item]
    return {"site": site.name, "site_id": site.id, "hosts": rows}


def trust_keys(
    ctx: Context,
    site_ref: int | str,
    names: Sequence[str] = (),
    replace: bool = False,
    expect: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Accept the keys the site's hosts (or ``names``) offer now. Refused as a whole (nothing
    written) when a key cannot be read, when a trusted key changed and ``replace`` is not set,
    or when ``expect`` (host -> fingerprint the engineer saw) does not match what is offered."""
    site = sites.find_site(site_ref)
    hosts = _selected(sites.site_hosts(site.id), names, site.name)
    known_hosts = hostkeys.known_hosts_file(ctx.paths.root, site.id)
    found = {n: info for n, info in survey(known_hosts, hosts, site.vars).items() if info}
    if not found:
        raise BadRequest(
            f"no host of site {site.name} is reached over SSH", "Hosts on this machine need no key."
        )
    unread = [f"{n}: {i['error']}" for n, i in found.items() if i["status"] == "unreachable"]
    if unread:
        raise Unprocessable(
            "could not read the host key of " + "; ".join(unread),
            "Check the host is up and its SSH port answers, or name the other hosts with --host.",
        )
    changed = [n for n, i in found.items() if i["status"] == "changed"]
    if changed and not replace:
        raise Conflict(
            "; ".join(f"{n}: {problem(n, found[n], site.name)}" for n in changed),
            "Nothing was trusted. Replace a changed key only when you know why it changed.",
        )
    for name, fingerprint in (expect or {}).items():
        if name in found and found[name]["fingerprint"] != fingerprint:
            raise Conflict(
                f"{name} now offers {found[name]['fingerprint']}, not the {fingerprint} shown",
                "Check the hosts again and compare the new fingerprint.",
            )
    with _locked(known_hosts):
        entries = hostkeys.read(known_hosts)
        for name, info in found.items():
            if info["status"] != "trusted":
                entries[info["target"]] = info["keys"]
                how = "replaced" if info["status"] == "changed" else "trusted"
                log = logger.warning if info["status"] == "changed" else logger.info
                log("site %s: %s the host key of %s (%s): %s %s", site.name, how, name,
                    info["target"], info["type"], info["fingerprint"])  # fmt: skip
        hostkeys.write(known_hosts, entries)
    return {
        "site": site.name,
        "site_id": site.id,
        "hosts": [{"host": n, **public(i)} for n, i in found.items()],  # type: ignore[dict-item]
    }


def trusted_keys(ctx: Context, site_ref: int | str) -> dict[str, Any]:
    """What the site trusts now, per host (read from the file; nothing is scanned)."""
    site = sites.find_site(site_ref)
    entries = hostkeys.read(hostkeys.known_hosts_file(ctx.paths.root, site.id))
    rows = []
    for host in sites.site_hosts(site.id):
        target = hostkeys.target(host, site.vars)
        if target:
            keys = entries.get(hostkeys.host_field(*target), [])
            rows.append(
                {
                    "host": host["name"],
                    "target": hostkeys.host_field(*target),
                    "keys": [k.to_json() for k in keys],
                }
            )
    return {"site": site.name, "site_id": site.id, "hosts": rows}


class _locked:
    """An exclusive lock on the site's folder while its file is read and rewritten (two
    accepts at once, from the window and the command line, never lose one another's keys)."""

    def __init__(self, known_hosts: Path) -> None:
        self.folder = known_hosts.parent

    def __enter__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.fd = os.open(self.folder, os.O_RDONLY)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)
