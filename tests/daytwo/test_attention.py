"""Which runs mark a site as needing attention, what clears it, and the overall state from the
hosts' states (no Ansible: rows written directly)."""

from __future__ import annotations

import pytest

from appliance.context import Context
from appliance.jobs.daytwo.status import overall
from appliance.store import daytwo as rows
from appliance.store.models import Bundle, Run, Site


def runs(ctx: Context, *spec: tuple[str, str]) -> list[int]:
    now = ctx.store.now()

    def write() -> list[int]:
        site = Site.get_or_none(Site.name == "acme") or Site.create(
            name="acme", vars={}, created_at=now
        )
        bundle, _ = Bundle.get_or_create(
            name="acme-suite",
            version="1.0.0",
            defaults={
                "sha256": "0" * 64,
                "key_id": "k",
                "path": "/x",
                "manifest": {},
                "imported_at": now,
            },
        )
        return [
            Run.create(
                site=site,
                bundle=bundle,
                action=action,
                state=state,
                created_at=now,
                error="boom" if state == "failed" else None,
            ).id
            for action, state in spec
        ]

    return ctx.store.write(write)


def test_attention_follows_the_last_changing_run(ctx: Context) -> None:
    (ok,) = runs(ctx, ("install", "succeeded"))
    site = Run.get_by_id(ok).site_id
    assert rows.attention(site) is None
    (failed,) = runs(ctx, ("upgrade", "failed"))
    found = rows.attention(site)
    assert found["run"] == failed and "upgrade of acme-suite 1.0.0" in found["reason"]
    assert "boom" in found["reason"]
    runs(ctx, ("check", "cancelled"), ("check", "failed"))  # checks change nothing
    assert rows.attention(site)["run"] == failed
    runs(ctx, ("operate", "succeeded"))  # the next successful changing run clears it
    assert rows.attention(site) is None
    (interrupted,) = runs(ctx, ("rollback", "interrupted"))
    assert rows.attention(site)["run"] == interrupted
    rows.acknowledge(ctx.store, site, interrupted, "restored by hand")
    assert rows.attention(site) is None
    assert rows.acknowledgements(site)[0]["reason"] == "restored by hand"
    (cancelled,) = runs(ctx, ("operate", "cancelled"))  # a new failure needs its own ack
    assert rows.attention(site)["run"] == cancelled
    runs(ctx, ("install", "succeeded"))
    (backup,) = runs(ctx, ("backup", "failed"))  # no copy where one was asked for
    assert rows.attention(site)["run"] == backup
    assert "backup of acme-suite 1.0.0" in rows.attention(site)["reason"]
    runs(ctx, ("backup", "succeeded"))
    assert rows.attention(site) is None


def hosts(*states: str) -> list[dict]:
    return [{"component": "c", "hosts": [{"state": s} for s in states]}]


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ((), "unknown"),
        (("unknown", "unknown"), "unknown"),
        (("running", "running"), "healthy"),
        (("running", "stopped"), "degraded"),
        (("running", "unknown"), "degraded"),
        (("degraded",), "degraded"),
        (("stopped", "unreachable"), "down"),
        (("stopped", "unknown"), "down"),
    ],
)
def test_overall(states: tuple[str, ...], expected: str) -> None:
    assert overall(hosts(*states)) == expected


def test_a_deleted_site_takes_its_status_and_acknowledgements(ctx: Context) -> None:
    from appliance.store import sites

    (failed,) = runs(ctx, ("install", "failed"))
    site = Run.get_by_id(failed).site_id
    rows.save_status(ctx.store, site, {"checked_at": ctx.store.now(), "components": []})
    rows.acknowledge(ctx.store, site, failed, "fine")
    sites.delete_site(ctx.store, site)
    assert rows.last_status(site) is None and rows.acknowledgements(site) == []
