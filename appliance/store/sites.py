"""Sites and their hosts: parsing a site description, creating and reading sites."""

from __future__ import annotations

from typing import Any

from peewee import IntegrityError

from appliance.clock import check_zone, local_zone_name
from appliance.errors import BadRequest, Conflict, NotFound
from appliance.states import ACTIVE
from appliance.store import Store
from appliance.store.models import Host, InstalledComponent, Run, Schedule, Site
from appliance.validate import (
    MAX_KEY_CHARS,
    Field,
    as_id,
    check_address,
    check_json_value,
    check_name,
    check_port,
    check_str_list,
    check_vars,
    expect_object,
)

SITE_FIELDS = {
    "name": Field(str, required=True, check=check_name),
    "vars": Field(dict, check=check_vars),
    "hosts": Field(list),
    "timezone": Field(str, check=check_zone),
}
HOST_FIELDS = {
    "name": Field(str, required=True, check=check_name),
    "address": Field(str, required=True, check=check_address),
    "port": Field(int, check=check_port),
    "user": Field(str, check=lambda v: _check_user(v)),
    "groups": Field(list, check=check_str_list),
    "vars": Field(dict, check=check_vars),
}
MAX_HOSTS = 1000


def _check_user(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if len(value) > MAX_KEY_CHARS:
        return f"is longer than {MAX_KEY_CHARS} characters"
    return None


def parse_site(data: Any) -> dict[str, Any]:
    """Validate a site description; returns a clean dict (nothing unknown, defaults filled)."""
    # everything stored must come back as JSON a browser can parse (no NaN, no 2^64, no lone
    # surrogate): checked here, where the API, the command line and inventory imports meet
    check_json_value(data, "site")
    site = expect_object(data, "site", SITE_FIELDS)
    hosts_in = site.get("hosts", [])
    if len(hosts_in) > MAX_HOSTS:
        raise BadRequest(
            f"site has {len(hosts_in)} hosts; at most {MAX_HOSTS}", "Split the site in two."
        )
    hosts, seen = [], set()
    for i, raw in enumerate(hosts_in):
        host = expect_object(raw, f"site.hosts[{i}]", HOST_FIELDS)
        if host["name"] in seen:
            raise BadRequest(
                f"site.hosts[{i}].name {host['name']!r} appears twice",
                "Give every host of a site its own name.",
            )
        seen.add(host["name"])
        hosts.append({"port": 22, "user": None, "groups": [], "vars": {}, **host})
    return {
        "name": site["name"],
        "vars": site.get("vars", {}),
        "hosts": hosts,
        "timezone": site.get("timezone"),  # None: the laptop's (create) or unchanged (update)
    }


def create_site(store: Store, spec: dict[str, Any]) -> dict[str, Any]:
    """Create a site with its hosts in one transaction; Conflict if the name is taken."""

    def write() -> int:
        try:
            site = Site.create(
                name=spec["name"],
                vars=spec["vars"],
                created_at=store.now(),
                timezone=spec.get("timezone") or local_zone_name(),
            )
        except IntegrityError as e:
            raise Conflict(
                f"a site named {spec['name']!r} exists already",
                "Pick another name, or open the existing site.",
                code="site.exists",
                params={"name": spec["name"]},
            ) from e
        for host in spec["hosts"]:
            Host.create(site=site, **host)
        return site.id

    return get_site(store.write(write))


def host_to_json(host: Host) -> dict[str, Any]:
    return {
        "name": host.name,
        "address": host.address,
        "port": host.port,
        "user": host.user,
        "groups": host.groups,
        "vars": host.vars,
    }


def site_to_json(site: Site, hosts: list[Host], installed: list[InstalledComponent]) -> dict:
    return {
        "id": site.id,
        "name": site.name,
        "vars": site.vars,
        "created_at": site.created_at,
        "timezone": site_zone(site),
        "hosts": [host_to_json(h) for h in hosts],
        "installed": {
            c.component: {
                "version": c.version,
                "bundle": c.bundle_name,
                "bundle_version": c.bundle_version,
                "run": c.run_id,
                "updated_at": c.updated_at,
            }
            for c in installed
        },
    }


def site_zone(site: Site) -> str:
    """The site's time zone: the one chosen for it, else the laptop's."""
    return site.timezone or local_zone_name()


def set_site_timezone(store: Store, ref: int | str, zone: str) -> dict[str, Any]:
    """Set a site's time zone (BadRequest when the tz database does not know it)."""
    problem = check_zone(zone)
    if problem:
        raise BadRequest(
            f"site.timezone {problem}",
            "List the zones with GET /api/timezones; the Sites screen offers them to pick.",
        )

    def write() -> int:
        site = find_site(ref)
        Site.update(timezone=zone).where(Site.id == site.id).execute()
        return site.id

    return get_site(store.write(write))


def find_site(ref: int | str) -> Site:
    """A site by id or by name (as typed on the command line or in a URL)."""
    query = Site.select()
    number = as_id(ref)
    site = query.where(Site.id == number).first() if number is not None else None
    if site is None and isinstance(ref, str) and len(ref) <= MAX_KEY_CHARS:
        site = query.where(Site.name == ref).first()
    if site is None:
        shown = ref if not isinstance(ref, str) or len(ref) <= 60 else ref[:60] + "..."
        raise NotFound(
            f"no site {shown!r}",
            "List sites with `appliance site list` or GET /api/sites.",
            code="not_found.site",
            params={"name": shown},
        )
    return site


def site_hosts(site_id: int) -> list[dict[str, Any]]:
    """The site's hosts as JSON, in the order they were added."""
    return [host_to_json(h) for h in Host.select().where(Host.site == site_id).order_by(Host.id)]


def get_site(ref: int | str) -> dict[str, Any]:
    site = find_site(ref)
    hosts = list(Host.select().where(Host.site == site).order_by(Host.id))
    installed = list(
        InstalledComponent.select()
        .where(InstalledComponent.site == site)
        .order_by(InstalledComponent.id)
    )
    return site_to_json(site, hosts, installed)


def list_sites(limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
    sites = list(Site.select().order_by(Site.id).limit(limit).offset(offset))
    if not sites:
        return []
    ids = [s.id for s in sites]
    hosts: dict[int, list[Host]] = {i: [] for i in ids}
    for h in Host.select().where(Host.site.in_(ids)).order_by(Host.id):
        hosts[h.site_id].append(h)
    installed: dict[int, list[InstalledComponent]] = {i: [] for i in ids}
    for c in InstalledComponent.select().where(InstalledComponent.site.in_(ids)):
        installed[c.site_id].append(c)
    return [site_to_json(s, hosts[s.id], installed[s.id]) for s in sites]


def update_site(store: Store, site_id: int, spec: dict[str, Any]) -> dict[str, Any]:
    """Replace a site's name, vars and hosts in one transaction (``spec`` from parse_site).
    NotFound if the site is gone, Conflict if the new name belongs to another site."""

    def write() -> int:
        site = Site.get_or_none(Site.id == site_id)
        if site is None:
            raise NotFound(
                f"no site {site_id}",
                "List sites with GET /api/sites.",
                code="not_found.site",
                params={"name": site_id},
            )
        clash = Site.get_or_none((Site.name == spec["name"]) & (Site.id != site_id))
        if clash is not None:
            raise Conflict(
                f"a site named {spec['name']!r} exists already",
                "Pick another name, or edit the existing site.",
                code="site.exists",
                params={"name": spec["name"]},
            )
        changes = {"name": spec["name"], "vars": spec["vars"]}
        if spec.get("timezone"):
            changes["timezone"] = spec["timezone"]
        Site.update(**changes).where(Site.id == site_id).execute()
        Host.delete().where(Host.site == site_id).execute()
        for host in spec["hosts"]:
            Host.create(site=site_id, **host)
        return site_id

    return get_site(store.write(write))


def delete_site(store: Store, ref: int | str) -> dict[str, Any]:
    """Delete a site with its hosts, credentials, installed-version records and finished runs,
    in one transaction with the check: refused (Conflict, the reason) while a run is in
    progress there or a schedule targets it. Returns what went, with the ids of its runs."""

    def write() -> dict[str, Any]:
        site = find_site(ref)
        active = [
            r.id
            for r in Run.select(Run.id).where((Run.site == site.id) & Run.state.in_(list(ACTIVE)))
        ]
        if active:
            raise Conflict(
                f"site {site.name} has a run in progress (#{', #'.join(map(str, active))})",
                "Wait for the run to end, or cancel it, then delete the site.",
            )
        schedules = [s.id for s in Schedule.select(Schedule.id).where(Schedule.site == site.id)]
        if schedules:
            raise Conflict(
                f"site {site.name} has schedules ({', '.join(map(str, schedules))})",
                "Delete its schedules first (Schedules screen, or appliance schedule rm ID).",
            )
        runs = [r.id for r in Run.select(Run.id).where(Run.site == site.id)]
        installed = InstalledComponent.select().where(InstalledComponent.site == site.id).count()
        site.delete_instance(recursive=True)
        return {"site": site.name, "site_id": site.id, "runs": runs, "installed": installed}

    return store.write(write)
