// The zh walk's check (test_zh.py): the untranslated strings on the page, as a list.
([data, allowed]) => import("/static/js/i18n.js").then(({ MESSAGES }) => {
  const en = MESSAGES.en, zh = MESSAGES.zh;
  const known = new Set(data);
  const ok = new Set(allowed);
  const patterns = [];
  for (const [key, text] of Object.entries(en)) {
    if (zh[key] === text || !/[A-Za-z]{3}/.test(text.replace(/\{\w+\}/g, ""))) continue;
    const body = text.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{\w+\}/g, ".+?");
    patterns.push([key, new RegExp(`^${body}$`)]);
  }
  const skip = ".lang-switch, script, style, .log-wrap, .logview, .error-detail-text, pre, textarea";
  const bad = [];
  const judge = (text, where) => {
    text = text.trim();
    if (!text) return;
    for (const [key, re] of patterns) {
      if (re.test(text)) {
        bad.push(`${where}: "${text}" is the English of ${key}`);
        return;
      }
    }
    const words = (text.match(/[A-Za-z][A-Za-z_]{2,}/g) || []).filter((w) => !ok.has(w) && !known.has(w));
    if (words.length) bad.push(`${where}: "${text}" has English ${words.join(", ")}`);
    if (/\b(AM|PM)\b/.test(text)) bad.push(`${where}: "${text}" is an English time`);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!el || el.closest(skip)) continue;
    if (el.tagName !== "OPTION" && !el.getClientRects().length) continue; // not shown
    judge(walker.currentNode.textContent, el.tagName.toLowerCase());
  }
  for (const el of document.querySelectorAll("[title], [placeholder], [aria-label]")) {
    if (el.closest(skip)) continue;
    for (const name of ["title", "placeholder", "aria-label"]) {
      if (el.hasAttribute(name)) judge(el.getAttribute(name), `${el.tagName.toLowerCase()}[${name}]`);
    }
  }
  return bad;
})
