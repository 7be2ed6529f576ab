// Sites: the list with installed versions, and the form that creates or edits a site's hosts.
import { get, post, put } from "../api.js";
import { h, table } from "../dom.js";
import { t } from "../i18n.js";
import { busy, errorBox, field, fmtTime, notice, showError } from "../ui.js";
import { configPanel } from "./siteconfig.js";
import { checkPanel, credentialsPanel, deletePanel, exportPanel, importPanel } from "./site_tools.js";
import { healthBadge } from "./status.js";
import { textToVars, varsToText } from "./vars.js";
import { loadZones, zonePicker } from "../zones.js";

function installedList(installed) {
  const entries = Object.entries(installed || {});
  if (!entries.length) return h("span", { class: "muted" }, t("sites.nothingInstalled"));
  return h(
    "ul",
    { class: "installed" },
    entries.map(([component, info]) =>
      h("li", {}, h("b", {}, component), " ", info.version, h("span", { class: "muted" }, ` (${info.bundle} ${info.bundle_version})`)),
    ),
  );
}

export async function list(root, { signal }) {
  const status = h("div", { class: "slot" });
  root.append(
    h(
      "div",
      { class: "screen-head" },
      h("h2", {}, t("sites.title")),
      h("a", { class: "button primary", href: "#/sites/new", id: "new-site" }, t("sites.new")),
    ),
    importPanel({ signal }),
    status,
  );
  let sites;
  try {
    sites = await get("/api/sites?limit=100000", { signal });
  } catch (err) {
    showError(status, err);
    return;
  }
  if (!sites.length) {
    notice(status, t("sites.empty"), "info");
    return;
  }
  // day two: each site's overall state (a failure here leaves the column empty)
  const health = new Map();
  try {
    for (const s of await get("/api/status", { signal })) health.set(s.site_id, s);
  } catch (err) {
    if (err.name === "AbortError") throw err;
  }
  const healthCell = (s) => {
    const found = health.get(s.id);
    return h(
      "td",
      { class: "site-health" },
      h("a", { href: `#/sites/${s.id}/status`, title: t("status.open") }, healthBadge(found ? found.overall : "unknown")),
      found && found.attention ? h("span", { class: "badge health-down attention-flag" }, t("status.attentionShort")) : null,
    );
  };
  root.append(
    table(
      [t("sites.name"), t("status.overall"), t("sites.hosts"), t("sites.installed"), t("sites.created"), ""],
      sites.map((s) =>
        h(
          "tr",
          { dataset: { site: s.name } },
          h("td", {}, h("a", { href: `#/sites/${s.id}` }, s.name)),
          healthCell(s),
          h("td", {}, s.hosts.map((x) => x.name).join(", ") || "—"),
          h("td", {}, installedList(s.installed)),
          h("td", {}, fmtTime(s.created_at)),
          h(
            "td",
            { class: "actions" },
            h("a", { class: "button", href: `#/sites/${s.id}` }, t("common.edit")),
            h("a", { class: "button", href: `#/sites/${s.id}/status` }, t("status.open")),
            h("a", { class: "button", href: `#/sites/${s.id}/backups` }, t("backups.open")),
            h("a", { class: "button", href: `#/runs/new?site=${encodeURIComponent(s.name)}` }, t("nav.newRun")),
            h("a", { class: "button", href: `#/history?site=${encodeURIComponent(s.name)}` }, t("nav.history")),
          ),
        ),
      ),
      { class: "grid", id: "sites-table" },
    ),
  );
}

function hostRow(host, onRemove) {
  const row = h(
    "tr",
    { class: "host-row" },
    h("td", {}, h("input", { name: "host-name", value: host.name || "", required: true, "aria-label": t("host.name") })),
    h("td", {}, h("input", { name: "host-address", value: host.address || "", required: true, "aria-label": t("host.address") })),
    h("td", {}, h("input", { name: "host-user", value: host.user || "", "aria-label": t("host.user") })),
    h("td", {}, h("input", { name: "host-port", type: "number", min: 1, max: 65535, value: String(host.port || 22), "aria-label": t("host.port") })),
    h("td", {}, h("input", { name: "host-groups", value: (host.groups || []).join(", "), "aria-label": t("host.groups") })),
    h("td", {}, h("textarea", { name: "host-vars", rows: 2, value: varsToText(host.vars), "aria-label": t("host.vars") })),
    h("td", {}, h("button", { type: "button", class: "danger small", onclick: () => onRemove(row) }, t("common.remove"))),
  );
  return row;
}

function readHost(row, i) {
  const val = (name) => row.querySelector(`[name="${name}"]`).value.trim();
  const host = { name: val("host-name"), address: val("host-address") };
  const user = val("host-user");
  if (user) host.user = user;
  const port = val("host-port");
  if (port) host.port = Number(port);
  host.groups = val("host-groups").split(",").map((x) => x.trim()).filter(Boolean);
  host.vars = textToVars(row.querySelector('[name="host-vars"]').value, t("host.varsOf", { n: i + 1 }));
  return host;
}

