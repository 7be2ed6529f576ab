"""`appliance config show|set|import` through main(argv, env): typed values, passwords from
stdin only, one-line errors naming the field, nothing stored on error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.context import Context
from appliance.store import siteconfig, sites
from tests.runs.conftest import site_spec
from tests.support.cli import run_cli

PASSWORD = "Zq8-cli-Pw-123"


@pytest.fixture
def lab(ctx: Context, import_bundle, tmp_path: Path) -> int:
    import_bundle("conf-platform@1.0.0")
    import_bundle("slow-platform@1.0.0")  # declares no config
    return sites.create_site(ctx.store, sites.parse_site(site_spec("lab", tmp_path / "r", 1)))["id"]


def one_line_error(result, *words: str) -> None:
    assert result.returncode != 0, result.stdout
    first = result.stderr.strip().splitlines()[0]
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in first, result.stderr


def test_show_set_and_import(ctx: Context, data_dir: Path, lab: int, tmp_path: Path) -> None:
    shown = run_cli(data_dir, "config", "show", "lab", "conf-platform")
    assert shown.returncode == 0
    assert "admin_password" in shown.stdout and "is required" in shown.stdout

    done = run_cli(
        data_dir,
        "config",
        "set",
        "lab",
        "conf-platform",
        "web_port=2000",
        "admin_password",
        input=PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout and "********" in done.stdout
    answer = json.loads(
        run_cli(data_dir, "config", "show", "lab", "conf-platform", "--json").stdout
    )
    assert (
        answer["valid"] and {i["name"]: i.get("value") for i in answer["items"]}["web_port"] == 2000
    )

    values = tmp_path / "values.yml"
    values.write_text("log_level: warning\nweb_port: 3000\n")
    assert (
        run_cli(data_dir, "config", "import", "lab", "conf-platform", str(values)).returncode == 0
    )
    plain, secret = siteconfig.stored(lab, "conf-platform")
    assert plain == {"web_port": 3000, "log_level": "warning"} and secret == {"admin_password"}
    reset = run_cli(data_dir, "config", "set", "lab", "conf-platform", "--reset", "web_port")
    assert reset.returncode == 0 and siteconfig.stored(lab, "conf-platform")[0] == {
        "log_level": "warning"
    }


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (["admin_password=" + PASSWORD], None, ["admin_password is a password", "command line"]),
        (["web_port=eighty"], None, ["web_port must be a whole number"]),
        (["web_port=80"], None, ["web_port must be at least 1024"]),
        (["log_level=trace"], None, ["log_level must be one of"]),
        (["colour=red"], None, ["colour is not declared"]),
        (["web_port=2000", "admin_password"], "short\n", ["admin_password must be at least 8"]),
        (["admin_password"], "", ["expected a line on stdin"]),
        (["label=bad\udcff"], None, ["label is not declared"]),
        (["web_port"], None, ["is not KEY=VALUE"]),
    ],
)
def test_bad_input_one_line_nothing_stored(
    data_dir: Path, lab: int, args: list[str], stdin: str | None, words: list[str]
) -> None:
    result = run_cli(data_dir, "config", "set", "lab", "conf-platform", *args, input=stdin)
    one_line_error(result, *words)
    assert siteconfig.stored(lab, "conf-platform") == ({}, set())


def test_bad_files_and_bundles(data_dir: Path, lab: int, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    for content, words in (
        (b"web_port: .nan\n", ["web_port must be a whole number, not NaN"]),
        (b"log_level: [a\n", ["not valid YAML"]),
        (b"- a\n", ["must be a mapping"]),
        (b"log_level: \xff\n", ["not UTF-8"]),
        (b"motd: " + b"x" * 2000 + b"\n", ["motd is not declared"]),
    ):
        bad.write_bytes(content)
        one_line_error(
            run_cli(data_dir, "config", "import", "lab", "conf-platform", str(bad)), *words
        )
    one_line_error(
        run_cli(data_dir, "config", "set", "lab", "slow-platform", "x=1"),
        "declares no configuration",
    )
    one_line_error(run_cli(data_dir, "config", "show", "lab", "nothing"), "no bundle")
    assert siteconfig.stored(lab, "conf-platform") == ({}, set())


def test_version_option_and_non_utf8_argument(data_dir: Path, lab: int, import_bundle) -> None:
    import_bundle("conf-platform@1.1.0")
    args = ("config", "set", "lab", "conf-platform@1.1.0")
    # argv bytes that are not UTF-8 reach Python as lone surrogates
    one_line_error(run_cli(data_dir, *args, "region=bad\udcff"), "region is not UTF-8 text")
    assert siteconfig.stored(lab, "conf-platform") == ({}, set())
    assert run_cli(data_dir, *args, "region=north").returncode == 0
    shown = json.loads(
        run_cli(data_dir, "config", "show", "lab", "conf-platform@1.1.0", "--json").stdout
    )
    assert shown["version"] == "1.1.0"
    assert {i["name"]: i.get("value") for i in shown["items"]}["region"] == "north"
