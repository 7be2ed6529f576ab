"""Declared configuration through real runs (conf-platform fixture, ansible-runner on
localhost): refused before it starts when a value is missing, the password never in plaintext
in the data folder while the playbook runs and after, reconfigure re-running only the
components whose values changed, and an upgrade that needs a new item filled first."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.context import Context
from appliance.errors import InvalidValues, Unprocessable
from appliance.jobs.ansible import vault
from appliance.jobs.reports.report import render_report
from appliance.jobs.runs.manager import RunManager
from appliance.jobs.sites import config
from appliance.store import sites
from tests.support.local import kill_everything_under, poll

PASSWORD = "Zq8-vault-me-Pw"


@pytest.fixture
def conf_site(ctx: Context, tmp_path: Path, import_bundle) -> Iterator[Path]:
    root = tmp_path / "conf-root"
    import_bundle("conf-platform@1.0.0")
    spec = {
        "name": "lab",
        "vars": {"install_root": str(root), "pause_file": str(tmp_path / "go")},
        "hosts": [
            {"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}
        ],
    }
    sites.create_site(ctx.store, sites.parse_site(spec))
    yield root
    kill_everything_under(root)


def files_holding(root: Path, secret: bytes) -> list[str]:
    """Every file under ``root`` whose bytes contain ``secret`` (the database and its WAL too)."""
    found = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath, name)
            if path.is_symlink() or not path.is_file():
                continue
            try:
                if secret in path.read_bytes():
                    found.append(str(path.relative_to(root)))
            except OSError:
                continue
    return found


@pytest.mark.slow
def test_password_reaches_the_playbook_and_never_rests_in_plaintext(
    ctx: Context, manager: RunManager, conf_site: Path, tmp_path: Path, monkeypatch
) -> None:
    # the per-run vault password is random; a known one lets the grep look for it as well
    vault_password = "known-vault-password-for-the-grep"
    monkeypatch.setattr(vault, "new_password", lambda: vault_password)
    # refused before anything runs: the required password is missing
    with pytest.raises(InvalidValues) as refused:
        manager.start_run("lab", "conf-platform", "1.0.0")
    assert refused.value.status == 400
    assert refused.value.to_json()["fields"] == {"admin_password": "is required"}
    assert not (conf_site / "web.runs").exists()

    # a short password is refused, and nothing is stored
    with pytest.raises(InvalidValues) as short:
        config.update(ctx, "lab", "conf-platform", {"admin_password": "short", "web_port": 80})
    assert set(short.value.fields) == {"admin_password", "web_port"}
    assert config.describe("lab", "conf-platform")["errors"] == {"admin_password": "is required"}

    answer = config.update(ctx, "lab", "conf-platform", {"admin_password": PASSWORD})
    assert answer["valid"] and "value" not in answer["items"][1]
    assert answer["items"][1]["set"] is True

    run = manager.start_run("lab", "conf-platform", "1.0.0")
    log = ctx.paths.run_dir(run["id"]) / "output.log"
    poll(lambda: log.exists() and "Wait for the go file" in log.read_text(), 120, "the pause")
    during = files_holding(ctx.paths.root, PASSWORD.encode())
    during += files_holding(ctx.paths.root, vault_password.encode())
    (tmp_path / "go").write_text("go")
    done = manager.wait(run["id"], 240)
    assert done["state"] == "succeeded", done["error"]
    assert during == []
    assert files_holding(ctx.paths.root, PASSWORD.encode()) == []
    assert files_holding(ctx.paths.root, vault_password.encode()) == []
    assert "admin password is ********" in log.read_text()
    report = render_report(ctx, run["id"])
    assert PASSWORD not in report
    conf = (conf_site / "web.conf").read_text()
    assert "port=18080" in conf and PASSWORD not in conf  # the default applied
    private = ctx.paths.run_dir(run["id"]) / "private"
    assert (private / "config.vault.yml").read_bytes().startswith(b"$ANSIBLE_VAULT;1.1;AES256")
    assert not list(private.glob("*/artifacts/*/stdout"))  # the raw copy is not written
    assert not list(private.glob("*/env/extravars")) or all(
        PASSWORD not in p.read_text() for p in private.glob("*/env/extravars")
    )


@pytest.mark.slow
def test_reconfigure_reruns_only_the_components_using_changed_values(
    ctx: Context, manager: RunManager, conf_site: Path, tmp_path: Path
) -> None:
    (tmp_path / "go").write_text("go")
    config.update(ctx, "lab", "conf-platform", {"admin_password": PASSWORD})
    done = manager.wait(manager.start_run("lab", "conf-platform", "1.0.0")["id"], 240)
    assert done["state"] == "succeeded", done["error"]

    with pytest.raises(Unprocessable, match=r"no configuration value .* changed"):
        manager.start_run("lab", "conf-platform", "1.0.0", "reconfigure", dry_run=True)
    # the same value again changes nothing
    config.update(ctx, "lab", "conf-platform", {"log_level": "info"})
    answer = config.update(ctx, "lab", "conf-platform", {"log_level": "debug"})
    assert answer["reconfigure"] == ["worker"]
    run = manager.start_run("lab", "conf-platform", "1.0.0", "reconfigure")
    assert [s["name"] for s in run["plan"]] == ["preflight", "worker"]
    done = manager.wait(run["id"], 240)
    assert done["state"] == "succeeded", done["error"]
    assert "log_level=debug" in (conf_site / "worker.conf").read_text()
    assert len((conf_site / "worker.runs").read_text().splitlines()) == 2
    assert len((conf_site / "web.runs").read_text().splitlines()) == 1
    assert config.describe("lab", "conf-platform")["reconfigure"] == []

    # a reset to the default is a change too (and resetting it again is not)
    answer = config.update(ctx, "lab", "conf-platform", {"log_level": None})
    assert answer["changed"] == ["log_level"] and answer["reconfigure"] == ["worker"]
    shown = {i["name"]: i for i in answer["items"]}["log_level"]
    assert shown["set"] is False and shown["value"] == shown["default"]
    assert config.update(ctx, "lab", "conf-platform", {"log_level": None})["changed"] == []
    done = manager.wait(
        manager.start_run("lab", "conf-platform", "1.0.0", "reconfigure")["id"], 240
    )
    assert done["state"] == "succeeded", done["error"]
    assert f"log_level={shown['default']}" in (conf_site / "worker.conf").read_text()
    assert config.describe("lab", "conf-platform")["reconfigure"] == []


@pytest.mark.slow
def test_upgrade_needs_the_new_item_filled_first(
    ctx: Context, manager: RunManager, conf_site: Path, tmp_path: Path, import_bundle
) -> None:
    (tmp_path / "go").write_text("go")
    config.update(ctx, "lab", "conf-platform", {"admin_password": PASSWORD, "web_port": 2000})
    done = manager.wait(manager.start_run("lab", "conf-platform", "1.0.0")["id"], 240)
    assert done["state"] == "succeeded", done["error"]
    import_bundle("conf-platform@1.1.0")

    with pytest.raises(InvalidValues) as refused:
        manager.start_run("lab", "conf-platform", "1.1.0", dry_run=True)
    assert refused.value.fields == {"region": "is required"}
    shown = config.describe("lab", "conf-platform", "1.1.0")
    assert shown["version"] == "1.1.0" and shown["errors"] == {"region": "is required"}
    assert config.describe("lab", "conf-platform")["version"] == "1.0.0"  # what runs
    config.update(ctx, "lab", "conf-platform", {"region": "north"}, "1.1.0")

    run = manager.start_run("lab", "conf-platform", "1.1.0")
    assert run["action"] == "upgrade"
    done = manager.wait(run["id"], 240)
    assert done["state"] == "succeeded", done["error"]
    assert "region=north" in (conf_site / "worker.conf").read_text()
    assert "port=2000" in (conf_site / "web.conf").read_text()  # carried over


@pytest.mark.slow
def test_demo_platform_takes_its_declared_values(
    ctx: Context, manager: RunManager, local_site, import_bundle
) -> None:
    import_bundle("demo-platform@1.0.0")
    shown = config.describe("lab", "demo-platform")
    assert [i["name"] for i in shown["items"]] == [
        "install_root",
        "app_port",
        "log_level",
        "admin_password",
    ]
    assert shown["valid"]  # installable without a config step: the site vars apply
    config.update(ctx, "lab", "demo-platform", {"log_level": "warning", "admin_password": PASSWORD})
    done = manager.wait(manager.start_run("lab", "demo-platform", "1.0.0")["id"], 240)
    assert done["state"] == "succeeded", done["error"]
    ini = (local_site.root / "etc" / "app.ini").read_text()
    assert "log_level = warning" in ini and f"port = {local_site.port}" in ini
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert (local_site.root / "etc" / "admin.sha256").read_text().strip() == digest
    assert files_holding(ctx.paths.root, PASSWORD.encode()) == []


@pytest.mark.slow
def test_a_failure_naming_the_password_is_redacted(
    ctx: Context, manager: RunManager, import_bundle, tmp_path: Path
) -> None:
    import_bundle("conf-platform@1.0.0")
    spec = {
        "name": "bad",
        "vars": {"install_root": str(tmp_path / "bad-root"), "fail_web": True},
        "hosts": [
            {"name": "local", "address": "localhost", "vars": {"ansible_connection": "local"}}
        ],
    }
    sites.create_site(ctx.store, sites.parse_site(spec))
    config.update(ctx, "bad", "conf-platform", {"admin_password": PASSWORD})
    done = manager.wait(manager.start_run("bad", "conf-platform", "1.0.0")["id"], 240)
    assert done["state"] == "failed"
    assert "refusing admin password ********" in done["error"]
    report = render_report(ctx, done["id"])
    assert "refusing admin password ********" in report and PASSWORD not in report
    assert files_holding(ctx.paths.root, PASSWORD.encode()) == []
