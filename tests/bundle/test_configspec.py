"""Declared configuration in bundle.yml: parsed, refused, and the same rules for values."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml

from appliance import __version__
from appliance.bundle import dump_manifest, parse_manifest
from appliance.bundle.configspec import ValueRefused, check_value, check_values, effective
from appliance.errors import BundleError

CONFIG = [
    {
        "name": "app_port",
        "type": "int",
        "default": 18080,
        "min": 1024,
        "max": 65535,
        "required": True,
        "title": {"en": "Application port", "zh": "应用端口"},
        "help": {"en": "TCP port", "zh": "TCP 端口"},
    },
    {"name": "admin_password", "type": "password", "required": True},
    {"name": "log_level", "type": "select", "options": ["debug", "info"], "default": "info"},
    {"name": "install_root", "type": "path", "default": "/opt/demo"},
    {"name": "peer", "type": "hostport"},
    {"name": "motd", "type": "text", "max": 100},
    {"name": "tls", "type": "bool", "default": False},
    {"name": "label", "type": "string", "pattern": "[a-z]+"},
]


def manifest_bytes(config: Any = CONFIG, uses: Any = ("app_port", "log_level"), **top: Any):
    doc: dict[str, Any] = {
        "format": 1,
        "name": "demo",
        "version": "1.0.0",
        "components": [{"name": "app", "version": "1", "playbook": "app.yml"}],
        **top,
    }
    if config is not None:
        doc["config"] = config
    if uses is not None:
        doc["components"][0]["config"] = uses if isinstance(uses, str) else list(uses)
    return yaml.safe_dump(doc, allow_unicode=True).encode()


def refused(data: bytes) -> str:
    with pytest.raises(BundleError) as e:
        parse_manifest(data, source=True)
    return e.value.message


def test_declaration_parsed_and_dumped_back() -> None:
    m = parse_manifest(manifest_bytes(requires_appliance=">=0.1"), source=True)
    assert [i.name for i in m.config] == [c["name"] for c in CONFIG]
    port = m.config[0]
    assert (port.type, port.default, port.min, port.max, port.required) == (
        "int",
        18080,
        1024,
        65535,
        True,
    )
    assert port.title["zh"] == "应用端口"
    assert m.components[0].config == ("app_port", "log_level")
    assert m.requires_appliance == ">=0.1"
    assert parse_manifest(dump_manifest(m), source=True) == m


def test_format_one_without_config_stays_valid_and_dumps_unchanged() -> None:
    m = parse_manifest(manifest_bytes(config=None, uses=None), source=True)
    assert m.config == () and m.components[0].config == ()
    assert b"config" not in dump_manifest(m)


@pytest.mark.parametrize(
    ("config", "uses", "message"),
    [
        ("app_port", (), "config must be a list"),
        ([{"name": "x", "type": "float"}], (), "type 'float' is not one of"),
        ([{"name": "x", "type": "int", "colour": 1}], (), "unknown key 'colour'"),
        ([{"name": "X-y", "type": "int"}], (), "is not valid"),
        ([{"name": "bundle_name", "type": "string"}], (), "is reserved"),
        ([{"name": "x", "type": "int"}, {"name": "x", "type": "int"}], (), "used twice"),
        ([{"name": "x", "type": "int", "default": 5, "min": 10}], (), "fails its own rules"),
        ([{"name": "x", "type": "int", "default": "5"}], (), "fails its own rules"),
        ([{"name": "x", "type": "select", "options": ["a"], "default": "b"}], (), "own rules"),
        ([{"name": "x", "type": "select"}], (), "needs a non-empty options"),
        ([{"name": "x", "type": "int", "options": ["a"]}], (), "only for select"),
        ([{"name": "x", "type": "int", "min": 5, "max": 1}], (), "min is greater"),
        ([{"name": "x", "type": "bool", "min": 1}], (), "only for int"),
        ([{"name": "x", "type": "password", "default": "secret-123"}], (), "cannot have a"),
        ([{"name": "x", "type": "int", "required": "yes"}], (), "required must be"),
        ([{"name": "x", "type": "int", "title": {"fr": "x"}}], (), "unknown language"),
        ([{"name": "x", "type": "string", "pattern": "("}], (), "not a regular expression"),
        ([{"name": "x", "type": "int"}], ("y",), "which config does not declare"),
        ([{"name": "x", "type": "int"}], "x", "must be a list of config item names"),
    ],
)
def test_bad_declarations_refused(config: Any, uses: Any, message: str) -> None:
    assert message in refused(manifest_bytes(config=config, uses=uses))


def test_too_new_bundle_names_the_version_it_needs() -> None:
    # even with keys this appliance does not know: the version is the useful answer
    data = manifest_bytes(requires_appliance=">=99.1", status="later-feature")
    message = refused(data)
    assert "needs appliance 99.1 or newer" in message and __version__ in message
    assert "is not valid" in refused(manifest_bytes(requires_appliance="~1.0"))


ITEMS = parse_manifest(manifest_bytes(), source=True).config
BY = {i.name: i for i in ITEMS}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("app_port", "8080", "whole number"),
        ("app_port", 80, "at least 1024"),
        ("app_port", 70000, "at most 65535"),
        ("app_port", math.nan, "NaN"),
        ("app_port", math.inf, "NaN or infinity"),
        ("app_port", True, "whole number"),
        ("app_port", 1.5, "whole number"),
        ("log_level", "trace", "one of: debug, info"),
        ("admin_password", "short", "at least 8"),
        ("admin_password", "a" * 2000, "too long"),
        ("admin_password", "line\nbreak!", "line break"),
        ("install_root", "relative/path", "absolute path"),
        ("install_root", "/opt/../etc", "absolute path"),
        ("peer", "db.example:99999", "host:port"),
        ("peer", "no-port", "host:port"),
        ("motd", "x" * 101, "at most 100"),
        ("label", "ABC", "must match"),
        ("label", "bad\udcff", "not UTF-8"),
        ("label", "nul\x00", "control character"),
        ("tls", "yes", "true or false"),
        ("label", 5, "must be a string"),
    ],
)
def test_bad_values_refused(name: str, value: Any, message: str) -> None:
    with pytest.raises(ValueRefused) as e:
        check_value(BY[name], value)
    assert message in str(e.value)


def test_values_from_text_take_their_type() -> None:
    assert check_value(BY["app_port"], "8080", from_text=True) == 8080
    assert check_value(BY["tls"], "yes", from_text=True) is True
    assert check_value(BY["motd"], "a\r\nb") == "a\nb"
    clean, errors = check_values(ITEMS, {"app_port": 2000, "nope": 1, "log_level": "x"})
    assert clean == {"app_port": 2000}
    assert errors == {"nope": "is not declared by this bundle", "log_level": errors["log_level"]}


def test_effective_values_apply_defaults_and_name_what_is_missing() -> None:
    values, errors = effective(ITEMS, {})
    assert values["app_port"] == 18080 and values["log_level"] == "info"
    assert errors == {"admin_password": "is required"}
    values, errors = effective(ITEMS, {"admin_password": "s3cret-pass", "app_port": 3000})
    assert errors == {} and values["app_port"] == 3000


def test_a_stored_value_a_new_version_refuses_is_named() -> None:
    values, errors = effective(ITEMS, {"admin_password": "s3cret-pass", "log_level": "trace"})
    assert errors == {"log_level": "must be one of: debug, info"}
    assert "log_level" not in values
