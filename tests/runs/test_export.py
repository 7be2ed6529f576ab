"""`appliance export`: a run's plan, the bundle, the site's inventory and values as an
ansible-runner private data folder. The exported install, run by the plain `ansible-runner`
command line, installs what a run through the appliance installs, with the same recap."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.context import Context
from appliance.store import bundles as bundle_rows
from appliance.store import credential_key, credentials, sites
from appliance.store import runs as rows
from tests.runs.conftest import LocalSite, site_spec
from tests.support.local import free_port, kill_everything_under
from tests.support.processes import run_cli

ANSIBLE_RUNNER = Path(sys.executable).parent / "ansible-runner"
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
RECAP_LINE = re.compile(r"^(\S+)\s*:\s*((?:[a-z]+=\d+\s*)+)$")
PASSWORD = "s3cret-Pa55word-for-export"
HOST_PASSWORD = "host-Pa55word-for-export"


def cli_ok(data: Path, *args: str) -> str:
    proc = run_cli(data, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def recaps(text: str) -> list[dict[str, dict[str, int]]]:
    """Every PLAY RECAP of an Ansible output: host -> {ok, changed, unreachable, failed, ...}."""
    found = []
    for block in ANSI_RE.sub("", text).split("PLAY RECAP")[1:]:
        hosts: dict[str, dict[str, int]] = {}
        for line in block.splitlines()[1:]:
            match = RECAP_LINE.match(line.strip())
            if not match:
                break
            hosts[match.group(1)] = {
                k: int(v) for k, v in (pair.split("=") for pair in match.group(2).split())
            }
        assert hosts, block[:500]
        found.append(hosts)
    return found


def summed(blocks: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    total: dict[str, dict[str, int]] = {}
    for block in blocks:
        for host, counts in block.items():
            into = total.setdefault(host, dict.fromkeys(counts, 0))
            for k, v in counts.items():
                into[k] += v
    return total


def runner_stats(artifacts: Path) -> dict[str, dict[str, int]]:
    """The playbook_on_stats event ansible-runner stored, in the recap's words."""
    words = {"ok": "ok", "changed": "changed", "dark": "unreachable", "failures": "failed"}
    words |= {"skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}
    for path in (artifacts / "job_events").glob("*.json"):
        event = json.loads(path.read_text())
        if event["event"] == "playbook_on_stats":
            data = event["event_data"]
            hosts = set(data["processed"])
            return {h: {w: data[k].get(h, 0) for k, w in words.items()} for h in hosts}
    raise AssertionError(f"no playbook_on_stats in {artifacts}")


def installed_tree(root: Path, port: int) -> dict[str, Any]:
    """What the demo platform put on disk, with this site's own root and port written out."""

    def text(path: Path) -> str:
        return path.read_text().replace(str(root), "<root>").replace(str(port), "<port>")

    tree: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        mode = oct(path.lstat().st_mode & 0o777)
        if path.is_symlink():
            tree[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            tree[rel] = ("dir", mode)
        elif rel == "data/demo.db":
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                tree[rel] = ("db", mode, list(con.iterdump()))
            finally:
                con.close()
        elif rel.startswith(("logs/", "run/")):  # times and pids
            tree[rel] = ("file", mode)
        else:
            tree[rel] = ("file", mode, text(path))
    return tree


def runner_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "APPLIANCE_"))}
    env["PATH"] = f"{ANSIBLE_RUNNER.parent}{os.pathsep}{env.get('PATH', os.defpath)}"
    return env


