"""Every setting declared once, with its default, type and help.

Values merge in one place, lowest first: defaults, ``<data-dir>/config.json``, environment
(``APPLIANCE_<NAME>``), command line. Validation happens at start-up with an error that says
how to fix it. docs/settings.md documents each setting (a test keeps it true).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from appliance.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: Callable[[Any], Any]
    help: str
    check: Callable[[Any], bool] = lambda value: True
    check_hint: str = ""

    @property
    def env(self) -> str:
        return "APPLIANCE_" + self.name.upper()


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        None,
        str,
        "Folder holding the database, bundles, runs and logs "
        "(default: the platform's user data folder).",
    ),
    Setting(
        "host",
        "127.0.0.1",
        str,
        "Address the local server binds to.",
        lambda v: bool(v),
        "give an address such as 127.0.0.1",
    ),
    Setting(
        "port",
        0,
        int,
        "Port of the local server; 0 picks a free one.",
        lambda v: 0 <= v <= 65535,
        "use 0..65535",
    ),
    Setting(
        "server_threads",
        48,
        int,
        "Worker threads of the HTTP server (streams hold one each).",
        lambda v: v >= 32,
        "use at least 32 so streams never starve API calls",
    ),
    Setting(
        "max_streams",
        32,
        int,
        "Log/event streams open at once; more get 503 with a hint.",
        lambda v: v >= 1,
        "use at least 1",
    ),
    Setting(
        "max_body_bytes",
        1024 * 1024,
        int,
        "Largest JSON request body accepted.",
        lambda v: v >= 1024,
        "use at least 1024",
    ),
    Setting(
        "bundle_max_bytes",
        4 * 1024**3,
        int,
        "Largest total unpacked size of a bundle.",
        lambda v: v > 0,
        "use a positive number of bytes",
    ),
    Setting(
        "bundle_max_ratio",
        200,
        int,
        "Largest unpacked/packed size ratio of a bundle (guards against archive bombs).",
        lambda v: v >= 1,
        "use at least 1",
    ),
    Setting(
        "log_level",
        "INFO",
        str.upper,
        "Level of logs/appliance.log.",
        lambda v: v in {"DEBUG", "INFO", "WARNING", "ERROR"},
        "use DEBUG, INFO, WARNING or ERROR",
    ),
    Setting("open_browser", True, _bool, "Open the default browser when no window can start."),
    Setting(
        "allow_remote",
        False,
        _bool,
        "Let the server bind to an address other than loopback (others on that network reach "
        "its login page; the token still guards every call). Prefer an SSH tunnel.",
    ),
    Setting(
        "keep_runs_per_site",
        100,
        int,
        "Retention: the events and log of each site's newest N finished runs are always kept.",
        lambda v: v >= 1,
        "use at least 1",
    ),
    Setting(
        "keep_days",
        90,
        int,
        "Retention: the events and log of a run that finished less than this many days ago are "
        "always kept. Older runs beyond keep_runs_per_site keep their summary, steps, per-host "
        "results and report only.",
        lambda v: v >= 0,
        "use 0 or more days",
    ),
    Setting(
        "status_refresh_minutes",
        15,
        int,
        "Day two: a serving appliance refreshes every site's status this often (0: only after "
        "runs and on demand).",
        lambda v: v >= 0,
        "use 0 (off) or more minutes",
    ),
    Setting(
        "status_timeout_seconds",
        15,
        int,
        "Day two: a status refresh's connection and task timeout per host; a status playbook "
        "still running after four times this is stopped.",
        lambda v: 1 <= v <= 600,
        "use 1..600 seconds",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, **changes: Any) -> Settings:
        return load_settings(cli=changes, base=self.values)

    @property
    def data_path(self) -> Path:
        return Path(self.values["data_dir"])


def default_data_dir() -> str:
    return platformdirs.user_data_dir("appliance", appauthor=False)


def _convert(setting: Setting, raw: Any, source: str) -> Any:
    try:
        value = setting.type(raw)
    except (TypeError, ValueError) as e:
        raise ConfigError(
            f"setting {setting.name}={raw!r} from {source} is not a valid {setting.type.__name__}",
            f"{setting.help} Fix {source}.",
        ) from e
    if not setting.check(value):
        raise ConfigError(
            f"setting {setting.name}={value!r} from {source} is out of range",
            f"{setting.check_hint or setting.help}; fix {source}.",
        )
    return value


def load_settings(
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    base: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge defaults, config file, environment and command line (None means 'not given')."""
    env = os.environ if env is None else env
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    if base:
        values.update(base)
    given = cli.get("data_dir")
    if given is not None and (not str(given).strip() or "\0" in str(given)):
        raise ConfigError(
            f"--data-dir {str(given)[:60]!r} is not a folder name",
            "Give a folder (it is created if missing), or leave --data-dir out for the default.",
        )
    data_dir = given or env.get("APPLIANCE_DATA_DIR") or values["data_dir"]
    values["data_dir"] = str(Path(data_dir or default_data_dir()).expanduser().resolve())
    config_file = Path(values["data_dir"]) / "config.json"
    if config_file.is_file():
        try:
            from_file = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(
                f"cannot read {config_file}: {e}", "Fix the JSON or remove the file."
            ) from e
        if not isinstance(from_file, dict):
            raise ConfigError(f"{config_file} must hold a JSON object", "Fix or remove the file.")
        for name, raw in from_file.items():
            if name not in _BY_NAME or name == "data_dir":
                raise ConfigError(
                    f"unknown setting {name!r} in {config_file}",
                    "See docs/settings.md for the settings there are.",
                )
            values[name] = _convert(_BY_NAME[name], raw, str(config_file))
    for s in SETTINGS:
        if s.name != "data_dir" and s.env in env:
            values[s.name] = _convert(s, env[s.env], f"environment variable {s.env}")
    for name, raw in cli.items():
        if name == "data_dir":
            continue
        if name not in _BY_NAME:
            raise ConfigError(f"unknown setting {name!r}", "See docs/settings.md.")
        values[name] = _convert(_BY_NAME[name], raw, f"option --{name.replace('_', '-')}")
    return Settings(values)
