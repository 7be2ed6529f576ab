"""The host-key file and the ssh options, without SSH hosts (tests/remote/test_host_keys.py has
the real ones): fingerprints as ssh-keygen prints them, the comparison, the options quoted for
odd data folders, a site's own ansible_ssh_args kept strict, the file private."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from appliance.jobs.ansible import hostkeys
from appliance.jobs.ansible.hostkeys import HostKey


def new_key(folder: Path, kind: str = "ed25519") -> tuple[HostKey, str]:
    path = folder / f"key-{kind}"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    key_type, blob = path.with_suffix(".pub").read_text().split()[:2]
    printed = subprocess.run(
        ["ssh-keygen", "-lf", str(path.with_suffix(".pub"))], capture_output=True, text=True
    ).stdout.split()
    return HostKey(key_type, blob), printed[1]


def test_fingerprints_and_types_as_ssh_keygen_prints_them(tmp_path: Path) -> None:
    made = {}
    for kind, label in (("ed25519", "ED25519"), ("ecdsa", "ECDSA"), ("rsa", "RSA")):
        key, printed = new_key(tmp_path, kind)
        assert key.fingerprint == printed and key.label == label
        made[kind] = key
    assert hostkeys.preferred([made["rsa"], made["ecdsa"], made["ed25519"]]) == made["ed25519"]
    assert hostkeys.preferred([made["rsa"], made["ecdsa"]]) == made["ecdsa"]


def test_compare(tmp_path: Path) -> None:
    ed, rsa = new_key(tmp_path, "ed25519")[0], new_key(tmp_path, "rsa")[0]
    (tmp_path / "b").mkdir()
    other = new_key(tmp_path / "b", "ed25519")[0]
    assert hostkeys.compare([ed, rsa], []) == "unknown"
    assert hostkeys.compare([ed, rsa], [ed]) == "trusted"
    assert hostkeys.compare([ed, rsa], [rsa]) == "trusted"  # ssh checks the type it knows
    assert hostkeys.compare([other, rsa], [ed]) == "changed"
    assert hostkeys.compare([other], [rsa]) == "changed"  # no trusted type offered any more


def test_file_round_trip_private_and_junk_ignored(tmp_path: Path) -> None:
    key = new_key(tmp_path, "ed25519")[0]
    path = hostkeys.known_hosts_file(tmp_path / "data", 7)
    assert path == tmp_path / "data" / "sites" / "7" / "known_hosts"
    hostkeys.write(path, {"10.0.0.5": [key], hostkeys.host_field("Srv.Example", 2222): [key]})
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    with path.open("a") as out:
        out.write("# a comment\n@cert-authority * ssh-ed25519 AAAA\ngarbage\nx y !!notbase64\n")
    assert hostkeys.read(path) == {"10.0.0.5": [key], "[srv.example]:2222": [key]}
    assert hostkeys.read(tmp_path / "missing") == {}


def test_strict_options_survive_spaces_and_percent(tmp_path: Path) -> None:
    odd = tmp_path / "my data %d" / "known_hosts"
    env = hostkeys.environment(odd)
    args = shlex.split(env["ANSIBLE_SSH_ARGS"])  # as Ansible splits it
    assert args[:5] == ["-C", "-o", "ControlMaster=auto", "-o", "ControlPersist=60s"]
    path = str(odd).replace("%", "%%")
    assert f'UserKnownHostsFile="{path}"' in args
    for option in ("StrictHostKeyChecking=yes", "GlobalKnownHostsFile=/dev/null"):
        assert option in args
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    # ssh itself reads the options so (the path as one file, % unexpanded)
    out = subprocess.run(["ssh", "-G", *args, "host.invalid"], capture_output=True, text=True)
    assert f"userknownhostsfile {odd}" in out.stdout.lower().replace('"', ""), out.stdout


def test_a_sites_own_ssh_args_start_strict() -> None:
    hosts = [
        {"name": "a", "address": "10.0.0.1", "vars": {"ansible_ssh_args": "-o Foo=bar"}},
        {"name": "b", "address": "10.0.0.2", "vars": {}},
    ]
    fixed_hosts, fixed_vars = hostkeys.enforce_vars(hosts, {"ansible_ssh_args": ""}, Path("/k"))
    assert fixed_hosts[0]["vars"]["ansible_ssh_args"].endswith("-o Foo=bar")
    assert "StrictHostKeyChecking=yes" in fixed_hosts[0]["vars"]["ansible_ssh_args"]
    assert "ansible_ssh_args" not in fixed_hosts[1]["vars"]
    assert "StrictHostKeyChecking=yes" in fixed_vars["ansible_ssh_args"]
    assert hosts[0]["vars"]["ansible_ssh_args"] == "-o Foo=bar"  # the caller's dicts untouched


def test_targets_as_the_inventory_gives_them() -> None:
    site: dict = {}
    assert hostkeys.target({"name": "l", "address": "localhost"}, site) is None
    assert hostkeys.target({"name": "r", "address": "10.0.0.1", "port": 2200}, site) == (
        "10.0.0.1",
        2200,
    )
    moved = {"name": "r", "address": "x", "vars": {"ansible_host": "10.0.0.9", "ansible_port": 23}}
    assert hostkeys.target(moved, site) == ("10.0.0.9", 23)
    assert hostkeys.host_field("10.0.0.9", 22) == "10.0.0.9"
    assert hostkeys.host_field("10.0.0.9", 23) == "[10.0.0.9]:23"