def ansible_runner(folder: Path, playbook: str, ident: str, *extra: str) -> str:
    proc = subprocess.run(
        [str(ANSIBLE_RUNNER), "run", str(folder), "-p", playbook, "--ident", ident, *extra],
        env=runner_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return (folder / "artifacts" / ident / "stdout").read_text()


@pytest.fixture
def two_sites(tmp_path: Path, data_dir: Path, built_bundles: dict[str, Path]):
    cli_ok(data_dir, "bundle", "import", str(built_bundles["demo-platform@1.0.0"]))
    made = []
    for name in ("lab", "far"):
        site = LocalSite(name, tmp_path / f"root-{name}", free_port())
        cli_ok(
            data_dir,
            *("site", "add", name, "--host", "local=localhost"),
            *("--var", f"install_root={site.root}", "--var", f"app_port={site.port}"),
        )
        made.append(site)
    yield made
    for site in made:
        kill_everything_under(site.root)


@pytest.mark.slow
def test_exported_install_on_ansible_runner_matches_the_appliance(
    tmp_path: Path, data_dir: Path, two_sites: list[LocalSite]
) -> None:
    lab, far = two_sites
    out = tmp_path / "export"
    exported = json.loads(
        cli_ok(data_dir, "export", "far", "demo-platform@1.0.0", "-o", str(out), "--json")
    )
    planned = json.loads(cli_ok(data_dir, "run", "far", "demo-platform@1.0.0", "--plan", "--json"))
    assert exported["plan"] == planned["plan"]  # the run engine's own plan
    assert [s["name"] for s in exported["plan"]] == ["preflight", "db", "config", "app", "verify"]
    assert (exported["action"], exported["playbook"]) == ("install", "appliance-install.yml")

    # through the appliance, on lab
    cli_ok(data_dir, "run", "lab", "demo-platform@1.0.0")
    appliance_recaps = recaps(cli_ok(data_dir, "log", "1"))
    assert len(appliance_recaps) == 5  # one ansible-runner invocation per step

    # the export, on far, with the plain ansible-runner command line
    stdout = ansible_runner(out, "appliance-install.yml", "install")
    [export_recap] = recaps(stdout)  # one playbook importing the steps
    assert export_recap == summed(appliance_recaps)
    assert runner_stats(out / "artifacts" / "install") == export_recap
    counts = export_recap["local"]
    assert counts["ok"] > 20 and counts["changed"] > 0
    assert counts["failed"] == counts["unreachable"] == 0

    # the same installation: files, links, modes, the database; both apps answer
    tree = installed_tree(lab.root, lab.port)
    assert {"app/1.0.0/demo_app.py", "etc/app.ini", "data/demo.db"} <= set(tree)
    assert installed_tree(far.root, far.port) == tree
    assert (far.root / "app" / "current").readlink() == Path("1.0.0")
    assert (far.health()["version"], lab.health()["version"]) == ("1.0.0", "1.0.0")

    # one step alone by its tag: the verify step, as the appliance's fifth invocation counted it
    again = ansible_runner(out, "appliance-install.yml", "verify", "--cmdline", "--tags step-5")
    assert "app 1.0.0 healthy on schema 1" in again
    assert recaps(again) == [appliance_recaps[4]]


@pytest.fixture
def lab(ctx: Context, tmp_path: Path, import_bundle) -> dict:
    for ref in ("demo-platform@1.0.0", "demo-platform@1.1.0", "demo-platform@1.2.0"):
        import_bundle(ref)
    return sites.create_site(
        ctx.store, sites.parse_site(site_spec("lab", tmp_path / "root", free_port()))
    )


def record_installed(
    ctx: Context, site_id: int, bundle_version: str, app: str, db: str = "2"
) -> None:
    record = {
        c: {"version": v, "bundle_name": "demo-platform", "bundle_version": bundle_version}
        for c, v in {"db": db, "config": "1.0.0", "app": app}.items()
    }
    ctx.store.write(rows.record_installed, site_id, None, record, ctx.store.now())


def test_bad_input_is_one_line_and_writes_nothing(
    ctx: Context, data_dir: Path, tmp_path: Path, lab: dict
) -> None:
    place = tmp_path / "exports"
    place.mkdir()
    out = place / "new" / "out"

    def refused(*args: str, where: Path = out) -> str:
        before = sorted(p.name for p in place.rglob("*"))
        proc = run_cli(data_dir, "export", *args, "-o", str(where))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("appliance: error: ") and "(hint: " in proc.stderr
        assert sorted(p.name for p in place.rglob("*")) == before  # not even a temporary folder
        return proc.stderr

    assert not (place / "new").exists()
    assert "no site 'nowhere'" in refused("nowhere", "demo-platform@1.0.0")
    assert "no bundle nothing 1.0.0" in refused("lab", "nothing@1.0.0")
    assert "1.0.0, 1.1.0, 1.2.0" in refused("lab", "demo-platform@9.9")
    assert "BUNDLE@VERSION" in refused("lab", "demo-platform")
    assert "invalid choice: 'check'" in refused("lab", "demo-platform@1.0.0", "--action", "check")
    err = refused("lab", "demo-platform@1.1.0", "--action", "upgrade")
    assert "nothing of demo-platform is installed on the site" in err and "install" in err

    record_installed(ctx, lab["id"], "1.1.0", "1.1.0")
    err = refused("lab", "demo-platform@1.1.0", "--action", "install")
    assert "demo-platform 1.1.0 is installed on the site already" in err
    assert "cannot upgrade an existing installation" in refused("lab", "demo-platform@1.0.0")
    record_installed(ctx, lab["id"], "0.9.0", "0.9.0")
    err = refused("lab", "demo-platform@1.2.0", "--action", "upgrade")
    assert "upgrades only from '1.0.*', '1.1.*', not from 0.9.0" in err
    assert not (place / "new").exists()

    # an existing folder with something in it is left alone; an empty one is filled
    record_installed(ctx, lab["id"], "1.0.0", "1.0.0", db="1")
    (place / "full").mkdir()
    (place / "full" / "keep.txt").write_text("mine")
    assert "is not empty" in refused("lab", "demo-platform@1.1.0", where=place / "full")
    assert [p.name for p in (place / "full").iterdir()] == ["keep.txt"]
    (place / "file").write_text("x")
    assert "is not a folder" in refused("lab", "demo-platform@1.1.0", where=place / "file")
    (place / "empty").mkdir()
    cli_ok(data_dir, "export", "lab", "demo-platform@1.1.0", "-o", str(place / "empty"))
    assert (place / "empty" / "project" / "appliance-upgrade.yml").is_file()
    assert rows.list_runs() == []  # planning stored nothing


def test_export_contents_and_no_secrets(ctx: Context, data_dir: Path, tmp_path: Path, lab) -> None:
    """Values become extra vars; connection settings and values a host overrides stay in the
    inventory; passwords (credentials and password variables) go nowhere."""
    spec = site_spec("remote", Path("/opt/demo"), 18080, ansible_user="deploy", region="eu")
    spec["vars"]["ansible_become_password"] = PASSWORD
    spec["hosts"] = [
        {"name": "db1", "address": "10.0.0.5", "groups": ["db"], "vars": {"region": "us"}},
        {
            "name": "app1",
            "address": "10.0.0.6",
            "port": 2222,
            "vars": {"ansible_password": HOST_PASSWORD},
        },
    ]
    site = sites.create_site(ctx.store, sites.parse_site(spec))
    key = credential_key.load_or_create_key(ctx.paths.root, source="file")
    values = credentials.parse_secrets({"password": PASSWORD + "-ssh"})
    credentials.set_credentials(ctx.store, key, site["id"], values)
    record_installed(ctx, site["id"], "1.0.0", "1.0.0", db="1")

    out = tmp_path / "remote-export"
    said = cli_ok(data_dir, "export", "remote", "demo-platform@1.1.0", "-o", str(out))
    assert f"ansible-runner run {out} -p appliance-upgrade.yml" in said

    text = (out / "project" / "appliance-upgrade.yml").read_text()
    assert re.search(r"(?m)^\s*?-?\s*?(?:hosts|include|import_playbook):", text)  # AWX lists it
    plan = yaml.safe_load(text)
    assert [(p["import_playbook"], p["tags"]) for p in plan] == [
        ("playbooks/preflight.yml", ["step-1"]),
        ("playbooks/backup.yml", ["step-2"]),
        ("playbooks/db.yml", ["step-3"]),
        ("playbooks/app.yml", ["step-4"]),
        ("playbooks/verify.yml", ["step-5"]),
    ]
    extravars = yaml.safe_load((out / "env" / "extravars").read_text())
    assert extravars.pop("backup_id").startswith("export-")
    assert extravars == {
        "install_root": "/opt/demo",
        "app_port": 18080,
        "log_level": "info",  # the default of the bundle's declared config item
        "bundle_name": "demo-platform",
        "bundle_version": "1.1.0",
        "component_versions": {"db": "2", "config": "1.0.0", "app": "1.1.0"},
    }
    inventory = yaml.safe_load((out / "inventory" / "hosts.yml").read_text())
    assert inventory["all"]["vars"] == {"ansible_user": "deploy", "region": "eu"}
    assert inventory["all"]["hosts"] == {
        "db1": {"ansible_host": "10.0.0.5", "ansible_port": 22, "region": "us"},
        "app1": {"ansible_host": "10.0.0.6", "ansible_port": 2222},
    }
    assert inventory["all"]["children"] == {"db": {"hosts": {"db1": None}}}

    # the project is the bundle's files exactly, plus the plan
    bundle = Path(bundle_rows.find_bundle("demo-platform", "1.1.0").path)
    shipped = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    project = {
        p.relative_to(out / "project").as_posix()
        for p in (out / "project").rglob("*")
        if p.is_file()
    }
    assert project == (shipped - {".bundle-meta.json"}) | {"appliance-upgrade.yml"}
    for name in shipped - {".bundle-meta.json"}:
        assert (out / "project" / name).read_bytes() == (bundle / name).read_bytes()

    everything = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert PASSWORD.encode() not in everything and HOST_PASSWORD.encode() not in everything
    note = (out / "README.md").read_text()
    assert "an SSH password" in note and "Machine credential" in note
    assert "`ansible_become_password`, `ansible_password`" in note
