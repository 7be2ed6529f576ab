"""The command line as a user runs it: output, exit codes, one-line errors. In this process
through main(argv, env); --version and a bad setting also as a real process (the entry point)."""

from __future__ import annotations

import json
from pathlib import Path

from appliance import __version__
from tests.support import processes
from tests.support.cli import run_cli


def test_version(data_dir: Path) -> None:
    for run in (run_cli, processes.run_cli):
        result = run(data_dir, "--version")
        assert result.returncode == 0
        assert result.stdout.strip() == f"appliance {__version__}"


def test_help_lists_commands(data_dir: Path) -> None:
    result = run_cli(data_dir, "--help")
    assert result.returncode == 0
    for word in ("serve", "site", "--data-dir"):
        assert word in result.stdout


def test_site_add_list_show(data_dir: Path) -> None:
    add = run_cli(
        data_dir,
        "site",
        "add",
        "acme",
        "--host",
        "db1=10.0.0.5",
        "--host",
        "app1=10.0.0.6:2222",
        "--user",
        "deploy",
        "--group",
        "prod",
        "--var",
        "install_root=/opt/acme",
    )
    assert add.returncode == 0, add.stderr
    assert "site acme created" in add.stdout
    listed = json.loads(run_cli(data_dir, "site", "list", "--json").stdout)
    assert [s["name"] for s in listed] == ["acme"]
    site = json.loads(run_cli(data_dir, "site", "show", "acme", "--json").stdout)
    assert site["vars"] == {"install_root": "/opt/acme"}
    assert site["hosts"][1] == {
        "name": "app1",
        "address": "10.0.0.6",
        "port": 2222,
        "user": "deploy",
        "groups": ["prod"],
        "vars": {},
    }
    table = run_cli(data_dir, "site", "show", "acme")
    assert "db1" in table.stdout and "10.0.0.5" in table.stdout


def test_data_dir_option_before_the_command(tmp_path: Path, data_dir: Path) -> None:
    other = tmp_path / "other"
    assert run_cli(data_dir, "--data-dir", str(other), "site", "add", "x").returncode == 0
    assert (other / "appliance.db").exists()
    assert json.loads(run_cli(data_dir, "site", "list", "--json").stdout) == []


def _one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "hint:" in lines[0]
    return lines[0]


def test_bad_input_is_one_line_and_exit_2(data_dir: Path) -> None:
    for args in (
        ["site", "add", "bad name!"],
        ["site", "add", "x", "--host", "nohost"],
        ["site", "add", "x", "--host", "h=a:port"],
        ["site", "show", "missing"],
        ["no-such-command"],
        ["site"],
    ):
        result = run_cli(data_dir, *args)
        assert result.returncode == 2, (args, result.stderr)
        _one_line_error(result)
    assert json.loads(run_cli(data_dir, "site", "list", "--json").stdout) == []


def test_duplicate_site_is_refused(data_dir: Path) -> None:
    assert run_cli(data_dir, "site", "add", "twice").returncode == 0
    result = run_cli(data_dir, "site", "add", "twice")
    assert result.returncode == 2
    assert "exists" in _one_line_error(result)


def test_bad_setting_is_one_line(data_dir: Path) -> None:
    for run in (run_cli, processes.run_cli):
        result = run(data_dir, "site", "list", APPLIANCE_PORT="eighty")
        assert result.returncode == 2
        assert "APPLIANCE_PORT" in _one_line_error(result)
