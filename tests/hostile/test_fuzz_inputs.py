"""Hypothesis over the same classes (issue 19): random JSON on the site routes and random
inventories with ranges; the only outcomes allowed are success or a short 4xx / BadRequest."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.backend.app import create_app
from appliance.errors import BadRequest
from appliance.jobs.sites import inventory_io
from appliance.store import sites
from tests.hostile.conftest import assert_refused_well, strict_json
from tests.support.wsgi import WsgiClient

# anything json.dumps writes, including NaN/Infinity, 2^64, lone surrogates and deep nesting
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=30)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
hosts = st.lists(st.dictionaries(st.sampled_from(["name", "address", "port", "vars"]), values))
bodies = st.fixed_dictionaries({"name": values}, optional={"vars": values, "hosts": hosts}) | values


@pytest.fixture(scope="module")
def module_client(tmp_path_factory: pytest.TempPathFactory):
    from appliance.context import open_context
    from appliance.settings import load_settings

    data = tmp_path_factory.mktemp("fuzz")
    ctx = open_context(load_settings(cli={"data_dir": str(data)}, env={}))
    yield WsgiClient(create_app(ctx, "f" * 32))
    ctx.close()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, deep=st.integers(min_value=0, max_value=200))
def test_random_site_bodies(module_client: WsgiClient, body: object, deep: int) -> None:
    raw = "[" * deep + json.dumps(body) + "]" * deep
    for method, path in (("POST", "/api/sites"), ("PUT", "/api/sites/1")):
        reply = module_client.request(method, path, raw=raw.encode("utf-8", "surrogatepass"))
        assert_refused_well(reply, f"{method} {path} {raw[:200]}")
    listed = strict_json(module_client.get("/api/sites").body)
    for site in listed:  # whatever was accepted reads back as strict JSON with finite numbers
        assert all(
            not isinstance(v, float) or math.isfinite(v) for v in site.get("vars", {}).values()
        )


segment = st.one_of(
    st.text(alphabet="abcxyz-._", min_size=1, max_size=4),
    st.builds(
        lambda a, b, s: f"[{a}:{b}{s}]",
        st.integers(0, 10**12).map(str) | st.sampled_from(["a", "z", "01", ""]),
        st.integers(0, 10**12).map(str) | st.sampled_from(["a", "z", "09", ""]),
        st.sampled_from(["", ":0", ":1", ":7", ":99999999999"]),
    ),
)
host_patterns = st.lists(segment, min_size=1, max_size=4).map("".join)


@settings(max_examples=300, deadline=None)
@given(patterns=st.lists(host_patterns, min_size=1, max_size=5), group=st.text(max_size=5))
def test_random_inventory_ranges(patterns: list[str], group: str) -> None:
    text = f"[{group or 'g'}]\n" + "\n".join(patterns) + "\n"
    try:
        site = sites.parse_site(inventory_io.import_inventory("s", "ini", text))
    except BadRequest as e:
        assert e.hint and len(e.to_json()["error"]) < 600
        return
    assert 1 <= len(site["hosts"]) <= sites.MAX_HOSTS
