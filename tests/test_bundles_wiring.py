"""Bundles through the appliance: import over HTTP and the command line, rows and folders kept
in step, refusals leaving nothing behind, upgrade paths per site."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from appliance.context import Context
from appliance.store.models import Bundle
from tests.support.cli import run_cli
from tests.support.client import Api
from tests.support.processes import REPO

DEMO_KEY = REPO / "bundles" / "DEMO-ONLY-signing.key"


@pytest.fixture(scope="session")
def demo_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real demo bundles, built from bundles/ with the demo key by the appliance's CLI."""
    out = tmp_path_factory.mktemp("bundles")
    key = out / "demo.key"
    shutil.copy(DEMO_KEY, key)
    key.chmod(0o600)
    built = {}
    for version in ("1.0.0", "1.1.0"):
        result = run_cli(
            out / "data",
            "bundle",
            "build",
            str(REPO / "bundles" / "demo-platform" / version),
            "--key",
            str(key),
            "-o",
            str(out),
        )
        assert result.returncode == 0, result.stderr
        built[version] = Path(result.stdout.strip())
    return built


def _nothing_left(ctx: Context) -> None:
    assert Bundle.select().count() == 0
    assert list(ctx.paths.bundles.iterdir()) == []
    assert list(ctx.paths.tmp.iterdir()) == []


