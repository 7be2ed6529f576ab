"""Inventory import (INI, YAML) and export (INI), checked against Ansible's own parser."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from appliance.errors import BadRequest
from appliance.jobs.sites import inventory_io
from appliance.store import sites

INI = """
# a customer inventory
[all:vars]
install_root=/opt/demo
ansible_python_interpreter=/usr/bin/python3

[db]
db1 ansible_host=10.0.0.11 ansible_port=2222 app_port=18081 primary=True
db2 ansible_host=10.0.0.12 app_port=18082

[web]
web[01:02] ansible_user=deploy

[platform:children]
db
web

[platform:vars]
tier=gold
app_port=18080

[db:vars]
tier=silver
"""

YAML = """
all:
  vars:
    install_root: /opt/demo
  children:
    platform:
      vars: {tier: gold}
      children:
        db:
          hosts:
            db1: {ansible_host: 10.0.0.11, ansible_port: 2222, app_port: 18081}
            db2: {ansible_host: 10.0.0.12}
          vars: {tier: silver}
        web:
          hosts:
            web1: {ansible_host: 10.0.0.21, ansible_user: deploy, opts: {a: [1, 2]}}
"""


def ansible_view(path: Path) -> dict[str, tuple[list[str], dict]]:
    """What Ansible itself makes of an inventory file: per host, groups and merged vars."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    inv = InventoryManager(loader=loader, sources=[str(path)])
    var_manager = VariableManager(loader=loader, inventory=inv)
    view = {}
    for host in inv.get_hosts():
        hv = var_manager.get_vars(host=host, include_hostvars=False)
        keep = {
            k: v
            for k, v in hv.items()
            if not k.startswith(("ansible_play", "group_names", "groups", "inventory_", "omit"))
            and k not in ("playbook_dir", "ansible_version", "ansible_config_file", "ansible_facts")
            and not k.startswith("ansible_check_mode")
            and k
            not in (
                "ansible_diff_mode",
                "ansible_forks",
                "ansible_inventory_sources",
                "ansible_skip_tags",
                "ansible_run_tags",
                "ansible_verbosity",
            )
        }
        keep.setdefault("ansible_host", host.name)  # the address defaults to the name
        view[host.name] = (sorted(hv["group_names"]), keep)
    return view


def site_view(site: dict) -> dict[str, tuple[list[str], dict]]:
    view = {}
    for h in site["hosts"]:
        merged = {**site["vars"], **h["vars"], "ansible_host": h["address"]}
        if h["port"] != 22:
            merged["ansible_port"] = h["port"]
        if h["user"]:
            merged["ansible_user"] = h["user"]
        view[h["name"]] = (sorted(h["groups"]), merged)
    return view


