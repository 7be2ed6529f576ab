"""The log search's pattern check (what may run on a host) and the carried module's own bounds,
called directly on files here (the same function Ansible runs on each host)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import BadRequest
from appliance.jobs.logsearch.library.appliance_logsearch import search
from appliance.jobs.logsearch.pattern import parse_pattern


@pytest.mark.parametrize(
    "text", ["error", r"ERR.*timeout", r"GET /health \d+", "(?:ab)+c", "(?=a)b", "a{3,9}"]
)
def test_simple_expressions_pass(text: str) -> None:
    assert parse_pattern(text, regex=True).regex is True


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("(a+)+b", "quantifier inside a repeated group"),
        ("(a|aa)*b", "alternatives inside a repeated group"),
        (r"(x)\1", "backreference"),
        ("(x)?(?(1)a|b)", "conditional group"),
        ("a{2000}", "more than 1000 times"),
        (".*.*.*.*.*", "5 unbounded quantifiers"),
        ("[", "not a valid regular expression"),
    ],
)
def test_runaway_or_broken_expressions_are_refused(text: str, why: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_pattern(text, regex=True)
    assert why in info.value.message and "fixed string" in info.value.hint


def test_a_fixed_string_is_never_an_expression() -> None:
    assert parse_pattern("(a+)+b").regex is False  # the default: taken as it is
    assert parse_pattern("", regex=True) == parse_pattern(None)


def args(tmp_path: Path, pattern: str, regex: bool = False, **bounds: object) -> dict:
    return {
        "globs": [str(tmp_path / "*.log"), "relative/*.log"],
        "pattern_hex": pattern.encode().hex(),
        "regex": regex,
        "lines": 10,
        "max_bytes": 1 << 20,
        "seconds": 10.0,
        "max_files": 50,
        "scan_bytes": 1 << 20,
        "max_line_chars": 2000,
        **bounds,
    }


def test_the_module_keeps_its_bounds(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("".join(f"line {i}\n" for i in range(100)))
    (tmp_path / "b.log").write_text("x" * 5000 + " line\n")
    out = search(args(tmp_path, "line"))
    assert out["errors"] == ["relative/*.log is not an absolute path"]
    assert [f["path"] for f in out["files"]] == [str(tmp_path / n) for n in ("a.log", "b.log")]
    assert [text for _, text in out["lines"]] == [f"line {i}" for i in range(90, 100)]
    assert out["truncated"] is True
    # the tail of the file only (the cut first line dropped); a long line cut to its bound
    out = search(args(tmp_path, "line", scan_bytes=30, max_line_chars=100))
    assert [t for i, t in out["lines"] if i == 0] == ["line 97", "line 98", "line 99"]
    assert search(args(tmp_path, "x", max_line_chars=100))["lines"] == [[1, "x" * 100]]
    # room for about three lines: each costs its text, its file's path and a little framing
    # (the budget follows the path, whose length depends on where pytest puts tmp_path)
    room = 3 * (len("line 99") + len(str(tmp_path / "a.log")) + 16)
    out = search(args(tmp_path, "line", max_bytes=room))
    assert 0 < len(out["lines"]) < 10 and out["truncated"] is True


def test_the_module_stops_at_its_time_limit(tmp_path: Path) -> None:
    # allowed by the check (three unbounded quantifiers), yet cubic on long lines without "x"
    (tmp_path / "slow.log").write_text(("a" * 2000 + "\n") * 50)
    out = search(args(tmp_path, "a.*a.*a.*x", regex=True, seconds=0.3))
    assert out["timed_out"] is True and out["truncated"] is True and out["lines"] == []
