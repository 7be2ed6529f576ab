// Pieces every screen shares: error boxes (message + hint), state badges, times, notices.
import { get } from "./api.js";
import { h } from "./dom.js";
import { errorText, locale, t } from "./i18n.js";
import { TERMINAL as TERMINAL_LIST } from "./states.js";

export const TERMINAL = new Set(TERMINAL_LIST);

// An error in the UI's language when the server coded it (i18n.js errorText), else as sent.
export function errorBox(err) {
  const { message, hint } = errorText(err);
  return h(
    "div",
    { class: "error-box", role: "alert", dataset: err && err.code ? { code: err.code } : {} },
    h("strong", {}, t("err.title")),
    " ",
    h("span", { class: "error-message" }, message),
    err && err.detail ? h("div", { class: "error-detail" }, err.detailLabel || "", " ", h("span", { class: "error-detail-text" }, err.detail)) : null,
    hint ? h("div", { class: "error-hint" }, t("err.hint"), " ", hint) : null,
  );
}

// Show an error in a slot (replacing what was there); nothing fails silently.
export function showError(slot, err) {
  if (err && err.name === "AbortError") return;
  console.error(err);
  slot.replaceChildren(errorBox(err));
}

// A site's own screen: the site, or null once the error is shown under the screen's title.
export async function siteOrError(root, ref, titleKey, slot, signal) {
  try {
    return await get(`/api/sites/${encodeURIComponent(ref)}`, { signal });
  } catch (err) {
    root.append(h("h2", {}, t(titleKey, { site: ref })), slot);
    showError(slot, err);
    return null;
  }
}

export function notice(slot, text, kind = "ok") {
  slot.replaceChildren(h("div", { class: `notice notice-${kind}`, role: "status" }, text));
}

export function stateBadge(state) {
  return h("span", { class: `badge state-${state || "unknown"}` }, t(`state.${state || "unknown"}`));
}

export function parseTime(value) {
  if (!value) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

export function fmtTime(value) {
  const ms = parseTime(value);
  if (ms === null) return "—";
  return new Date(ms).toLocaleString(locale());
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "—";
  const s = Math.floor(ms / 1000);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return hh ? `${hh}:${pad(mm)}:${pad(ss)}` : `${mm}:${pad(ss)}`;
}

// Elapsed time from start to end (or to now while still running).
export function elapsed(start, end) {
  const a = parseTime(start);
  if (a === null) return null;
  const b = parseTime(end);
  return (b === null ? Date.now() : b) - a;
}

// A stage step is named after its kind (preflight, backup...): shown in the UI's words; a
// component step by its component's name (the bundle's).
export function stepName(step) {
  return step.kind !== "component" && step.name === step.kind ? t(`kind.${step.kind}`) : step.name;
}

export function siteName(value) {
  if (value && typeof value === "object") return value.name || String(value.id);
  return value === null || value === undefined ? "—" : String(value);
}

export function field(label, control, help) {
  return h(
    "label",
    { class: "field" },
    h("span", { class: "field-label" }, label),
    control,
    help ? h("small", { class: "field-help" }, help) : null,
  );
}

export function select(options, value, props = {}) {
  return h(
    "select",
    props,
    options.map(([v, label]) => h("option", { value: v, selected: String(v) === String(value) }, label)),
  );
}

// Run an async action from a button: disabled while busy, errors shown in the slot.
export async function busy(button, slot, action) {
  button.disabled = true;
  try {
    return await action();
  } catch (err) {
    showError(slot, err);
    return undefined;
  } finally {
    button.disabled = false;
  }
}
