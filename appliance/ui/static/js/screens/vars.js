// Host and site variables as "key = value" lines: values are JSON where they parse
// (numbers, true/false, "quoted", [lists]) and plain text otherwise.
import { t } from "../i18n.js";

export function varsToText(vars) {
  return Object.entries(vars || {})
    .map(([k, v]) => `${k} = ${typeof v === "string" && !looksJson(v) ? v : JSON.stringify(v)}`)
    .join("\n");
}

function looksJson(text) {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export function textToVars(text, where) {
  const vars = {};
  const lines = (text || "").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) {
      const err = new Error(t("vars.badLine", { where, line: i + 1, text: line }));
      err.hint = t("vars.hint");
      throw err;
    }
    const key = line.slice(0, eq).trim();
    const raw = line.slice(eq + 1).trim();
    let value = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    vars[key] = value;
  }
  return vars;
}
