"""Host keys at a new site, against the real SSH test hosts: an unknown key is refused with its
fingerprint (as ``ssh-keygen -lf`` prints it), accepted (per host, then the rest), then the
hosts are reached; a key that changes (the host's sshd restarted with a new key) is refused with
both fingerprints until it is deliberately replaced."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from appliance.bundle.build import build_bundle
from appliance.jobs.ansible import hostkeys
from tests.remote.conftest import site_spec, trust_lab
from tests.support.cli import run_cli
from tests.support.sshhosts import SshHost, SshLab
from tests.ui.conftest import shot
from tests.ui.laptop import LAPTOP, assert_fits

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    key = folder / "demo.key"
    shutil.copyfile(REPO / "bundles" / "DEMO-ONLY-signing.key", key)
    key.chmod(0o600)
    return build_bundle(REPO / "bundles" / "demo-platform" / "1.0.0", key, folder)


def fingerprint(host: SshHost) -> str:
    """What ssh-keygen -lf says of the host's public key (bits, fingerprint, comment, type)."""
    out = subprocess.run(
        ["ssh-keygen", "-lf", str(host.host_key.with_suffix(".pub"))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split()[-1] == "(ED25519)", out
    return out.split()[1]


@pytest.fixture
def changed_key(lab: SshLab) -> Iterator[SshHost]:
    """The lab's third host serving a new host key on the same address and port; its own key
    and known_hosts line are back afterwards (the lab is shared by the session)."""
    host = lab.hosts[2]
    saved = host.dir / "saved-key"
    saved.mkdir(exist_ok=True)
    for f in (host.host_key, host.host_key.with_suffix(".pub")):
        shutil.copy2(f, saved / f.name)
    host.stop()
    host.host_key.unlink()
    host.host_key.with_suffix(".pub").unlink()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host.host_key)], check=True
    )
    host.start()
    try:
        yield host
    finally:
        host.stop()
        for f in (host.host_key, host.host_key.with_suffix(".pub")):
            shutil.copy2(saved / f.name, f)
        host.start()


