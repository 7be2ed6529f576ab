// Log search (#/sites/<ref>/logs): the declared log files of a site's components on its hosts.
// GET /api/sites/<ref>/logs streams NDJSON, read with fetch() as streams.js reads events; lines
// are shown as they arrive, grouped by host, always as text.
import { get } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { errorBox, field, select, showError } from "../ui.js";

async function failure(response) {
  const err = new Error(`HTTP ${response.status}`);
  err.status = response.status;
  try {
    const body = await response.json();
    err.message = body.error || err.message;
    err.hint = body.hint || "";
  } catch {
    // not JSON: keep the status line
  }
  return err;
}

// Calls onItem(obj) per NDJSON line of the response body.
async function readNdjson(response, onItem) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder("utf-8");
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop();
    for (const line of lines) if (line.trim()) onItem(JSON.parse(line));
  }
  pending += decoder.decode();
  if (pending.trim()) onItem(JSON.parse(pending));
}

function summaryText(s) {
  if (s.unreachable) return t("logs.unreachable", { error: s.error || "" });
  if (s.error) return t("logs.failed", { error: s.error });
  let text = t("logs.found", { lines: s.lines, files: s.files.length });
  if (s.truncated) text += ` · ${t("logs.truncated")}`;
  if (s.timed_out) text += ` · ${t("logs.timedOut")}`;
  for (const e of s.errors) text += ` · ${e}`;
  return text;
}

function hostGroups(hosts) {
  const groups = new Map();
  const el = h("div", { class: "log-results", id: "log-results" });
  for (const host of hosts) {
    const lines = h("pre", { class: "log-lines" });
    const status = h("p", { class: "muted log-host-status" }, t("logs.waiting"));
    const section = h("section", { class: "log-host", dataset: { host: host.name } }, h("h3", {}, host.name), status, lines);
    groups.set(host.name, { section, status, lines, count: 0 });
    el.append(section);
  }
  return {
    el,
    line(item) {
      const group = groups.get(item.host);
      if (!group) return;
      group.count += 1;
      group.lines.append(h("div", { class: "log-line" }, h("span", { class: "muted" }, `${item.file}: `), item.line));
    },
    summary(summary) {
      for (const [name, s] of Object.entries(summary.hosts)) {
        const group = groups.get(name);
        if (!group) continue;
        group.status.textContent = summaryText(s);
        group.status.className = s.unreachable || s.error ? "error-message log-host-status" : "muted log-host-status";
        if (!group.count && !s.error) group.lines.append(h("div", { class: "muted" }, t("logs.none")));
      }
    },
  };
}

export async function render(root, { params, signal }) {
  const ref = params[0];
  const status = h("div", { class: "slot" });
  root.append(h("h2", {}, t("logs.title")), status);
  let site;
  try {
    site = await get(`/api/sites/${encodeURIComponent(ref)}`, { signal });
  } catch (err) {
    showError(status, err);
    return;
  }
  root.querySelector("h2").textContent = t("logs.titleNamed", { name: site.name });
  const component = select(
    [["", t("logs.allComponents")], ...Object.keys(site.installed).map((c) => [c, c])],
    "",
    { id: "log-component" },
  );
  const host = select([["", t("logs.allHosts")], ...site.hosts.map((x) => [x.name, x.name])], "", { id: "log-host" });
  const grep = h("input", { id: "log-grep", maxlength: 200, placeholder: t("logs.grepPlaceholder") });
  const regex = h("input", { type: "checkbox", id: "log-regex" });
  const lines = h("input", { type: "number", id: "log-lines", min: 1, max: 1000, value: 100 });
  const run = h("button", { type: "submit", class: "primary", id: "log-search" }, t("logs.search"));
  const results = h("div", {});
  let controller = null;
  signal.addEventListener("abort", () => controller?.abort());
  const form = h(
    "form",
    { class: "site-form", novalidate: true },
    field(t("logs.component"), component),
    field(t("logs.host"), host),
    field(t("logs.grep"), grep, t("logs.grepHelp")),
    h("label", { class: "log-regex" }, regex, " ", t("logs.regex")),
    field(t("logs.lines"), lines, t("logs.linesHelp")),
    h("div", { class: "form-actions" }, run, h("a", { class: "button", href: `#/sites/${site.id}` }, t("logs.back"))),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    controller?.abort();
    controller = new AbortController();
    const query = new URLSearchParams();
    if (component.value) query.set("component", component.value);
    if (host.value) query.set("host", host.value);
    if (grep.value) query.set("grep", grep.value);
    if (regex.checked) query.set("regex", "1");
    query.set("lines", lines.value || "100");
    status.replaceChildren(h("p", { class: "muted", role: "status" }, t("logs.searching")));
    results.replaceChildren();
    run.disabled = true;
    try {
      const response = await fetch(`/api/sites/${site.id}/logs?${query}`, {
        signal: controller.signal,
        credentials: "same-origin",
        cache: "no-store",
      });
      if (!response.ok) throw await failure(response);
      const searched = host.value ? site.hosts.filter((x) => x.name === host.value) : site.hosts;
      const groups = hostGroups(searched);
      results.append(groups.el);
      await readNdjson(response, (item) => (item.summary ? groups.summary(item.summary) : groups.line(item)));
      status.replaceChildren(h("p", { class: "notice notice-ok", role: "status", id: "log-done" }, t("logs.done")));
    } catch (err) {
      if (err?.name !== "AbortError") status.replaceChildren(errorBox(err));
    } finally {
      run.disabled = false;
    }
  });
  root.append(form, results);
  return () => controller?.abort();
}
