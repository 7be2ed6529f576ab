"""The Data screen at 1366x768, against a real `appliance serve`: a backup downloaded with its
passphrase, a snapshot of the sites' records restored in place, the backup restored into a new
folder (the running appliance keeps its own), and the screen in Chinese."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from appliance.store import site_snapshots
from tests.support.processes import ServerProcess
from tests.ui.conftest import shot
from tests.ui.laptop import assert_fits, laptop  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
PASSPHRASE = "a long backup passphrase"


def test_backup_snapshot_and_restore(laptop, serve: ServerProcess, tmp_path: Path) -> None:  # noqa: F811
    page = laptop
    api = serve.api
    site = api.post(
        "/api/sites", {"name": "plant", "hosts": [{"name": "db1", "address": "10.0.0.5"}]}
    )
    assert site.status == 201, site.body
    body = {"become_password": "sudo-pw"}
    assert api.request("PUT", "/api/sites/plant/credentials", body).status == 200
    # a snapshot as a run takes it (read from the live database by its own connection)
    site_snapshots.take(
        serve.data_dir / "appliance.db", serve.data_dir / "snapshots", "before run 1", 20
    )
    edited = {"name": "plant", "hosts": [{"name": "other", "address": "10.9.9.9"}]}
    assert api.request("PUT", "/api/sites/plant", edited).status == 200

    page.click("[data-nav='data']")
    page.wait_for_selector("#data-backup")
    assert page.inner_text("#data-dir") == str(serve.data_dir)
    assert_fits(page, "data screen")
    shot(page, "laptop-data")

    # back up: the two passphrases must agree; the archive arrives as a download
    page.fill("#backup-passphrase", PASSPHRASE)
    page.fill("#backup-passphrase-again", "something else")
    page.click("#make-backup")
    expect(page.locator("#backup-result")).to_contain_text("differ")
    page.fill("#backup-passphrase-again", PASSPHRASE)
    with page.expect_download() as got:
        page.click("#make-backup")
    archive = tmp_path / got.value.suggested_filename
    got.value.save_as(archive)
    assert archive.name.startswith("appliance-backup-") and archive.suffix == ".tar"
    with tarfile.open(archive) as tar:
        assert "credentials-key.json" in tar.getnames()
    expect(page.locator("#backup-result")).to_contain_text("downloaded")
    assert page.input_value("#backup-passphrase") == ""

    # or saved on this computer, as the appliance's own window does it (no download there)
    saved = tmp_path / "saved" / "backup.tar"
    page.fill("#backup-path", str(serve.data_dir / "inside.tar"))
    page.fill("#backup-passphrase", PASSPHRASE)
    page.fill("#backup-passphrase-again", PASSPHRASE)
    page.click("#save-backup")
    expect(page.locator("#backup-result .error-box")).to_contain_text("inside the data folder")
    page.fill("#backup-path", str(saved))
    page.click("#save-backup")
    expect(page.locator("#backup-result")).to_contain_text(f"Backup written to {saved}")
    assert saved.stat().st_mode & 0o777 == 0o600
    assert page.input_value("#backup-passphrase-again") == ""

    # the snapshot puts the site's hosts back, in place
    page.once("dialog", lambda d: d.accept())
    page.click("#snapshots-table [data-snapshot='1']")
    expect(page.locator("#snapshot-result")).to_contain_text("Snapshot 1 restored: plant")
    assert [h["name"] for h in api.get("/api/sites/plant").json()["hosts"]] == ["db1"]

    # restore: the running folder is refused; a new folder is filled, with the way to start it
    page.set_input_files("#restore-file", str(archive))
    page.fill("#restore-folder", str(serve.data_dir))
    page.fill("#restore-passphrase", PASSPHRASE)
    page.click("#restore-go")
    expect(page.locator("#restore-result .error-box")).to_contain_text("own data folder")
    page.fill("#restore-folder", str(tmp_path / "new-laptop"))
    page.fill("#restore-passphrase", "wrong passphrase")
    page.click("#restore-go")
    expect(page.locator("#restore-result .error-box")).to_contain_text("wrong backup passphrase")
    assert not (tmp_path / "new-laptop").exists()
    page.fill("#restore-passphrase", PASSPHRASE)
    page.click("#restore-go")
    done = page.locator("#restore-done")
    expect(done).to_contain_text(str(tmp_path / "new-laptop"))
    expect(done).to_contain_text(f"appliance --data-dir {tmp_path / 'new-laptop'}")
    assert (tmp_path / "new-laptop" / "appliance.db").is_file()
    assert (tmp_path / "new-laptop" / "credentials.key").is_file()
    assert_fits(page, "data screen after a restore")

    page.click(".lang-switch")
    expect(page.locator("h2")).to_have_text("设备数据")
    expect(page.locator("#data-restore h3")).to_have_text("恢复备份")
    assert_fits(page, "data screen in Chinese")
    page.click(".lang-switch")