def cli_site(data: Path, lab: SshLab, name: str, tmp_path: Path) -> None:
    """The site added from an inventory file, its credentials set (all by the command line)."""
    spec = site_spec(lab, name)
    hosts = {
        h["name"]: {**h["vars"], "ansible_host": h["address"], "ansible_user": h["user"]}
        for h in spec["hosts"]
    }
    inv = tmp_path / f"{name}.yml"
    inv.write_text(json.dumps({"all": {"vars": spec["vars"], "hosts": hosts}}))
    assert run_cli(data, "site", "add", name, "--inventory", str(inv)).returncode == 0
    r = run_cli(
        data, "site", "credentials", name, "--ssh-key", str(lab.client_key),
        "--become-password-stdin", input=lab.password + "\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def check(data: Path, name: str) -> tuple[int, dict]:
    r = run_cli(data, "site", "check", name, "--json")
    assert "Traceback" not in r.stderr
    return r.returncode, json.loads(r.stdout)


def test_unknown_keys_are_refused_with_their_fingerprint_then_accepted(
    remote_data_dir: Path, lab: SshLab, demo: Path, tmp_path: Path
) -> None:
    data = remote_data_dir
    cli_site(data, lab, "new-site", tmp_path)
    prints = {h.name: fingerprint(h) for h in lab.hosts}

    # the check shows each key with its fingerprint and refuses to log in
    code, result = check(data, "new-site")
    assert code == 1 and not result["ok"]
    for row in result["hosts"]:
        key = row["host_key"]
        assert key["status"] == "unknown" and key["type"] == "ED25519", row
        assert key["fingerprint"] == prints[row["host"]], row
        assert not row["reachable"], row
        assert prints[row["host"]] in row["error"], row
        assert f"appliance site trust-keys new-site --host {row['host']}" in row["error"]
    table = run_cli(data, "site", "check", "new-site").stdout
    assert f"ED25519 {prints['h2']} (unknown)" in table, table

    # a run is refused before it starts, with the fingerprints and the way to accept them
    assert run_cli(data, "bundle", "import", str(demo)).returncode == 0
    r = run_cli(data, "run", "new-site", "demo-platform@1.0.0")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert all(p in r.stderr for p in prints.values()), r.stderr
    assert "trust-keys new-site --host h2" in r.stderr and "ssh-keygen -lf" in r.stderr
    assert json.loads(run_cli(data, "runs", "--json").stdout) in ([], {"runs": []})

    # the command line accepts one host after showing its fingerprint
    r = run_cli(data, "site", "trust-keys", "new-site", "--host", "h1", input="n\n")
    assert r.returncode == 1 and prints["h1"] in r.stdout and "nothing trusted" in r.stdout
    site_id = json.loads(run_cli(data, "site", "show", "new-site", "--json").stdout)["id"]
    known_hosts = hostkeys.known_hosts_file(data, site_id)
    assert not known_hosts.exists()
    r = run_cli(data, "site", "trust-keys", "new-site", "--host", "h1", input="y\n")
    assert r.returncode == 0, r.stderr
    assert known_hosts.stat().st_mode & 0o777 == 0o600
    assert known_hosts.parent == data / "sites" / str(site_id)
    assert set(hostkeys.read(known_hosts)) == {lab.hosts[0].address}
    result = {h["host"]: h for h in check(data, "new-site")[1]["hosts"]}
    assert result["h1"]["reachable"] and result["h1"]["host_key"]["status"] == "trusted"
    assert not result["h2"]["reachable"] and result["h2"]["host_key"]["status"] == "unknown"

    # then the rest; every host is reached, and what was trusted is the hosts' own keys
    r = run_cli(data, "site", "trust-keys", "new-site", "--yes")
    assert r.returncode == 0 and "trusted the host keys of h2, h3" in r.stdout, r.stdout
    assert hostkeys.read(known_hosts) == hostkeys.read(lab.known_hosts)
    code, result = check(data, "new-site")
    assert code == 0 and result["ok"], result
    assert all(h["sudo"] == "ok" and h["modules"] for h in result["hosts"])
    r = run_cli(data, "site", "trust-keys", "new-site", "--yes")
    assert r.returncode == 0 and "trusted already" in r.stdout

    # the engineer's own ~/.ssh is never written; deleting the site removes its file
    user_file = Path.home() / ".ssh" / "known_hosts"
    assert not user_file.exists() or lab.hosts[0].address not in user_file.read_text()
    assert run_cli(data, "site", "rm", "new-site").returncode == 0
    assert not known_hosts.exists() and not known_hosts.parent.exists()


def test_a_changed_key_is_refused_until_deliberately_replaced(
    remote_data_dir: Path, lab: SshLab, changed_key: SshHost, demo: Path, tmp_path: Path
) -> None:
    data = remote_data_dir
    cli_site(data, lab, "changed", tmp_path)
    site_id = json.loads(run_cli(data, "site", "show", "changed", "--json").stdout)["id"]
    known_hosts = trust_lab(data, site_id, lab)  # trusted before the key changed
    old_print = hostkeys.read(lab.known_hosts)[changed_key.address][0].fingerprint
    new_print = fingerprint(changed_key)
    assert old_print != new_print

    code, result = check(data, "changed")
    result = {h["host"]: h for h in result["hosts"]}
    assert code == 1 and result["h1"]["reachable"] and result["h2"]["reachable"]
    bad = result["h3"]
    assert not bad["reachable"] and bad["host_key"]["status"] == "changed"
    assert bad["host_key"]["trusted"]["fingerprint"] == old_print
    assert "HOST KEY CHANGED" in bad["error"], bad
    assert old_print in bad["error"] and new_print in bad["error"], bad
    assert "trust-keys changed --host h3 --replace" in bad["error"]

    assert run_cli(data, "bundle", "import", str(demo)).returncode == 0
    r = run_cli(data, "run", "changed", "demo-platform@1.0.0")
    assert r.returncode == 2 and "HOST KEY CHANGED" in r.stderr, r.stderr
    assert old_print in r.stderr and new_print in r.stderr
    assert "h1:" not in r.stderr and "h2:" not in r.stderr

    # accepting without --replace is refused with both fingerprints; nothing is written
    before = known_hosts.read_bytes()
    r = run_cli(data, "site", "trust-keys", "changed", "--yes")
    assert r.returncode != 0 and old_print in r.stderr and new_print in r.stderr, r
    assert "--replace" in r.stderr and "Traceback" not in r.stderr
    assert known_hosts.read_bytes() == before

    # deliberately: --replace for that host, confirmed
    r = run_cli(data, "site", "trust-keys", "changed", "--host", "h3", "--replace")
    assert r.returncode == 1 and "CHANGED" in r.stdout  # asked, no answer: nothing
    assert known_hosts.read_bytes() == before
    r = run_cli(data, "site", "trust-keys", "changed", "--host", "h3", "--replace", "--yes")
    assert r.returncode == 0, r.stderr
    trusted = hostkeys.read(known_hosts)[changed_key.address]
    assert [k.fingerprint for k in trusted] == [new_print]
    # reached with the site's file, although the lab's known_hosts that the site's own
    # ansible_ssh_common_args names still holds h3's old key: the site's file comes first
    assert old_print in {
        k.fingerprint for keys in hostkeys.read(lab.known_hosts).values() for k in keys
    }
    code, result = check(data, "changed")
    assert code == 0 and result["ok"], result
    # and a real run over SSH (the bundle's preflight checks, as --action check runs them)
    r = run_cli(data, "run", "changed", "demo-platform@1.0.0", "--action", "check")
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr)
    envvars = list((data / "runs").rglob("env/envvars"))  # what the run's Ansible got
    assert envvars, list((data / "runs").rglob("*"))
    for path in envvars:
        text = path.read_text()
        assert str(known_hosts) in text and "StrictHostKeyChecking=yes" in text, text