export async function edit(root, { params, query, signal }) {
  const ref = params[0];
  const status = h("div", { class: "slot" });
  let site = { name: "", vars: {}, hosts: [{ name: "", address: "", port: 22 }], installed: {} };
  let bundles = [];
  if (ref) {
    try {
      site = await get(`/api/sites/${encodeURIComponent(ref)}`, { signal });
      bundles = await get("/api/bundles?limit=100000", { signal });
    } catch (err) {
      root.append(h("h2", {}, t("sites.edit")), status);
      showError(status, err);
      return;
    }
  }
  let zones = { zones: [], local: "UTC" };
  try {
    zones = await loadZones(signal);
  } catch (err) {
    showError(status, err);
  }
  const zone = zonePicker(zones.zones, site.timezone || zones.local, "site-timezone");
  const tbody = h("tbody", {});
  const remove = (row) => row.remove();
  for (const host of site.hosts) tbody.append(hostRow(host, remove));
  const name = h("input", { name: "site-name", value: site.name, required: true, id: "site-name" });
  const vars = h("textarea", { name: "site-vars", rows: 4, value: varsToText(site.vars), id: "site-vars" });
  const save = h("button", { type: "submit", class: "primary", id: "save-site" }, t("common.save"));
  const form = h(
    "form",
    { class: "site-form", novalidate: true },
    field(t("sites.name"), name),
    field(t("sites.vars"), vars, t("vars.help")),
    field(t("sites.timezone"), zone.el, t("sites.timezoneHelp")),
    h("h3", {}, t("sites.hosts")),
    h(
      "table",
      { class: "grid hosts" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          [t("host.name"), t("host.address"), t("host.user"), t("host.port"), t("host.groups"), t("host.vars"), ""].map((x) =>
            h("th", {}, x),
          ),
        ),
      ),
      tbody,
    ),
    h(
      "p",
      {},
      h(
        "button",
        { type: "button", id: "add-host", onclick: () => tbody.append(hostRow({ port: 22 }, remove)) },
        t("sites.addHost"),
      ),
    ),
    h("div", { class: "form-actions" }, save, h("a", { class: "button", href: "#/sites" }, t("common.cancel"))),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(save, status, async () => {
      let spec;
      try {
        spec = {
          name: name.value.trim(),
          vars: textToVars(vars.value, t("sites.vars")),
          hosts: [...tbody.querySelectorAll(".host-row")].map(readHost),
          timezone: zone.value,
        };
      } catch (err) {
        status.replaceChildren(errorBox(err));
        return;
      }
      const saved = ref
        ? await put(`/api/sites/${site.id}`, spec, { signal })
        : await post("/api/sites", spec, { signal });
      notice(status, t("sites.saved", { name: saved.name }));
      if (!ref) location.hash = `#/sites/${saved.id}?saved=1`;
    });
  });
  root.append(
    h("h2", {}, ref ? t("sites.editNamed", { name: site.name }) : t("sites.new")),
    status,
    form,
  );
  if (ref && query.get("saved")) notice(status, t("sites.saved", { name: site.name }));
  if (ref) {
    root.append(
      h("h3", {}, t("sites.installed")),
      installedTable(site.installed),
      h(
        "p",
        {},
        h("a", { class: "button", href: `#/runs/new?site=${encodeURIComponent(site.name)}` }, t("nav.newRun")),
        " ",
        h("a", { class: "button", href: `#/history?site=${encodeURIComponent(site.name)}` }, t("nav.history")),
        " ",
        h("a", { class: "button", href: `#/sites/${site.id}/logs`, id: "site-logs" }, t("logs.open")),
        " ",
        h("a", { class: "button", href: `/api/sites/${site.id}/support-bundle`, download: "", id: "site-support" }, t("support.download")),
      ),
      configPanel(site, bundles),
      credentialsPanel(site, { signal }),
      checkPanel(site, { signal }),
      exportPanel(site, { signal }),
      deletePanel(site, { signal }),
    );
  }
}

function installedTable(installed) {
  const entries = Object.entries(installed || {});
  if (!entries.length) return h("p", { class: "muted", id: "installed-table" }, t("sites.nothingInstalled"));
  return table(
    [t("common.component"), t("common.version"), t("common.bundle"), t("common.run"), t("common.updated")],
    entries.map(([component, info]) =>
      h(
        "tr",
        {},
        h("td", {}, component),
        h("td", {}, info.version),
        h("td", {}, `${info.bundle} ${info.bundle_version}`),
        h("td", {}, info.run ? h("a", { href: `#/runs/${info.run}` }, `#${info.run}`) : "—"),
        h("td", {}, fmtTime(info.updated_at)),
      ),
    ),
    { class: "grid", id: "installed-table" },
  );
}