def test_import_over_http_then_detail_and_list(
    api: Api, ctx: Context, demo_bundles: dict[str, Path]
) -> None:
    reply = api.post(
        "/api/bundles",
        raw=demo_bundles["1.0.0"].read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert reply.status == 201, reply.body
    bundle = reply.json()
    assert (bundle["name"], bundle["version"]) == ("demo-platform", "1.0.0")
    assert [c["name"] for c in bundle["components"]] == ["db", "config", "app"]
    again = api.post("/api/bundles", raw=demo_bundles["1.0.0"].read_bytes())
    assert again.status == 200 and again.json()["id"] == bundle["id"]
    assert api.post("/api/bundles", raw=demo_bundles["1.1.0"].read_bytes()).status == 201
    assert [(b["name"], b["version"]) for b in api.get("/api/bundles").json()] == [
        ("demo-platform", "1.0.0"),
        ("demo-platform", "1.1.0"),
    ]
    detail = api.get("/api/bundles/demo-platform/1.1.0").json()
    assert detail["upgrades_from_imported"] == ["1.0.0"]
    assert (ctx.paths.bundles / "demo-platform" / "1.1.0" / "bundle.yml").is_file()
    assert list(ctx.paths.tmp.iterdir()) == []
    assert api.get("/api/bundles/demo-platform/9.9.9").status == 404


def test_upgrade_paths_per_site(api: Api, ctx: Context, demo_bundles: dict[str, Path]) -> None:
    from appliance.store.models import InstalledComponent, Site

    api.post("/api/bundles", raw=demo_bundles["1.1.0"].read_bytes())
    for name in ("fresh", "old", "current"):
        assert api.post("/api/sites", {"name": name}).status == 201

    def installed() -> None:
        for site, version in (("old", "1.0.0"), ("current", "1.1.0")):
            InstalledComponent.create(
                site=Site.get(Site.name == site),
                component="app",
                version=version,
                bundle_name="demo-platform",
                bundle_version=version,
                updated_at="t",
            )

    ctx.store.write(installed)
    sites = {s["site"]: s for s in api.get("/api/bundles/demo-platform/1.1.0").json()["sites"]}
    assert sites["fresh"]["action"] == "install" and sites["fresh"]["allowed"]
    assert sites["old"]["action"] == "upgrade" and sites["old"]["allowed"]
    assert not sites["current"]["allowed"] and sites["current"]["reason"]


def _rewrite(src: Path, dest: Path, change) -> Path:
    """Copy a bundle archive, letting ``change(name, data)`` alter members' bytes."""
    with tarfile.open(src, "r:gz") as tin, tarfile.open(dest, "w:gz") as tout:
        for member in tin.getmembers():
            data = tin.extractfile(member).read() if member.isfile() else None
            if data is not None:
                data = change(member.name, data)
                member.size = len(data)
            tout.addfile(member, io.BytesIO(data) if data is not None else None)
    return dest


@pytest.mark.parametrize("kind", ["tampered-file", "not-gzip", "truncated", "empty"])
def test_bad_uploads_are_422_and_leave_nothing(
    api: Api, ctx: Context, tmp_path: Path, demo_bundles: dict[str, Path], kind: str
) -> None:
    good = demo_bundles["1.0.0"]
    if kind == "tampered-file":
        raw = _rewrite(
            good,
            tmp_path / "t.bundle",
            lambda n, d: d + b"\n# evil" if n.endswith("app.yml") else d,
        ).read_bytes()
    elif kind == "not-gzip":
        raw = b"this is not an archive" * 100
    elif kind == "truncated":
        raw = good.read_bytes()[: good.stat().st_size // 2]
    else:
        raw = b""
    reply = api.post("/api/bundles", raw=raw)
    assert reply.status == 422, reply.body
    assert reply.json()["error"] and reply.json()["hint"]
    _nothing_left(ctx)


def test_upload_over_the_size_cap_is_413(api: Api, ctx: Context) -> None:
    cap = ctx.settings.bundle_max_bytes
    reply = api.post("/api/bundles", raw=b"", headers={"Content-Length": str(cap + 1)})
    assert reply.status == 413
    _nothing_left(ctx)


def test_cli_keygen_build_verify_import_list_show(tmp_path: Path, data_dir: Path) -> None:
    src = REPO / "bundles" / "demo-platform" / "1.0.0"
    assert run_cli(data_dir, "bundle", "keygen", str(tmp_path / "vendor")).returncode == 0
    built = run_cli(
        data_dir,
        "bundle",
        "build",
        str(src),
        "--key",
        str(tmp_path / "vendor.key"),
        "-o",
        str(tmp_path),
    )
    assert built.returncode == 0, built.stderr
    archive = built.stdout.strip()
    untrusted = run_cli(data_dir, "bundle", "import", archive)
    assert untrusted.returncode == 2
    assert len(untrusted.stderr.strip().splitlines()) == 1 and "hint:" in untrusted.stderr
    assert "key add" in untrusted.stderr
    assert not (data_dir / "bundles" / "demo-platform").exists()
    assert run_cli(data_dir, "key", "add", str(tmp_path / "vendor.pub")).returncode == 0
    verified = run_cli(data_dir, "bundle", "verify", archive)
    assert verified.returncode == 0 and verified.stdout.startswith("OK demo-platform 1.0.0")
    assert run_cli(data_dir, "bundle", "import", archive).returncode == 0
    again = run_cli(data_dir, "bundle", "import", archive)
    assert again.returncode == 0 and "already imported" in again.stdout
    listed = json.loads(run_cli(data_dir, "bundle", "list", "--json").stdout)
    assert [(b["name"], b["version"]) for b in listed] == [("demo-platform", "1.0.0")]
    shown = run_cli(data_dir, "bundle", "show", "demo-platform@1.0.0", "--json")
    assert json.loads(shown.stdout)["components"][0]["name"] == "db"
    bad_ref = run_cli(data_dir, "bundle", "show", "demo-platform")
    assert bad_ref.returncode == 2 and "NAME@VERSION" in bad_ref.stderr


def test_folder_without_row_is_recorded_at_start(
    ctx: Context, demo_bundles: dict[str, Path]
) -> None:
    from appliance.jobs import bundles as service

    service.import_file(ctx, demo_bundles["1.0.0"])
    ctx.store.write(lambda: Bundle.delete().execute())  # as if we crashed before the insert
    assert service.sync_rows(ctx) == 1
    assert Bundle.select().count() == 1
