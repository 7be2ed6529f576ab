"""Which carried ansible-core a run uses (appliance/jobs/ansible/cores.py) and the bundle's
``requires_ansible``: the choice from the hosts' Python versions, the site's pin and the
bundle's specifier, and the refusals with their way out. Real trees: a folder standing for a
carried core holds only ``ansible/release.py`` (the core is never imported here; the remote
tests run the real one, tests/remote/test_old_targets.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from appliance.bundle.manifest import dump_manifest, parse_manifest
from appliance.errors import BundleError, Unprocessable
from appliance.jobs.ansible import cores

OWN = cores.Core("2.19.14")


def tree(folder: Path, version: str) -> Path:
    path = folder / version.rsplit(".", 1)[0]
    (path / "ansible").mkdir(parents=True)
    (path / "ansible" / "release.py").write_text(f"__version__ = '{version}'\n")
    return path


def both(tmp_path: Path) -> list[cores.Core]:
    return [OWN, cores.Core("2.16.19", tree(tmp_path, "2.16.19"))]


@pytest.mark.parametrize(
    ("version", "by_219", "by_216"),
    [
        ("3.11.2", True, True),
        ("3.8.0", True, True),
        ("3.7.9", False, True),
        ("3.6.8", False, True),
        ("3.5.3", False, False),
        ("2.7.18", False, True),
        ("2.6.9", False, False),
        (None, True, True),
    ],
)
def test_what_each_core_manages(version: str | None, by_219: bool, by_216: bool) -> None:
    assert OWN.manages(version) is by_219
    assert cores.Core("2.16.19").manages(version) is by_216


def test_carried_trees_are_found_when_this_python_runs_them(tmp_path: Path) -> None:
    tree(tmp_path, "2.16.19")
    (tmp_path / "junk").mkdir()  # no release.py: not a core
    found = cores.carried(tmp_path)
    assert found[0].path is None  # our own first
    # 2.16's published controller Pythons, and the binary's 3.13 (cores.BEYOND_MATRIX)
    runs_216 = (3, 10) <= sys.version_info[:2] <= (3, 13)
    assert [c.version for c in found[1:]] == (["2.16.19"] if runs_216 else [])
    assert cores.carried(tmp_path / "absent") == found[:1]


def test_the_newest_core_that_manages_every_host(tmp_path: Path) -> None:
    carried = both(tmp_path)
    new = {"h1": ("/usr/bin/python3", "3.11.2")}
    assert cores.choose(new, {}, cores=carried) == OWN
    old = {**new, "h2": ("/usr/bin/python2.7", "2.7.18")}
    chosen = cores.choose(old, {}, cores=carried)
    assert chosen.version == "2.16.19"
    assert cores.environment(chosen, {"PYTHONPATH": "/x"}) == {
        "APPLIANCE_ANSIBLE_TREE": str(chosen.path),  # read by the faces (frozen too)
        "PYTHONPATH": f"{chosen.path}:/x",  # a source checkout's other Python children
    }
    assert cores.environment(OWN, {"PYTHONPATH": "/x"}) == {}  # our own: nothing changes
    # pinned by the site, or chosen by the bundle
    assert cores.choose(new, {cores.SITE_VAR: "2.16"}, cores=carried).version == "2.16.19"
    assert cores.choose(new, {}, "<2.17", cores=carried).version == "2.16.19"


def test_refusals_say_which_host_and_the_way_out(tmp_path: Path) -> None:
    carried = both(tmp_path)
    old = {"h1": ("/usr/bin/python3", "3.11.2"), "h2": ("/usr/bin/python", "2.6.9")}
    with pytest.raises(Unprocessable) as e:
        cores.choose(old, {}, cores=carried)
    assert str(e.value) == (
        "cannot manage h2: Python 2.6.9 (/usr/bin/python) is too old for ansible-core "
        "2.19.14 and 2.16.19"
    )
    assert "2.16.19 manages Python 2.7 and 3.6 or newer" in e.value.hint
    assert "ansible_python_interpreter" in e.value.hint
    py27 = {"h2": ("/usr/bin/python2.7", "2.7.18")}
    with pytest.raises(Unprocessable, match=r"too old for ansible-core 2\.19\.14$"):
        cores.choose(py27, {cores.SITE_VAR: "2.19"}, cores=carried)  # the pin wins
    with pytest.raises(Unprocessable, match=r"too old for ansible-core 2\.19\.14$"):
        cores.choose(py27, {}, ">=2.17", cores=carried)  # the bundle's requirement wins
    with pytest.raises(Unprocessable, match=r"asks for ansible-core 2\.12"):
        cores.choose(py27, {cores.SITE_VAR: "2.12"}, cores=carried)
    with pytest.raises(Unprocessable, match=r"needs ansible-core >=2\.20"):
        cores.choose(py27, {}, ">=2.20", cores=carried)


def test_a_core_outside_its_published_controller_range_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = cores.Core("2.16.19", tree(tmp_path, "2.16.19"))
    assert OWN.outside_matrix() is None  # our own core: never
    monkeypatch.setattr(sys, "version_info", (3, 12, 8, "final", 0))
    assert old.outside_matrix() is None and cores._runs_here("2.16.19")
    monkeypatch.setattr(sys, "version_info", (3, 13, 5, "final", 0))  # the binary's Python
    assert cores._runs_here("2.16.19")  # carried all the same (cores.BEYOND_MATRIX)
    assert old.outside_matrix() == (
        "ansible-core 2.16 runs here under Python 3.13, outside the controller range Ansible "
        "publishes for it (3.10 to 3.12); the appliance tests this pair against Python 2.7 hosts"
    )
    monkeypatch.setattr(sys, "version_info", (3, 14, 0, "final", 0))
    assert not cores._runs_here("2.16.19")  # never tried: not carried


MANIFEST = b"""format: 1
name: x
version: "1"
components: [{name: a, version: "1", playbook: p.yml}]
files: {p.yml: "sha256:%s"}
""" % (b"0" * 64)


def test_requires_ansible_in_the_manifest() -> None:
    assert parse_manifest(MANIFEST).requires_ansible is None
    manifest = parse_manifest(MANIFEST + b'requires_ansible: ">=2.16, <2.20"\n')
    assert manifest.requires_ansible == ">=2.16, <2.20"
    assert parse_manifest(dump_manifest(manifest)) == manifest
    for bad in (b"2.16", b'"newest"', b"[2.16]", b'""'):
        with pytest.raises(BundleError, match="requires_ansible"):
            parse_manifest(MANIFEST + b"requires_ansible: " + bad + b"\n")