def test_http_accept_with_the_fingerprint_seen(api, lab: SshLab) -> None:
    """The window's route: the fingerprint the engineer saw goes along; another is refused."""
    assert api.post("/api/sites", site_spec(lab, "http-keys")).status == 201
    new_print = fingerprint(lab.hosts[2])
    reply = api.post(
        "/api/sites/http-keys/host-keys", {"hosts": ["h3"], "fingerprints": {"h3": "SHA256:x"}}
    )
    assert reply.status == 409 and new_print in reply.json()["error"], reply.body
    assert api.get("/api/sites/http-keys/host-keys").json()["hosts"][2]["keys"] == []
    reply = api.post(
        "/api/sites/http-keys/host-keys", {"hosts": ["h3"], "fingerprints": {"h3": new_print}}
    )
    assert reply.status == 200, reply.body
    listed = {
        h["host"]: h["keys"] for h in api.get("/api/sites/http-keys/host-keys").json()["hosts"]
    }
    assert listed["h3"] == [{"type": "ED25519", "fingerprint": new_print}]
    assert listed["h1"] == [] and listed["h2"] == []
    for body in ({"hosts": "h1"}, {"hosts": ["h9"]}, {"replace": "yes"}, {"other": 1}):
        reply = api.post("/api/sites/http-keys/host-keys", body)
        assert reply.status == 400 and reply.json()["hint"], (body, reply.body)


def test_the_window_accepts_and_replaces_keys_in_the_host_check(
    browser, server, api, ctx, lab: SshLab, changed_key: SshHost
) -> None:
    """At 1366x768: the host check shows every key; Accept trusts a new one, Replace (after a
    confirmation naming both fingerprints) a changed one; the check then finds every host."""
    site = api.post("/api/sites", site_spec(lab, "window")).json()
    assert api.request("PUT", "/api/sites/window/credentials", {"ssh_key": lab.key_text}).status
    known_hosts = trust_lab(ctx.paths.root, site["id"], lab)  # h3's is its old key now
    entries = hostkeys.read(known_hosts)
    del entries[lab.hosts[0].address]  # h1 and h2 never seen
    del entries[lab.hosts[1].address]
    hostkeys.write(known_hosts, entries)
    old_print = entries[changed_key.address][0].fingerprint
    prints = {h.name: fingerprint(h) for h in lab.hosts}

    context = browser.new_context(locale="en-US", viewport=LAPTOP)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.login_url)
        page.wait_for_selector("#app-header nav")
        page.goto(f"{server.url}#/sites/{site['id']}")
        page.click("#check-hosts")
        page.wait_for_selector("#check-table", timeout=120_000)
        rows = {h.name: page.locator(f"#check-table tr[data-host='{h.name}']") for h in lab.hosts}
        expect(rows["h1"]).to_contain_text(prints["h1"])
        expect(rows["h1"]).to_contain_text("new: not trusted yet")
        expect(rows["h2"]).to_contain_text("new: not trusted yet")
        expect(rows["h3"]).to_contain_text("CHANGED since it was trusted")
        expect(page.locator("#accept-all-keys")).to_have_text("Accept all new host keys (2)")
        assert_fits(page, "host check with host keys")
        shot(page, "laptop-host-keys")

        page.click("[data-accept='h1']")
        expect(page.locator("#host-key-result")).to_contain_text("h1 is trusted now")
        expect(rows["h1"]).to_contain_text("ED25519", timeout=120_000)
        expect(page.locator("#check-table tr[data-host='h1'] td").nth(2)).to_have_text(
            "Yes", timeout=120_000
        )
        # the new key left, with the site's button (the changed one is never among them)
        expect(page.locator("#accept-all-keys")).to_have_text("Accept all new host keys (1)")
        page.click("#accept-all-keys")
        expect(page.locator("#check-table tr[data-host='h2'] td").nth(2)).to_have_text(
            "Yes", timeout=120_000
        )
        assert rows["h2"].locator("button").count() == 0

        seen: list[str] = []

        def confirm(dialog) -> None:
            seen.append(dialog.message)
            dialog.accept()

        page.on("dialog", confirm)
        page.click("[data-accept='h3']")
        expect(page.locator("#check-verdict")).to_have_text("All hosts are ready.", timeout=120_000)
        assert old_print in seen[0] and prints["h3"] in seen[0], seen
        assert not errors, errors
    finally:
        context.close()
    trusted = hostkeys.read(known_hosts)
    assert [k.fingerprint for k in trusted[changed_key.address]] == [prints["h3"]]
    assert [k.fingerprint for k in trusted[lab.hosts[0].address]] == [prints["h1"]]
