"""Bundle file names that could pass for others (issue 19, item 3): invisible and
direction-changing characters, and names that are one file on a case-insensitive or
normalising file system, are refused with a hint; ordinary non-ASCII names still pass."""

from __future__ import annotations

import pytest

from appliance.bundle.safety import check_relpath
from tests.bundle.test_manifest import H, doc, parse, refused

NFC_E = "caf\u00e9.yml"
NFD_E = "cafe\u0301.yml"


@pytest.mark.parametrize(
    ("name", "char"),
    [
        ("playbooks/\u202eymy.exe", "U+202E"),  # right-to-left override
        ("playbooks/a\u200bb.yml", "U+200B"),  # zero-width space
        ("playbooks/a\u200db.yml", "U+200D"),  # zero-width joiner
        ("playbooks/\ufeffa.yml", "U+FEFF"),  # byte order mark
        ("playbooks/a\u2066b\u2069.yml", "U+2066"),  # isolate
        ("playbooks/a\u00adb.yml", "U+00AD"),  # soft hyphen
        ("playbooks/a\u0085b.yml", "U+0085"),  # C1 control (next line)
        ("playbooks/a\u2028b.yml", "U+2028"),  # line separator
        ("playbooks/a\ue000b.yml", "U+E000"),  # private use
    ],
)
def test_invisible_characters_in_names_are_refused(name: str, char: str) -> None:
    d = doc()
    d["files"][name] = H
    message = refused(d)
    assert "invisible or direction-changing" in message and char in message
    with pytest.raises(Exception, match="invisible"):
        check_relpath(name, "archive member")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("playbooks/db.yml", "playbooks/DB.yml"),
        ("playbooks/db.yml", "Playbooks/x.yml"),  # a folder spelled twice
        ("roles/" + NFC_E, "roles/" + NFD_E),
        ("Bundle.yml", None),  # beside the manifest itself
        ("BUNDLE.SIG", None),
        ("stra\u00dfe.yml", "STRASSE.yml"),  # full case folding
    ],
)
def test_names_that_fold_together_are_refused(first: str, second: str | None) -> None:
    d = doc()
    d["files"][first] = H
    if second is not None:
        d["files"][second] = H
    assert "same name where case or Unicode normalisation does not count" in refused(d)


def test_ordinary_non_ascii_names_still_pass() -> None:
    d = doc()
    d["files"]["docs/" + NFC_E] = H
    d["files"]["docs/\u4e2d\u6587.md"] = H
    d["files"]["docs/\u0645\u0631\u062d\u0628\u0627.txt"] = H  # Arabic letters (RTL script)
    assert "docs/\u4e2d\u6587.md" in parse(d).files
