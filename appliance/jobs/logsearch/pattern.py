"""What a log search looks for: a fixed string (the default) or a regular expression that cannot
run away, checked here before anything runs.

A regular expression is refused when it has a backreference or a conditional group (their
matching is exponential in Python's backtracking engine), a quantifier or alternatives inside
a quantified group (``(a+)+``, ``(a|aa)*``: the classic runaways), more than
``MAX_UNBOUNDED`` unbounded quantifiers, or a repeat count over ``MAX_REPEAT``.
What remains is still polynomial in a line's length, so the module on the host also matches
only the first ``MAX_LINE_CHARS`` of a line and stops at its time limit (Python's matcher
checks for signals while it runs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from re import _parser as sre_parse  # type: ignore[attr-defined]  # the stdlib's own parser
from typing import Any

from appliance.errors import BadRequest

MAX_PATTERN_CHARS = 200
MAX_UNBOUNDED = 4
MAX_REPEAT = 1000
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
_REFUSED = {"GROUPREF": "a backreference", "GROUPREF_EXISTS": "a conditional group"}
_HINT = (
    "Search for a fixed string (the default), or use a simpler regular expression: no "
    "backreferences, no quantifier or | inside a repeated group, at most "
    f"{MAX_UNBOUNDED} of * + {{n,}}, at most {MAX_PATTERN_CHARS} characters."
)


@dataclass(frozen=True)
class Pattern:
    text: str  # "" matches every line
    regex: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"grep": self.text, "regex": self.regex}


def parse_pattern(text: str | None, regex: bool = False) -> Pattern:
    """A checked pattern; BadRequest with a hint when it cannot be used."""
    text = text or ""
    if len(text) > MAX_PATTERN_CHARS:
        raise BadRequest(
            f"grep is {len(text)} characters long (at most {MAX_PATTERN_CHARS})",
            "Search for a shorter string.",
        )
    if any(c in text for c in "\x00\n\r"):
        raise BadRequest("grep must be one line of text", "Search for text within one line.")
    if regex and text:
        _check_regex(text)
    return Pattern(text, regex and bool(text))


def _check_regex(text: str) -> None:
    try:
        re.compile(text)
        parsed = sre_parse.parse(text)
    except (re.error, RecursionError, OverflowError) as e:
        raise BadRequest(f"grep is not a valid regular expression: {e}", _HINT) from None
    unbounded = _walk(parsed, inside_repeat=False)
    if unbounded > MAX_UNBOUNDED:
        raise BadRequest(
            f"grep has {unbounded} unbounded quantifiers (at most {MAX_UNBOUNDED})", _HINT
        )


def _walk(items: Any, inside_repeat: bool) -> int:
    """Refuses what can run away; returns the number of unbounded quantifiers."""
    count = 0
    for op, av in items:
        name = str(op)
        if name in _REFUSED:
            raise BadRequest(f"grep has {_REFUSED[name]}, which can run away", _HINT)
        if name in _REPEATS:
            low, high, body = av
            if inside_repeat:
                raise BadRequest("grep has a quantifier inside a repeated group", _HINT)
            if high is sre_parse.MAXREPEAT:
                count += 1
            elif high > MAX_REPEAT or low > MAX_REPEAT:
                raise BadRequest(f"grep repeats more than {MAX_REPEAT} times", _HINT)
            count += _walk(body, inside_repeat=True)
        else:
            if name == "BRANCH" and inside_repeat:
                raise BadRequest("grep has alternatives inside a repeated group", _HINT)
            for sub in _children(name, av):
                count += _walk(sub, inside_repeat)
    return count


def _children(name: str, av: Any) -> list[Any]:
    """The sub-patterns of a node (groups, alternatives, assertions)."""
    if name == "SUBPATTERN":
        return [av[-1]]
    if name == "BRANCH":
        return list(av[1])
    if name in ("ASSERT", "ASSERT_NOT"):
        return [av[1]]
    if name == "ATOMIC_GROUP":
        return [av]
    return []
