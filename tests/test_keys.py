"""Vendor keys over HTTP: listed with name, fingerprint and the bundles each signed; trusted
from a file's text; removal refused for a shipped key or one that signed imported bundles."""

from __future__ import annotations

from pathlib import Path

from appliance.bundle import build_bundle, generate_keypair
from appliance.context import Context
from tests.support.client import Api
from tests.support.processes import REPO, run_cli
from tests.test_bundles_wiring import demo_bundles  # noqa: F401 (fixture)

DEMO_ID = "demo-vendor"


def test_list_add_remove_and_the_signing_key_named(
    api: Api,
    ctx: Context,
    tmp_path: Path,
    demo_bundles: dict[str, Path],  # noqa: F811
) -> None:
    listed = api.get("/api/keys").json()
    assert [(k["name"], k["source"], k["bundles"]) for k in listed] == [
        ("demo-vendor", "shipped", [])
    ]
    demo = listed[0]
    assert demo["fingerprint"].replace(" ", "").startswith(demo["id"])
    assert len(demo["fingerprint"].split()) == 16

    imported = api.post("/api/bundles", raw=demo_bundles["1.0.0"].read_bytes()).json()
    assert imported["key"]["name"] == "demo-vendor"
    assert imported["key"]["fingerprint"] == demo["fingerprint"]
    assert api.get("/api/keys").json()[0]["bundles"] == ["demo-platform 1.0.0"]
    refused = api.delete(f"/api/keys/{demo['id']}")
    assert refused.status == 409 and "shipped inside the appliance" in refused.json()["error"]

    # a new vendor: its key trusted from the file's text, then a bundle it signed
    _, pub = generate_keypair(tmp_path / "acme")
    unsigned = api.post("/api/bundles", raw=_acme_bundle(tmp_path).read_bytes())
    assert unsigned.status == 422 and "appliance key add" in unsigned.body.decode()
    added = api.post("/api/keys", {"name": "acme.pub", "pem": pub.read_text()})
    assert added.status == 201, added.body
    key = added.json()
    assert (key["name"], key["source"], key["bundles"]) == ("acme.pub", "added", [])
    again = api.post("/api/keys", {"name": "again.pub", "pem": pub.read_text()})
    assert again.status == 201 and again.json()["name"] == "acme.pub"
    signed = api.post("/api/bundles", raw=_acme_bundle(tmp_path).read_bytes())
    assert signed.status == 201, signed.body
    assert signed.json()["key"]["name"] == "acme.pub"

    refused = api.delete(f"/api/keys/{key['id']}")
    assert refused.status == 409
    assert (
        refused.json()["error"] == f"key {key['id']} signed imported bundles: demo-platform 9.0.0"
    )
    assert "Delete those bundles first" in refused.json()["hint"]
    assert api.delete("/api/bundles/demo-platform/9.0.0").status == 200
    gone = api.delete(f"/api/keys/{key['id']}")
    assert gone.status == 200 and gone.json()["id"] == key["id"]
    assert [k["name"] for k in api.get("/api/keys").json()] == ["demo-vendor"]
    assert list(ctx.paths.keys.glob("*.pub")) == []
    assert api.delete(f"/api/keys/{key['id']}").status == 404


def test_bad_keys_are_refused_with_their_name(api: Api, ctx: Context, tmp_path: Path) -> None:
    private, _ = generate_keypair(tmp_path / "acme")
    for body, status, words in [
        ({"name": "vendor.pub", "pem": "not a key"}, 422, "vendor.pub is not a readable PEM"),
        ({"name": "acme.key", "pem": private.read_text()}, 422, "acme.key is not a readable"),
        ({"name": "big.pub", "pem": "x" * 20_000}, 400, "a public key is a few hundred"),
        ({"name": "x.pub"}, 400, "key.pem is required"),
    ]:
        reply = api.post("/api/keys", body)
        assert reply.status == status, reply.body
        assert words in reply.json()["error"] and reply.json()["hint"]
        assert str(ctx.paths.tmp) not in reply.json()["error"]
    assert list(ctx.paths.keys.glob("*.pub")) == []
    assert list(ctx.paths.tmp.iterdir()) == []


def test_key_rm_on_the_command_line(data_dir: Path, tmp_path: Path) -> None:
    _, pub = generate_keypair(tmp_path / "acme")
    assert run_cli(data_dir, "key", "add", str(pub)).returncode == 0
    listed = run_cli(data_dir, "key", "list").stdout
    assert "acme.pub" in listed and "demo-vendor" in listed
    kid = next(line.split()[0] for line in listed.splitlines() if "acme.pub" in line)
    done = run_cli(data_dir, "key", "rm", kid)
    assert (done.returncode, done.stdout) == (0, f"removed key {kid} (acme.pub)\n")
    done = run_cli(data_dir, "key", "rm", kid)
    assert done.returncode != 0 and f"no trusted key {kid}" in done.stderr


def _acme_bundle(folder: Path) -> Path:
    """The demo platform renamed to version 9.0.0 and signed with acme.key."""
    src = folder / "src"
    if not src.exists():
        import shutil

        shutil.copytree(REPO / "bundles" / "demo-platform" / "1.0.0", src)
        manifest = src / "bundle.yml"
        manifest.write_text(manifest.read_text().replace("1.0.0", "9.0.0", 1))
    out = folder / "acme-9.0.0.bundle"
    out.unlink(missing_ok=True)
    return build_bundle(src, folder / "acme.key", out)
