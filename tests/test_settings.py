"""Settings: one declaration, merged in one place, validated with a hint, all documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from appliance.errors import ConfigError
from appliance.settings import SETTINGS, load_settings

REPO = Path(__file__).resolve().parents[1]


def test_precedence_defaults_file_env_cli(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"port": 1111, "max_streams": 5}))
    s = load_settings(cli={"data_dir": str(tmp_path)}, env={})
    assert (s.port, s.max_streams, s.host) == (1111, 5, "127.0.0.1")
    s = load_settings(cli={"data_dir": str(tmp_path)}, env={"APPLIANCE_PORT": "2222"})
    assert (s.port, s.max_streams) == (2222, 5)
    s = load_settings(cli={"data_dir": str(tmp_path), "port": 3333}, env={"APPLIANCE_PORT": "2222"})
    assert s.port == 3333


def test_data_dir_from_env(tmp_path: Path) -> None:
    s = load_settings(env={"APPLIANCE_DATA_DIR": str(tmp_path / "d")})
    assert s.data_path == (tmp_path / "d").resolve()


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"APPLIANCE_PORT": "eighty"}, "not a valid int"),
        ({"APPLIANCE_PORT": "70000"}, "out of range"),
        ({"APPLIANCE_SERVER_THREADS": "4"}, "at least 32"),
        ({"APPLIANCE_LOG_LEVEL": "loud"}, "DEBUG"),
    ],
)
def test_bad_values_say_how_to_fix(tmp_path: Path, env: dict, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(cli={"data_dir": str(tmp_path)}, env=env)
    assert words in err.value.message + err.value.hint


def test_unknown_setting_in_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"colour": "blue"}')
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(cli={"data_dir": str(tmp_path)}, env={})


def test_every_setting_is_documented() -> None:
    doc = (REPO / "docs" / "settings.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)` \|", doc, re.M))
    assert documented == {s.name for s in SETTINGS}
    for s in SETTINGS:
        assert s.env in doc, f"{s.env} missing from docs/settings.md"