def test_ini_import_matches_ansible(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text(INI)
    site = sites.parse_site(inventory_io.import_inventory("s", "ini", INI))
    by_name = {h["name"]: h for h in site["hosts"]}
    assert sorted(by_name) == ["db1", "db2", "web01", "web02"]
    assert by_name["db1"]["port"] == 2222 and by_name["db1"]["address"] == "10.0.0.11"
    assert by_name["db1"]["vars"]["primary"] is True  # host line: Python literal
    assert by_name["db2"]["vars"]["app_port"] == 18082
    assert by_name["web01"]["vars"]["app_port"] == 18080  # group vars: literals too (2.19)
    assert by_name["db1"]["vars"]["tier"] == "silver"  # child group wins over parent
    assert by_name["web02"]["user"] == "deploy"
    assert by_name["web01"]["groups"] == ["web", "platform"]
    assert site["vars"]["install_root"] == "/opt/demo"
    assert site_view(site) == ansible_view(path)


def test_yaml_import_and_ini_export_round_trip(tmp_path: Path) -> None:
    yml = tmp_path / "hosts.yml"
    yml.write_text(YAML)
    site = sites.parse_site(inventory_io.import_inventory("s", "yaml", YAML))
    site["vars"].update({"n": 3, "text": " padded ", "multi": "a\nb", "word": "True"})
    assert {k: v for k, v in site_view(site).items()} != {}
    exported = inventory_io.export_ini({**site, "installed": {}})
    ini = tmp_path / "exported.ini"
    ini.write_text(exported)
    assert ansible_view(ini) == site_view(site)
    again = sites.parse_site(inventory_io.import_inventory("s", "ini", exported))
    assert site_view(again) == site_view(site)


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        ("ini", "[web\nhost1\n", "bad section header"),
        ("ini", "[web]\nh1 ansible_host=10.0.0.1\nh1\n", "listed twice in group 'web'"),
        ("ini", "[a]\nh1 x=1\n[b]\nh1 x=2\n", "defined twice with different variables"),
        ("ini", "[a:children]\nnope\n", "'nope' in [a:children] is not defined"),
        ("ini", "[a]\nh1\n[b:vars]\nx=1\n", "[b:vars] names a group that is not defined"),
        ("ini", "[a]\nh1 ansible_port=70000\n", "invalid port 70000"),
        ("ini", "[a]\nh1:http\n", "invalid port 'http'"),
        ("ini", "[a]\nh1 novalue\n", "expected key=value"),
        ("ini", "[a]\nh1 ansible_password=x\n", "password in the inventory"),
        ("ini", "[a]\nh1 ansible_host=10.0.0.1\nh2 ansible_host=10.0.0.1\n", "are both"),
        ("ini", "   \n", "empty"),
        ("yaml", "all:\n  hosts:\n    h1:\n    h1:\n", "appears twice"),
        ("yaml", "all: [h1, h2]\n", "must be a mapping"),
        ("ini", "".join(f"[g{i}]\nh[0:999]\n" for i in range(101)), "host entries"),
        ("yaml", "all:\n  hosts: {h1: {ansible_port: -1}}\n", "invalid port -1"),
        ("yaml", "all:\n  hosts:\n    h1: {a: 1\n", "not valid YAML"),
        ("yaml", "all:\n  hosts: {h1: }\n  vars: {p: !vault |\n    $ANSIBLE\n}", "vault"),
        ("yaml", "all:\n  hosts: {h1: }\n  groups: {}\n", "unknown key"),
        ("toml", "x", "unknown inventory format"),
    ],
)
def test_bad_inventories_refused(fmt: str, text: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        inventory_io.import_inventory("s", fmt, text)
    assert message in caught.value.message, caught.value.message
    assert caught.value.hint


def _laughs(levels: int) -> str:
    lines = ["all:", "  vars:", "    l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        ("ini", "[web]\nh[0:99999999999]\n", "more than 9 digits"),
        ("ini", "[web]\nh[0:" + "9" * 5000 + "]\n", "more than 9 digits"),
        ("ini", "[web]\nh[0:1000]\n", "gives more than 1000 hosts"),
        ("ini", "[web]\nh[0:999][0:999]\n", "gives more than 1000 hosts"),
        ("ini", "[web]\nh[1:5:0]\n", "stride of 0"),
        ("ini", "[web]\nh[5:1]\n", "gives 0 hosts"),
        ("ini", "[web]\nh[0:1:99999999999]\n", "more than 9 digits"),
        ("ini", "[web]\nh[1:2]x]\n", "bad host pattern"),
        ("ini", "[a]\nh[0:599]\n[b]\ng[0:599]\n", "more than 1000 hosts"),
        (
            "ini",
            "".join(f"[g{i}:children]\ng{i + 1}\n[g{i + 1}]\n" for i in range(100, 0, -1))
            + "[g1]\nh1\n",
            "deeper than 64",
        ),
        ("yaml", "all:\n  vars:\n    x: " + "[" * 10_000 + "]" * 10_000 + "\n", "deeper than 64"),
        ("yaml", _laughs(9), "expands to more than"),
    ],
)
def test_oversized_inventories_refused_before_building(fmt: str, text: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(BadRequest) as caught:
        inventory_io.import_inventory("s", fmt, text)
    assert time.monotonic() - started < 1.0
    assert message in caught.value.message, caught.value.message
    tracemalloc.start()  # again, measured (tracing makes it several times slower)
    try:
        with pytest.raises(BadRequest):
            inventory_io.import_inventory("s", fmt, text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024


def test_ranges_still_expand() -> None:
    site = inventory_io.import_inventory("s", "ini", "[web]\nw[01:03:2]-[a:b]\n")
    assert [h["name"] for h in site["hosts"]] == ["w01-a", "w01-b", "w03-a", "w03-b"]
    site = inventory_io.import_inventory("s", "ini", "[web]\nh[0:999]\n")
    assert len(site["hosts"]) == 1000


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        ("yaml", "all:\n  hosts:\n    h1: {x: .inf}\n", "not a finite number"),
        ("yaml", "all:\n  hosts:\n    h1: {x: .nan}\n", "not a finite number"),
        ("yaml", "all:\n  vars: {x: 99999999999999999999}\n  hosts: {h1: }\n", "outside"),
        ("ini", "[a]\nh1 x=1e999\n", "not a finite number"),
        ("ini", "[a]\nh1 x={1,2}\n", "a set, which JSON cannot hold"),
    ],
)
def test_values_json_cannot_hold_refused(fmt: str, text: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        sites.parse_site(inventory_io.import_inventory("s", fmt, text))
    assert message in caught.value.message, caught.value.message


def test_yaml_dates_stay_text() -> None:
    site = inventory_io.import_inventory("s", "yaml", "all:\n  hosts:\n    h1: {d: 2024-01-02}\n")
    assert sites.parse_site(site)["hosts"][0]["vars"] == {"d": "2024-01-02"}
