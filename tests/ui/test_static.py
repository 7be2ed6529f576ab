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
    text = (STATIC / "js" / "i18n.js").read_text()
    en = text[text.index("  en: {") : text.index("  zh: {")]
    zh = text[text.index("  zh: {") : text.index("\n};")]
    key = re.compile(r'^\s+"([A-Za-z_.]+)":', re.M)
    return {"en": set(key.findall(en)), "zh": set(key.findall(zh))}


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
