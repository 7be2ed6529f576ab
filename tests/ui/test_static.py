"""The static page, checked without a browser: every text key exists in both languages,
nothing is loaded from outside, no inline script or style, modules served as JavaScript."""

from __future__ import annotations

import re

from appliance.compat import static_dir
from tests.support.client import Api

STATIC = static_dir()
KEY_RE = re.compile(r'\bt\("([A-Za-z_.]+)"')
DYNAMIC_RE = re.compile(r"\bt\(`([a-z]+)\.\$\{")


def dictionaries() -> dict[str, set[str]]:
    """The keys of each language: i18n.js and the server's error codes (i18n_errors.js)."""
    langs: dict[str, set[str]] = {"en": set(), "zh": set()}
    key = re.compile(r'^\s+"([A-Za-z_.]+)":', re.M)
    for name in ("i18n.js", "i18n_errors.js"):
        text = (STATIC / "js" / name).read_text()
        en = text[text.index("  en: {") : text.index("  zh: {")]
        zh = text[text.index("  zh: {") : text.index("\n};")]
        langs["en"] |= set(key.findall(en))
        langs["zh"] |= set(key.findall(zh))
    return langs


# where the server attaches a code to an error: code="...", default_code = "...",
# coded(e, "..."), and the status table of the route error hook (with its fallback)
CODE_RE = re.compile(
    r'(?:\bcode=|default_code = |coded\(\w+, |\d{3}: |get\(status, )"'
    r'([a-z][a-z_]*(?:\.[a-z][a-z_]*)+)"'
)


def server_codes() -> set[str]:
    root = STATIC.parent.parent
    found = set()
    for path in root.rglob("*.py"):
        found |= set(CODE_RE.findall(path.read_text()))
    return found


def test_every_server_error_code_is_worded_in_english_and_chinese() -> None:
    """Each code the server sends has its message and its window hint in both languages, and
    the catalogue holds no code the server no longer sends."""
    codes = server_codes()
    assert {"not_found.run", "site.busy", "auth.token", "plan.no_backup"} <= codes, codes
    langs = dictionaries()
    for lang, keys in langs.items():
        missing = {f"{part}.{code}" for code in codes for part in ("error", "errorHint")} - keys
        assert not missing, (lang, sorted(missing))
        worded = {k.split(".", 1)[1] for k in keys if k.startswith(("error.", "errorHint."))}
        assert worded <= codes, (lang, sorted(worded - codes))


def test_every_text_key_exists_in_english_and_chinese() -> None:
    langs = dictionaries()
    assert langs["en"] == langs["zh"], langs["en"] ^ langs["zh"]
    used, prefixes = set(), set()
    for path in (STATIC / "js").rglob("*.js"):
        source = path.read_text()
        used |= set(KEY_RE.findall(source))
        prefixes |= set(DYNAMIC_RE.findall(source))
    nav = set(re.findall(r'"(nav\.[A-Za-z]+)"', (STATIC / "js" / "app.js").read_text()))
    missing = (used | nav) - langs["en"]
    assert not missing, missing
    for prefix in prefixes:  # t(`state.${x}`) and the like: the family must exist
        assert any(k.startswith(prefix + ".") for k in langs["en"]), prefix
    for state in (
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "interrupted",
        "pending",
        "skipped",
    ):
        assert f"state.{state}" in langs["en"]


def test_nothing_from_outside_and_no_inline_code() -> None:
    for path in STATIC.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text()
        assert not re.search(r"https?://", text), f"{path}: an outside URL"
        assert "innerHTML" not in text and "eval(" not in text, path
    html = (STATIC / "index.html").read_text()
    assert "<script>" not in html and "style=" not in html and " on" not in html.lower()


def test_modules_are_served_as_javascript(api: Api) -> None:
    for name in ("js/app.js", "js/logview.js", "js/screens/run.js", "app.css"):
        reply = api.get(f"/static/{name}")
        assert reply.status == 200
        kind = "text/css" if name.endswith(".css") else "javascript"
        assert kind in reply.headers["content-type"], (name, reply.headers["content-type"])
    page = api.get("/", token=False)
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_every_upgrade_refusal_is_worded_in_english_and_chinese() -> None:
    """The bundle screen words why a site cannot take a bundle from the server's reason code."""
    source = (STATIC.parent.parent / "bundle" / "upgrade.py").read_text()
    codes = set(re.findall(r'"(reason\.[a-z_]+)"', source))
    assert len(codes) == 3, codes
    for lang, keys in dictionaries().items():
        assert codes <= keys, (lang, codes - keys)
