"""The window's side of the appliance's data, through the real server: a backup downloaded
(the passphrase only in the request, never stored or logged), restored into a new folder (not
the running one's), a wrong passphrase leaving nothing; a snapshot of the sites' records
restored in place."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from urllib.parse import quote

from appliance.context import Context, open_context
from appliance.jobs.ansible import hostkeys
from appliance.jobs.sites.service import set_site_credentials
from appliance.settings import load_settings
from appliance.store import credentials, site_snapshots, sites
from tests.support.client import Api

PASSPHRASE = "längere Passphrase 口令"  # not Latin-1: the header carries it percent-encoded


def seeded(ctx: Context) -> int:
    spec = {"name": "plant", "hosts": [{"name": "db1", "address": "10.0.0.5"}]}
    site_id = sites.create_site(ctx.store, sites.parse_site(spec))["id"]
    set_site_credentials(ctx, "plant", {"become_password": "sudo-pw"}, key_source="file")
    keys = {"10.0.0.5": [hostkeys.HostKey("ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIA" + "A" * 42)]}
    hostkeys.write(hostkeys.known_hosts_file(ctx.paths.root, site_id), keys)
    return site_id


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def test_backup_download_then_restore_into_a_new_folder(
    ctx: Context, api: Api, data_dir: Path, tmp_path: Path
) -> None:
    site_id = seeded(ctx)
    info = api.get("/api/data").json()
    assert info["data_dir"] == str(data_dir) and info["needs_passphrase"]
    assert info["snapshots"] == [] and Path(info["restore_folder"]).parent == data_dir.parent

    # a passphrase is needed (it wraps the credentials key), at least 8 characters
    for body in ({}, {"passphrase": "short"}):
        reply = api.post("/api/data/backup", body)
        assert reply.status == 400 and "passphrase" in reply.json()["error"], reply.body
    assert api.post("/api/data/backup", {"passphrase": 12345678}).status == 400

    reply = api.post("/api/data/backup", {"passphrase": PASSPHRASE})
    assert reply.status == 200, reply.body[:300]
    assert reply.headers["content-type"] == "application/x-tar"
    assert int(reply.headers["content-length"]) == len(reply.body)
    assert 'filename="appliance-backup-' in reply.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(reply.body)) as tar:
        names = set(tar.getnames())
    assert {"appliance-backup.json", "appliance.db", "credentials-key.json"} <= names
    assert f"sites/{site_id}/known_hosts" in names and "credentials.key" not in names
    assert not [p for p in files_under(ctx.paths.tmp_root) if p.endswith(".tar")]  # no copy left
    archive = tmp_path / "backup.tar"
    archive.write_bytes(reply.body)

    # or written on this computer: an absolute path outside the data folder, never over a file
    written = tmp_path / "usb" / "b.tar"
    for path, status in (("rel.tar", 400), (str(data_dir / "b.tar"), 409), (str(archive), 409)):
        reply = api.post("/api/data/backup", {"passphrase": PASSPHRASE, "path": path})
        assert reply.status == status and reply.json()["hint"], (path, reply.body)
    reply = api.post("/api/data/backup", {"passphrase": PASSPHRASE, "path": str(written)})
    assert reply.status == 201 and reply.json()["path"] == str(written), reply.body
    assert written.stat().st_mode & 0o777 == 0o600 and not (data_dir / "b.tar").exists()

    def restore(folder: str, passphrase: str | None):
        headers = {"Content-Type": "application/octet-stream"}
        if passphrase is not None:
            headers["X-Appliance-Passphrase"] = quote(passphrase)
        path = f"/api/data/restore?folder={quote(folder)}"
        return api.request("POST", path, raw=archive.read_bytes(), headers=headers)

    new = tmp_path / "laptop2" / "appliance"
    # refused, with nothing written: a wrong or missing passphrase, the running folder itself
    # (or one holding it), a relative path, a folder that is not empty
    reply = restore(str(new), "not the passphrase")
    assert reply.status == 400 and "wrong backup passphrase" in reply.json()["error"]
    assert restore(str(new), None).status == 400
    assert not new.exists() and files_under(new.parent) == set()
    for folder in (str(data_dir), str(data_dir.parent), str(data_dir / "x")):
        reply = restore(folder, PASSPHRASE)
        assert reply.status == 409 and reply.json()["hint"], (folder, reply.body)
    assert restore("relative/folder", PASSPHRASE).status == 400
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "something").write_text("x")
    assert restore(str(busy), PASSPHRASE).status == 409
    assert not [p for p in files_under(ctx.paths.tmp_root) if "upload-" in p]

    reply = restore(str(new), PASSPHRASE)
    assert reply.status == 201, reply.body
    assert reply.json()["root"] == str(new)
    assert (new / "credentials.key").stat().st_mode & 0o777 == 0o600
    assert not [p for p in files_under(ctx.paths.tmp_root) if "upload-" in p]
    again = open_context(load_settings(cli={"data_dir": str(new)}, env={}))
    try:
        assert sites.get_site("plant")["hosts"][0]["address"] == "10.0.0.5"
        assert credentials.load_credentials(new, site_id).become_password == "sudo-pw"
        assert hostkeys.read(hostkeys.known_hosts_file(new, site_id))
    finally:
        again.close()
    # the passphrase was never written anywhere in either folder
    for folder in (data_dir, new):
        for path in folder.rglob("*"):
            if path.is_file():
                assert PASSPHRASE.encode() not in path.read_bytes(), path


def test_a_snapshot_restored_in_place(ctx: Context, api: Api) -> None:
    site_id = seeded(ctx)
    number = site_snapshots.take(ctx.paths.db, ctx.paths.snapshots, "before run 1", 20)
    changed = {"name": "plant", "hosts": [{"name": "x", "address": "10.9.9.9"}]}
    sites.update_site(ctx.store, site_id, sites.parse_site(changed))
    listed = api.get("/api/data").json()["snapshots"]
    assert [(s["id"], s["reason"], s["sites"]) for s in listed] == [
        (number, "before run 1", ["plant"])
    ]
    reply = api.post(f"/api/data/snapshots/{number}/restore")
    assert reply.status == 200 and reply.json() == {"snapshot": number, "sites": ["plant"]}
    assert [h["name"] for h in sites.get_site("plant")["hosts"]] == ["db1"]
    assert api.post("/api/data/snapshots/99/restore").status == 404
